package eval_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/detector"
	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/testassets"
)

// Detector thresholds of reactdetect and the cloud worker.
const (
	testScore = 0.3
	testNMS   = 0.45
)

// realModels returns the edge and cloud models of the manifest, counting how
// often each detector is opened.
func realModels(t testing.TB, opened *[2]int) (edge, cloud *eval.Model) {
	t.Helper()
	mk := func(i int, role, name string) *eval.Model {
		path := testassets.Model(t, name)
		return &eval.Model{Role: role, Path: path, ScoreThreshold: testScore, NMSThreshold: testNMS,
			Open: func() (eval.FrameDetector, error) {
				opened[i]++
				testassets.InitORT(t)
				return detector.New(detector.Config{ModelPath: path, ScoreThreshold: testScore, NMSThreshold: testNMS})
			}}
	}
	return mk(0, "edge", "yolox_nano_416x416"), mk(1, "cloud", "yolox_nano_736x1280")
}

var (
	sharedMu    sync.Mutex
	sharedCache string
	prepared    = map[string]*eval.Prepared{}
)

// TestMain removes the detection cache the tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	if sharedCache != "" {
		os.RemoveAll(sharedCache)
	}
	os.Exit(code)
}

// prepare loads a shared sequence once per test binary, with a private cache.
func prepare(t *testing.T, name string) *eval.Prepared {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if p := prepared[name]; p != nil {
		return p
	}
	seq, err := eval.LoadSequence(filepath.Join(testassets.SharedAssets(t), "video", name))
	if err != nil {
		t.Fatal(err)
	}
	if sharedCache == "" {
		if sharedCache, err = os.MkdirTemp("", "gstreact-eval-test-"); err != nil {
			t.Fatal(err)
		}
	}
	var opened [2]int
	edge, cloud := realModels(t, &opened)
	p, err := eval.Prepare(context.Background(), seq, edge, cloud, eval.PrepareOptions{Cache: &eval.Cache{Dir: sharedCache}})
	if err != nil {
		t.Fatal(err)
	}
	prepared[name] = p
	return p
}

// TestDeterminism runs the same sweep twice, the first time with an empty
// detection cache (detectors run) and one job, the second from the cache
// (no detector loaded) with two jobs: the JSON must be byte-identical.
func TestDeterminism(t *testing.T) {
	dir := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-02-FRCNN-mini")
	cacheDir := t.TempDir()
	grid := eval.Grid{K: []int{1, 5}, M: []int{10, 30}, Latencies: []time.Duration{0, 300 * time.Millisecond},
		Fusion: []eval.FusionParams{eval.DefaultFusionParams(), {IoUThreshold: 0.6, Decay: 1, MinScore: 0.2}}}
	run := func(jobs int, opened *[2]int) []byte {
		seq, err := eval.LoadSequence(dir)
		if err != nil {
			t.Fatal(err)
		}
		edge, cloud := realModels(t, opened)
		p, err := eval.Prepare(context.Background(), seq, edge, cloud, eval.PrepareOptions{Cache: &eval.Cache{Dir: cacheDir}, Jobs: jobs})
		if err != nil {
			t.Fatal(err)
		}
		o := eval.DefaultOptions()
		o.Jobs = jobs
		rs, err := eval.Sweep(context.Background(), p, eval.PingPong(len(seq.Frames), 60), grid, o)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := eval.WriteJSON(&b, rs); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	var first, second [2]int
	a := run(1, &first)
	b := run(2, &second)
	if first != [2]int{1, 1} || second != [2]int{0, 0} {
		t.Fatalf("detectors opened %v on the first run and %v on the cached one, want [1 1] and [0 0]", first, second)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("two runs differ:\n%s\n---\n%s", a, b)
	}
	checkJSONSchema(t, a, grid.Points())
}

// TestFusedBeatsBoth is the REACT claim with the shipped defaults on real
// video played once: OxfordTownCentre (250 frames of a 1080p street, people
// walking) at k=5, m=10 and latency 0, 300 ms and 1 s: fused output is more
// accurate than either edge-only or cloud-only. Measured: fused ahead of the
// better mode by 2.0, 7.4 and 3.3 points. The paper's starting values (decay
// 0.85, IoU 0.5) are logged beside them. Ping-pong replays of the 8-frame
// MOT17 clips are no evidence here: their people never leave, which flatters
// keeping stale cloud boxes (it is how decay 0.99 was once chosen).
func TestFusedBeatsBoth(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: runs both detectors on 250 1080p frames")
	}
	p := prepare(t, "OxfordTownCentre")
	paper := eval.FusionParams{IoUThreshold: 0.5, Decay: 0.85, MinScore: 0.2}
	grid := eval.Grid{K: []int{5}, M: []int{10}, Latencies: []time.Duration{0, 300 * time.Millisecond, time.Second},
		Fusion: []eval.FusionParams{eval.DefaultFusionParams(), paper}}
	rs, err := eval.Sweep(context.Background(), p, eval.PingPong(len(p.Seq.Frames), 0), grid, eval.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		t.Logf("latency %4gms %s: edge-only %.3f, cloud-only %.3f, fused %.3f (mAP@0.5); %.3f %.3f %.3f (mAP@[.5:.95])",
			r.LatencyMS, r.FusionParams, r.EdgeOnly.MAP50, r.CloudOnly.MAP50, r.Fused.MAP50, r.EdgeOnly.MAP5095, r.CloudOnly.MAP5095, r.Fused.MAP5095)
		if r.Playback != eval.PlayedOnce || r.Frames != 250 {
			t.Fatalf("played %s over %d frames, want once over 250", r.Playback, r.Frames)
		}
		if r.FusionParams != eval.DefaultFusionParams() {
			continue
		}
		if !(r.Fused.MAP50 > r.EdgeOnly.MAP50 && r.Fused.MAP50 > r.CloudOnly.MAP50) {
			t.Errorf("latency %gms, defaults %s: fused mAP@0.5 %.3f does not beat edge-only %.3f and cloud-only %.3f",
				r.LatencyMS, r.FusionParams, r.Fused.MAP50, r.EdgeOnly.MAP50, r.CloudOnly.MAP50)
		}
	}
	// Sanity: the cloud model (736x1280) finds more of these small
	// pedestrians than the edge model (416x416) when it answers at once.
	if r := rs[0]; !(r.CloudOnly.MAP50 > r.EdgeOnly.MAP50+0.03) {
		t.Fatalf("cloud-only %.3f at latency 0 is not well above edge-only %.3f", r.CloudOnly.MAP50, r.EdgeOnly.MAP50)
	}
}

// TestPlotReal draws the plot of a real sweep.
func TestPlotReal(t *testing.T) {
	p := prepare(t, "MOT17-04-FRCNN-mini")
	grid := eval.Grid{K: []int{5, 20}, M: []int{30, 60}, Latencies: []time.Duration{300 * time.Millisecond},
		Fusion: []eval.FusionParams{eval.DefaultFusionParams()}}
	rs, err := eval.Sweep(context.Background(), p, eval.PingPong(len(p.Seq.Frames), 40), grid, eval.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plot.png")
	var b bytes.Buffer
	if err := eval.WritePlot(&b, rs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, path, 1)
}
