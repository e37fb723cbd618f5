package eval_test

import (
	"context"
	"image"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/policy"
	"github.com/gst-react/gst-react/internal/tracker"
)

// TestPolicyReplayFixedIsTheSweep: the joint replay under the fixed policy
// reproduces EdgeStream and CloudStream frame for frame, so adaptive rows
// compare with fixed rows on the same machinery.
func TestPolicyReplayFixedIsTheSweep(t *testing.T) {
	const n = 60
	p := synthetic(t, n)
	order := eval.PingPong(n, 90) // repeats frames, as --loop does
	cfg := eval.DefaultCloudConfig()
	bytes := map[int]int{}
	for s := range n {
		bytes[s] = 1000 + s
	}
	for _, c := range []struct{ k, m, delay int }{{1, 1, 0}, {5, 7, 3}, {3, 30, 12}, {7, 4, 9}} {
		pol, err := policy.New(policy.Config{Mode: policy.Fixed, K: c.k, M: c.m, FPS: p.Seq.FPS})
		if err != nil {
			t.Fatal(err)
		}
		run, err := eval.PolicyReplay(context.Background(), p, order, c.delay, tracker.DefaultConfig(), cfg, pol, bytes)
		if err != nil {
			t.Fatal(err)
		}
		edge, err := eval.EdgeStream(context.Background(), p, order, c.k, tracker.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		cloud, err := eval.CloudStream(context.Background(), p, order, nil, c.m, c.delay, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(run.Local, edge) {
			t.Errorf("k=%d: the edge path differs from EdgeStream", c.k)
		}
		if !reflect.DeepEqual(run.Cloud, cloud) {
			t.Errorf("m=%d delay=%d: the cloud path differs from CloudStream: sent %v, want %v", c.m, c.delay, run.Cloud.SentFrames, cloud.SentFrames)
		}
		if want := eval.EdgeRuns(len(order), c.k); run.EdgeRuns() != want || want != (len(order)+c.k-1)/c.k {
			t.Errorf("k=%d: %d edge runs, want %d", c.k, run.EdgeRuns(), want)
		}
	}
}

// TestSweepAdaptiveSpendsWithinBudgets: the adaptive rows report what they
// spent, measured as fixed rows are, within the budgets.
func TestSweepAdaptiveSpendsWithinBudgets(t *testing.T) {
	frames := 120
	var imgs = make([]*image.RGBA, frames)
	for i := range imgs {
		imgs[i] = synthFrame(320, 192, uint8(60+i/40*60)) // two cuts
	}
	seq := writeSequence(t, t.TempDir(), 20, imgs)
	car := box(40, 40, 120, 100, 2, 0.9)
	p, err := eval.Prepare(context.Background(), seq, fakeModel(t, "edge", car), fakeModel(t, "cloud", car), eval.PrepareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g := eval.Grid{K: []int{5}, M: []int{30}, Latencies: []time.Duration{0, 300 * time.Millisecond}, Fusion: []eval.FusionParams{eval.DefaultFusionParams()}}
	o := eval.DefaultOptions()
	o.Reference = eval.DefaultReference(seq, []int{2})
	a := eval.AdaptiveOptions{Budgets: policy.Budgets{UplinkKbps: 40, EdgeFPS: 4, Window: 2 * time.Second}, MaxInterval: 10}
	rs, err := eval.SweepAdaptive(context.Background(), p, eval.PingPong(frames, 0), g, o, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d rows, want one per latency", len(rs))
	}
	for _, r := range rs {
		if r.Policy != eval.PolicyAdaptive || r.EdgeDetectPerS > 4 || r.UplinkKbps > 40 || r.CloudRequestsPerS == 0 {
			t.Errorf("row %+v: want policy adaptive within 4 edge runs/s and 40 kbit/s, some requests", r)
		}
		if r.EffectiveK < 5 || r.K != int(r.EffectiveK+0.5) || r.DetectReasons["interval"] == 0 || r.OffloadReasons == nil {
			t.Errorf("effective k %v (k %d), reasons %v %v", r.EffectiveK, r.K, r.DetectReasons, r.OffloadReasons)
		}
	}
}

func TestCompareAdaptive(t *testing.T) {
	row := func(policy string, k int, edge, uplink, fused float64) eval.Result {
		return eval.Result{Sequence: "s", Reference: "gt", Policy: policy, K: k, LatencyMS: 300,
			Cost: eval.Cost{EdgeDetectPerS: edge, UplinkKbps: uplink}, Fused: eval.Score{MAP50: fused}}
	}
	rs := []eval.Result{
		row(eval.PolicyFixed, 5, 5, 280, 0.80),    // spends less: compared
		row(eval.PolicyFixed, 10, 2.5, 280, 0.78), // compared, worse
		row(eval.PolicyFixed, 3, 8.3, 280, 0.81),  // more edge runs: not compared
		row(eval.PolicyFixed, 5, 5, 470, 0.83),    // more uplink: not compared
		row(eval.PolicyAdaptive, 3, 7.9, 286, 0.815),
	}
	cs := eval.CompareAdaptive(rs, 300, 8)
	if len(cs) != 1 || cs[0].Dominated != 2 || cs[0].Best.K != 5 || !cs[0].Within {
		t.Fatalf("comparisons %+v", cs)
	}
	if g := cs[0].Gain(); g < 0.0149 || g > 0.0151 {
		t.Fatalf("gain %v, want 0.015", g)
	}
	var b strings.Builder
	if err := eval.WriteComparisons(&b, cs); err != nil || !strings.Contains(b.String(), "k=5 m=0 fused 80.0 (+1.5 points)") {
		t.Fatalf("%q %v", b.String(), err)
	}
	if cs := eval.CompareAdaptive(rs, 250, 8); cs[0].Within {
		t.Fatal("286 kbit/s is over a 250 kbit/s budget")
	}
}
