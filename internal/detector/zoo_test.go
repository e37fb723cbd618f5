package detector_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/detector"
	"github.com/gst-react/gst-react/internal/mot"
	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/yolo"
)

// Every zoo model, through the real detector on a real MOT17-04 frame, finds
// people where the labels put them, with the format, preprocessing and
// threshold its manifest entry and outputs give, and without allocating.
// minRecall is about 0.6 of what each model reaches, so a wrong centre
// convention, channel order or normalisation (each costs most boxes) fails.
func TestZooModelsFindPeople(t *testing.T) {
	f := loadFrame(t, "000001.jpg")
	gt, err := mot.LoadGT(filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini"))
	if err != nil {
		t.Fatal(err)
	}
	testassets.InitORT(t)
	cases := []struct {
		model     string
		layout    yolo.Layout
		minRecall float64
	}{
		{"picodet_s_416", yolo.LayoutPicoDet, 0.2},
		{"picodet_s_736x1280", yolo.LayoutPicoDet, 0.4},
		{"picodet_s_1088x1920", yolo.LayoutPicoDet, 0.4},
		{"nanodet_416", yolo.LayoutNanoDet, 0.2},
		{"nanodet_416_int8", yolo.LayoutNanoDet, 0.2},
		{"yolov8n_640_int8", yolo.LayoutYOLOv8, 0.25},
		{"yolov5n_640_fp16", yolo.LayoutYOLOv5, 0.25},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			start := time.Now()
			d, err := detector.New(detector.Config{ModelPath: testassets.ZooModel(t, c.model), NMSThreshold: 0.45})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Layout() != c.layout || d.Model == nil || d.ScoreThreshold() != d.Model.Threshold {
				t.Fatalf("layout %s, manifest entry %v, threshold %v: want %s and the manifest's threshold", d.Layout(), d.Model, d.ScoreThreshold(), c.layout)
			}
			dets, err := d.Detect(&f)
			if err != nil {
				t.Fatal(err)
			}
			var people []detection.Detection
			for _, x := range dets {
				if x.Class == 0 {
					people = append(people, x)
				}
			}
			matched, total := mot.Matches(people, gt.Frames[1], 0.5)
			recall := float64(matched) / float64(total)
			precision := float64(matched) / float64(max(len(people), 1))
			t.Logf("%s: %d people, %d of %d labelled found at IoU 0.5 (recall %.2f, precision %.2f), open+detect %s",
				d.Describe(), len(people), matched, total, recall, precision, time.Since(start).Round(time.Millisecond))
			if recall < c.minRecall || precision < 0.5 {
				t.Errorf("recall %.2f (want >= %.2f), precision %.2f (want >= 0.5)", recall, c.minRecall, precision)
			}
			// The large inputs decode with the same code as picodet_s_416;
			// at seconds a frame here they are left out of the count.
			if w, h := d.InputSize(); w*h > 640*640 {
				return
			}
			if a := testing.AllocsPerRun(1, func() { d.Detect(&f) }); a != 0 {
				t.Errorf("Detect allocates %v times per frame", a)
			}
		})
	}
}
