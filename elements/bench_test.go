package elements_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/gstvideo"
	"github.com/gst-react/gst-react/internal/launch"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/onnx"
	"github.com/gst-react/gst-react/internal/pipetest"
	"github.com/gst-react/gst-react/internal/testassets"
)

// frozenFrame is one real 1080p MOT17 frame repeated n times by imagefreeze
// (no decode cost per frame), in the given raw format.
func frozenFrame(t testing.TB, format string, n int) string {
	img := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1", "000001.jpg")
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
	testassets.InitORT(t)
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
			model := testassets.Model(b, tc.model)
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

// steadyMallocs runs desc (which must end in a fakesink named sink) and
// returns the Go heap allocations per frame between its from-th and to-th
// frame: start-up and tear-down, which allocate a few hundred objects and
// vary from run to run, stay outside the window. Frames are counted by a
// probe in C, so the count itself allocates nothing.
func steadyMallocs(t *testing.T, desc string, from, to int) float64 {
	t.Helper()
	var count gstvideo.BufferCounter
	type sample struct {
		mallocs uint64
		frames  int
		at      time.Time
	}
	got := make(chan [2]sample, 1)
	// The process allocates a little on its own while idle (nats-server's
	// process-stats goroutine reads /proc once a second): measure that rate
	// and take it off.
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	idleFrom, idleStart := ms.Mallocs, time.Now()
	time.Sleep(2 * time.Second)
	runtime.ReadMemStats(&ms)
	idleRate := float64(ms.Mallocs-idleFrom) / time.Since(idleStart).Seconds()
	go func() {
		var s [2]sample
		var ms runtime.MemStats
		for i, at := range []int{from, to} {
			for count.Load() < at {
				time.Sleep(2 * time.Millisecond)
			}
			runtime.ReadMemStats(&ms)
			s[i] = sample{ms.Mallocs, count.Load(), time.Now()}
		}
		got <- s
	}()
	res, err := pipetest.Run(desc, 5*time.Minute, pipetest.Probe{Element: "sink", Pad: "sink", Counter: &count})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	select {
	case s := <-got:
		background := idleRate * s[1].at.Sub(s[0].at).Seconds()
		return (float64(s[1].mallocs-s[0].mallocs) - background) / float64(s[1].frames-s[0].frames)
	case <-time.After(time.Second):
		t.Fatalf("the run ended before frame %d (%d frames counted)", to, count.Load())
	}
	return 0
}

// Steady-state Go allocations per frame of each element, measured inside a
// running pipeline. The per-frame path allocates nothing; what remains is
// reactdetect's stats message every 100 frames (about 15 allocations, so
// 0.15 per frame) and noise in the background rate.
func TestSteadyStateAllocsPerFrame(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	// Last, reactcloud against a NATS server with no worker: it does all its
	// streaming-thread work (ring, thumbnail, fusion) and offloads every 30th
	// frame; the request's allocations (JPEG encoder, NATS client and the
	// embedded server's no-responders reply, in other goroutines) are charged
	// to the frames, hence its looser limit. The server starts only for it,
	// as it allocates in the background.
	var srv *natsserver.Server
	defer func() {
		if srv != nil {
			srv.Shutdown()
		}
	}()
	cloud := func(chain string) string {
		if srv == nil {
			var err error
			if srv, err = natsserver.Start(natsserver.Options{NoLog: true}); err != nil {
				t.Fatal(err)
			}
		}
		return strings.ReplaceAll(chain, "SERVER", srv.ClientURL())
	}
	for _, tc := range []struct {
		el    string
		limit float64
	}{
		{"reactdetect interval=1", 0.3},
		{"reactdetect interval=1 ! reacttrack", 0.3},
		{"reactdetect interval=1 ! reactoverlay", 0.3},
		{"reactdetect interval=1 ! reactcloud server=SERVER", 3},
		// The adaptive policy on top: its decisions and the upstream
		// events to reactdetect (C allocations, not Go's).
		{"reactdetect interval=1 ! reacttrack ! reactcloud server=SERVER policy=adaptive max-edge-fps=10", 3},
	} {
		if strings.Contains(tc.el, "SERVER") {
			tc.el = cloud(tc.el)
		}
		el := tc.el
		desc := frozenFrame(t, "I420", 260) + " ! videoscale ! video/x-raw,width=640,height=360 ! " + el + " ! fakesink name=sink sync=false"
		per := steadyMallocs(t, desc, 80, 250)
		t.Logf("%s: %.2f Go allocations per frame over frames 80..250", el, per)
		if per > tc.limit {
			t.Fatalf("%s allocates %.2f times per frame in steady state", el, per)
		}
	}
}
