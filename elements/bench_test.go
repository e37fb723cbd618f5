package elements_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/launch"
	"github.com/gst-react/gst-react/internal/onnx"
	"github.com/gst-react/gst-react/internal/pipetest"
)

// frozenFrame is one real 1080p MOT17 frame repeated n times by imagefreeze
// (no decode cost per frame), in the given raw format.
func frozenFrame(t testing.TB, format string, n int) string {
	img := filepath.Join(pipetest.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1", "000001.jpg")
	return fmt.Sprintf("filesrc location=%s ! jpegdec ! videoconvert ! video/x-raw,format=%s ! imagefreeze num-buffers=%d",
		launch.Quote(img), format, n)
}

// elementFrameTime runs desc and returns the mean interval between buffers
// reaching the sink, which excludes start-up (model load) from the figure.
func elementFrameTime(t testing.TB, desc string) time.Duration {
	t.Helper()
	res, err := pipetest.Run(desc, 5*time.Minute, pipetest.Probe{Element: "sink", Pad: "sink"})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	times := res.Frames["sink.sink"]
	if len(times) < 3 {
		t.Fatalf("only %d frames", len(times))
	}
	first, last := times[1].Seen, times[len(times)-1].Seen
	return last.Sub(first) / time.Duration(len(times)-2)
}

func rawRunTime(t testing.TB, model string, n int) time.Duration {
	t.Helper()
	pipetest.InitORT(t)
	s, err := onnx.Open(model, onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Run() // warm-up
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
	}
	return time.Since(start) / time.Duration(n)
}

// BenchmarkDetectVsRawORT measures, in one run, reactdetect at interval=1 on
// a 1080p frame against a bare session.Run loop of the same model, and
// reports the throughput ratio (target >= 0.95). Rounds alternate the two so
// machine noise hits both alike; the medians are reported.
func BenchmarkDetectVsRawORT(b *testing.B) {
	for _, tc := range []struct{ model, format string }{
		{"yolox_nano_416x416", "I420"},
		{"yolox_nano_416x416", "BGRx"},
	} {
		b.Run(tc.model+"/"+tc.format, func(b *testing.B) {
			model := pipetest.Model(b, tc.model)
			const frames = 30
			desc := frozenFrame(b, tc.format, frames) + " ! reactdetect interval=1 model-file=" + launch.Quote(model) + " ! fakesink name=sink sync=false"
			var raws, elems []float64
			for i := 0; i < max(b.N, 3); i++ {
				raws = append(raws, float64(rawRunTime(b, model, frames)))
				elems = append(elems, float64(elementFrameTime(b, desc)))
			}
			raw, el := median(raws), median(elems)
			b.ReportMetric(raw/1e6, "raw-ms/frame")
			b.ReportMetric(el/1e6, "element-ms/frame")
			b.ReportMetric(raw/el, "throughput-ratio")
		})
	}
}

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

// mallocs is the number of Go heap allocations made while desc ran.
func mallocs(t *testing.T, desc string) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := pipetest.Run(desc, 5*time.Minute)
	runtime.ReadMemStats(&after)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	return after.Mallocs - before.Mallocs
}

// Steady-state Go allocations per frame of each element: the difference
// between a 2N-frame and an N-frame run cancels start-up and tear-down.
func TestSteadyStateAllocsPerFrame(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	// Each run also allocates a few hundred objects to start and stop (model
	// load, state changes, bus messages), varying by a few dozen from run to
	// run; the least of two runs of each length and long runs keep that out
	// of the per-frame figure.
	const n = 100
	for _, el := range []string{"reactdetect interval=1", "reactdetect interval=1 ! reactoverlay"} {
		run := func(frames int) uint64 {
			desc := frozenFrame(t, "I420", frames) + " ! videoscale ! video/x-raw,width=640,height=360 ! " + el + " ! fakesink sync=false"
			return min(mallocs(t, desc), mallocs(t, desc))
		}
		run(5) // warm caches (registry, types) once
		a1, a2 := run(n), run(2*n)
		per := (float64(a2) - float64(a1)) / n
		t.Logf("%s: %.2f Go allocations per frame (%d for %d frames, %d for %d)", el, per, a1, n, a2, 2*n)
		if per > 1 {
			t.Fatalf("%s allocates %.2f times per frame in steady state", el, per)
		}
	}
}
