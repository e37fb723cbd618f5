package eval_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/eval"
)

func TestParseLatencyTrace(t *testing.T) {
	tr, err := eval.ParseLatencyTrace(strings.NewReader(eval.RTTLogHeader + "\n# comment\n0,120.5,stream0\n\n30,300,stream0\n60,90\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{120500 * time.Microsecond, 300 * time.Millisecond, 90 * time.Millisecond}
	if !reflect.DeepEqual(tr.RTTs, want) {
		t.Fatalf("RTTs %v, want %v", tr.RTTs, want)
	}
	if tr.Mean() != 170166666*time.Nanosecond {
		t.Fatalf("mean %v", tr.Mean())
	}
	// 30 fps: 121 ms is 4 frames, 300 ms 9, 90 ms 3; request 3 cycles to the first.
	d := tr.Delays(30)
	if got := []int{d(0), d(1), d(2), d(3), d(7)}; !reflect.DeepEqual(got, []int{4, 9, 3, 4, 9}) {
		t.Fatalf("delays %v", got)
	}
	for _, c := range []struct{ in, line string }{
		{"frame,rtt_ms\n0,100\n30\n", "line 3"},
		{"0,100\nx,100\n", "line 2"},
		{"0,abc\n", "line 1"},
		{"0,-5\n", "line 1"},
		{"frame,rtt_ms,stream\n", "no round trips"},
	} {
		_, err := eval.ParseLatencyTrace(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.line) {
			t.Errorf("%q: error %v, want one naming %q", c.in, err, c.line)
		}
	}
}

// A trace whose round trips are all equal replays exactly as that constant
// latency does; a varying one changes the schedule.
func TestCloudStreamTraceMatchesConstant(t *testing.T) {
	const n = 130
	p := synthetic(t, n)
	order := identity(n)
	for _, inflight := range []int{0, 2} {
		cfg := eval.DefaultCloudConfig()
		cfg.MaxInflight = inflight
		lat := 300 * time.Millisecond
		want, err := eval.CloudStream(context.Background(), p, order, nil, 10, eval.DelayFrames(lat, p.Seq.FPS), cfg)
		if err != nil {
			t.Fatal(err)
		}
		tr := &eval.LatencyTrace{RTTs: []time.Duration{lat, lat, lat}}
		got, err := eval.CloudStreamDelays(context.Background(), p, order, nil, 10, tr.Delays(p.Seq.FPS), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("inflight %d: the trace's replay differs from the constant latency's", inflight)
		}
	}
	// Request 1 (frame 10) takes 30 frames and is overtaken by requests 2
	// and 3 (frames 20 and 30, 3 frames each): arriving on frame 40, its
	// reply is dropped as the engine drops it, and frame 30's stays.
	cfg := eval.DefaultCloudConfig()
	cfg.MaxInflight = 0
	delays := []int{3, 30, 3}
	cs, err := eval.CloudStreamDelays(context.Background(), p, order, nil, 10, func(k int) int { return delays[k%3] }, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Origin[23] != 20 || cs.Origin[40] != 30 || cs.Dropped == 0 {
		t.Fatalf("origins at 23 and 40: %d, %d (want 20, 30); dropped %d", cs.Origin[23], cs.Origin[40], cs.Dropped)
	}
}
