package detector_test

import (
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/detector"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/testassets"
)

// loadFrame decodes a shared MOT17 JPEG into a BGRx frame.
func loadFrame(t testing.TB, name string) frame.Frame {
	t.Helper()
	path := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1", name)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	img, err := jpeg.Decode(fh)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	f := frame.Alloc(frame.BGRx, b.Dx(), b.Dy())
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			o := y*f.Stride[0] + 4*x
			f.Data[o], f.Data[o+1], f.Data[o+2], f.Data[o+3] = byte(bl>>8), byte(g>>8), byte(r>>8), 255
		}
	}
	return f
}

func newDetector(t testing.TB, model string) *detector.Detector {
	t.Helper()
	testassets.InitORT(t)
	d, err := detector.New(detector.Config{ModelPath: testassets.Model(t, model), ScoreThreshold: 0.3, NMSThreshold: 0.45})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDetectZeroAllocs(t *testing.T) {
	f := loadFrame(t, "000001.jpg")
	d := newDetector(t, "yolox_nano_416x416")
	defer d.Close()
	d.Detect(&f)
	// 20 runs: AllocsPerRun divides the process's allocations by the runs, so
	// a stray one from the runtime on a loaded machine does not count as the
	// frame's (an allocation in Detect itself still shows as ≥ 1).
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := d.Detect(&f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Detect allocates %.1f times per frame", allocs)
	}
}

// BenchmarkDetectStages splits one Detect call on a 1080p frame into its
// stages and compares the whole with a bare session.Run on the same model.
func BenchmarkDetectStages(b *testing.B) {
	for _, model := range []string{"yolox_nano_416x416", "yolox_nano_736x1280"} {
		b.Run(model, func(b *testing.B) {
			f := loadFrame(b, "000001.jpg")
			d := newDetector(b, model)
			defer d.Close()
			d.Detect(&f)
			var pre, inf, dec, raw time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := d.Detect(&f); err != nil {
					b.Fatal(err)
				}
				pre += d.Last.Preprocess
				inf += d.Last.Inference
				dec += d.Last.Decode
				t0 := time.Now()
				d.Session().Run()
				raw += time.Since(t0)
			}
			n := float64(b.N)
			b.ReportMetric(float64(pre.Microseconds())/1000/n, "preprocess-ms")
			b.ReportMetric(float64(inf.Microseconds())/1000/n, "inference-ms")
			b.ReportMetric(float64(dec.Microseconds())/1000/n, "decode-ms")
			b.ReportMetric(float64(raw.Microseconds())/1000/n, "bare-run-ms")
			b.ReportMetric(float64(raw)/float64(pre+inf+dec), "detect-vs-bare-ratio")
		})
	}
}
