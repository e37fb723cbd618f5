package elements_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/launch"
	"github.com/gst-react/gst-react/internal/pipetest"
	"github.com/gst-react/gst-react/internal/testassets"
)

// reactdetect runs models of other families, an fp16 and an int8 one among
// them, from their manifest names, on a real MOT17-04 frame: the bus says the
// format and preprocessing it chose, and the frame's boxes hold people.
func TestReactdetectZooModels(t *testing.T) {
	img := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1", "000001.jpg")
	for _, c := range []struct{ model, format string }{
		{"picodet_s_416", "picodet"},
		{"nanodet_416_int8", "nanodet"},
		{"yolov5n_640_fp16", "yolov5"},
	} {
		t.Run(c.model, func(t *testing.T) {
			path := testassets.ZooModel(t, c.model)
			desc := fmt.Sprintf("filesrc location=%s ! jpegdec ! videoconvert ! reactdetect name=det interval=1 threshold=0 model-file=%s ! fakesink name=sink",
				launch.Quote(img), launch.Quote(path))
			res, err := pipetest.Run(desc, time.Minute, pipetest.Probe{Element: "sink", Pad: "sink"})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) > 0 {
				t.Fatal(res.ErrorText())
			}
			var format, pre any
			for _, m := range res.Messages {
				if m.Name == "reactdetect-model" {
					format, pre = m.Fields()["format"], m.Fields()["preprocess"]
				}
			}
			frames := res.Frames["sink.sink"]
			if format != c.format || len(frames) != 1 {
				t.Fatalf("format %v (want %s), %d frames", format, c.format, len(frames))
			}
			people := 0
			for _, l := range frames[0].Labels {
				if l == "person" {
					people++
				}
			}
			t.Logf("%s: format %v, preprocessing %v, %d people of %d boxes", c.model, format, pre, people, len(frames[0].Dets))
			if people < 10 { // 42 labelled; each model finds about 20
				t.Errorf("%d people found, want at least 10", people)
			}
		})
	}
}
