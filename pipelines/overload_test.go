package pipelines

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/cloudworker"
	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/policy"
	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/wire"
)

// Several REACT streams overloading one worker (issue 15's live acceptance):
// four edges at 25 fps share a worker with one inference slot that holds it
// for a service time S of at least 300 ms a request (its extra latency,
// slept after the model run). At a fixed m=5 they offer 20 requests a
// second, two in flight each: eight queue, 8 S deep, beyond the request
// timeout of 6.5 S, so requests time out again and again. The adaptive
// policy at the same base rate (max-cloud-rps 5) reads the queue wait the
// worker's replies carry, keeps one request at a time in a saturated worker
// and waits out the queue between them, so at most the one request each
// edge pipelined before its first reply showed the queue may time out (the
// first four requests and that one queue 5 S deep).
//
// S is measured before the runs (the model's share of it is 40 ms on an
// idle machine and ten times that on one busy core), and the timeout (at
// least the default 2 s) and the length of the runs (at least 6 s, 16 S)
// follow from it, so the queue depths above hold at any speed. Frames are
// fed at 25 fps by the clock (the worker's time is real time), each edge
// on its own goroutine; every wait on the cloud is an event (in flight
// back to 0), bounded generously to turn a hang into a failure.

const (
	overloadStreams  = 4
	overloadFPS      = 25
	overloadLatency  = 300 * time.Millisecond
	overloadUplink   = 300 // kbit/s, each edge's uplink budget
	overloadInflight = 2
)

// overloadPlan is the timeout and run length for the worker's service time.
type overloadPlan struct {
	service, timeout time.Duration
	frames           int
}

func planOverload(service time.Duration) overloadPlan {
	timeout := max(offload.DefaultTimeout, (service * 13 / 2).Round(100*time.Millisecond))
	frames := max(6*overloadFPS, int(16*service.Seconds()*overloadFPS))
	return overloadPlan{service: service, timeout: timeout, frames: frames}
}

// serviceTime is how long a warm worker holds its slot for one request of
// ours (receipt to reply, nothing queued): the median of four requests one
// after the other, after one for a cold model, so one hiccup of a busy
// machine does not set the test's scale.
func serviceTime(t *testing.T, url string, f *frame.Frame) time.Duration {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cfg := offload.DefaultConfig()
	cfg.Timeout = time.Minute // however slow the machine
	enc := offload.NewRequestEncoder(cfg)
	var times []time.Duration
	for i := range 5 {
		msg, _, err := enc.Encode(f, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		m, err := nc.Request(wire.DefaultRequestSubject, msg, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := wire.DecodeReply(m.Data, wire.Limits{})
		if err != nil || rep.Status != wire.CodeOK {
			t.Fatalf("calibration reply: %v %v %q", err, rep.Status, rep.Message)
		}
		if i > 0 {
			times = append(times, time.Duration(rep.TotalUS)*time.Microsecond)
		}
	}
	slices.Sort(times)
	return (times[1] + times[2]) / 2
}

// overloadRun is what one stream did.
type overloadRun struct {
	stats       offload.Stats
	maxInflight int
	maxQueue    time.Duration // largest queue wait a reply carried
	maxPolicyUp float64       // largest uplink the policy accounted over a full window, kbit/s
	maxWindowUp float64       // largest uplink measured over any 4 s of frames, kbit/s
	fps         float64       // frames fed per second of wall time
	held        bool          // the policy held an offload back for the cloud's sake
}

// syntheticFrames is n 640×360 I420 frames of a gradient with a bright box
// moving across: cheap to track and to encode (only the cloud's load
// matters here).
func syntheticFrames(n int) []frame.Frame {
	const w, h = 640, 360
	out := make([]frame.Frame, n)
	for i := range out {
		f := frame.Alloc(frame.I420, w, h)
		bx := 40 + i*16
		for y := range h {
			row := f.Data[f.Offset[0]+y*f.Stride[0]:][:w]
			for x := range w {
				v := uint8((x + y) / 4)
				if x >= bx && x < bx+80 && y >= 140 && y < 260 {
					v = 235
				}
				row[x] = v
			}
		}
		for p := 1; p <= 2; p++ {
			for y := range (h + 1) / 2 {
				row := f.Data[f.Offset[p]+y*f.Stride[p]:][:(w+1)/2]
				for x := range row {
					row[x] = 128
				}
			}
		}
		out[i] = f
	}
	return out
}

func overloadEdge(t *testing.T, url, id string, plan overloadPlan, adaptive bool) *offload.Engine {
	t.Helper()
	var eng *offload.Engine
	var mu sync.Mutex
	nc, err := offload.Connect(url, id, func(up bool, reason string) {
		mu.Lock()
		defer mu.Unlock()
		if eng != nil {
			eng.SetConnected(up, reason)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	cfg := offload.DefaultConfig()
	cfg.StreamID, cfg.Interval, cfg.ChangeThreshold = id, 5, 0
	cfg.MaxInflight, cfg.Timeout = overloadInflight, plan.timeout
	if adaptive {
		cfg.Policy = policy.Config{Mode: policy.Adaptive, FPS: overloadFPS,
			Budgets: policy.Budgets{CloudRPS: overloadFPS / 5, UplinkKbps: overloadUplink}}
	}
	e, err := offload.New(cfg, nc, quietLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	mu.Lock()
	eng = e
	mu.Unlock()
	return e
}

// runOverload plays plan.frames frames on each of overloadStreams edges at
// once and waits until every request is answered or timed out and the
// worker is idle again.
func runOverload(t *testing.T, url string, w *cloudworker.Worker, frames []frame.Frame, plan overloadPlan, adaptive bool) []overloadRun {
	t.Helper()
	runs := make([]overloadRun, overloadStreams)
	engines := make([]*offload.Engine, overloadStreams)
	for i := range engines {
		engines[i] = overloadEdge(t, url, fmt.Sprintf("cam%d-%v", i, map[bool]string{false: "fixed", true: "adaptive"}[adaptive]), plan, adaptive)
	}
	period := time.Second / overloadFPS
	window := int(policy.DefaultWindow / period)
	var wg sync.WaitGroup
	for i, e := range engines {
		wg.Go(func() {
			r := &runs[i]
			sent := make([]uint64, 0, plan.frames) // bytes sent by each frame
			var dst []detection.Detection
			start := time.Now()
			for f := range plan.frames {
				// By the clock, catching up when late: every frame is fed.
				time.Sleep(time.Until(start.Add(time.Duration(f) * period)))
				dst = e.Process(&frames[f%len(frames)], uint64(f), int64(f)*int64(period), nil, dst[:0])
				s := e.Stats()
				r.maxInflight = max(r.maxInflight, s.Inflight)
				r.maxQueue = max(r.maxQueue, s.LastQueue)
				sent = append(sent, s.SentBytes)
				if ps, ok := e.PolicyStatus(); ok {
					if f >= window { // a rate over a full window (its first frames average over less)
						r.maxPolicyUp = max(r.maxPolicyUp, ps.UplinkKbps)
					}
					r.held = r.held || ps.OffloadHeld == policy.ReasonBackoff
				}
			}
			r.fps = float64(plan.frames) / time.Since(start).Seconds()
			for f := range sent {
				from := uint64(0)
				if f >= window {
					from = sent[f-window]
				}
				r.maxWindowUp = max(r.maxWindowUp, float64(sent[f]-from)*8/1000/policy.DefaultWindow.Seconds())
			}
		})
	}
	wg.Wait()
	// Each request ends in a reply or its timeout; the worker then answers
	// what it still holds, one service time each. A minute bounds a hang.
	waitUntil(t, "every request answered or timed out", func() bool {
		for _, e := range engines {
			if e.Stats().Inflight > 0 {
				return false
			}
		}
		return w.Stats().InFlight == 0
	})
	for i, e := range engines {
		runs[i].stats = e.Stats()
		e.Close()
	}
	return runs
}

func TestAdaptiveEdgesShareAnOverloadedWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 12 s of frames or more")
	}
	testStart := time.Now()
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true})
	testassets.InitORT(t)
	w, err := cloudworker.New(cloudworker.Options{NATSURL: srv.ClientURL(), ModelPath: testassets.Model(t, "yolox_nano_416x416"),
		WorkerID: "overloaded", Concurrency: 1, Threads: 1, ExtraLatency: overloadLatency, SummaryInterval: -1, Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		w.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop() })
	frames := syntheticFrames(25)
	plan := planOverload(serviceTime(t, srv.ClientURL(), &frames[0]))
	t.Logf("worker service time %s: request timeout %s, %d frames a run", plan.service.Round(time.Millisecond), plan.timeout, plan.frames)

	fixed := runOverload(t, srv.ClientURL(), w, frames, plan, false)
	adaptive := runOverload(t, srv.ClientURL(), w, frames, plan, true)

	var fixedTimeouts, adaptiveTimeouts uint64
	for i := range overloadStreams {
		f, a := fixed[i], adaptive[i]
		fixedTimeouts += f.stats.Timeouts
		adaptiveTimeouts += a.stats.Timeouts
		t.Logf("stream %d fixed m=5: %d requests, %d replies, %d timeouts, %d skipped full, %.1f fps; "+
			"adaptive: %d requests, %d replies, %d timeouts, at most %d in flight, queue wait up to %s, uplink up to %.0f kbit/s (policy %.0f), %.1f fps",
			i, f.stats.Offloaded, f.stats.RepliesOK, f.stats.Timeouts, f.stats.SkippedFull, f.fps,
			a.stats.Offloaded, a.stats.RepliesOK, a.stats.Timeouts, a.maxInflight, a.maxQueue.Round(time.Millisecond), a.maxWindowUp, a.maxPolicyUp, a.fps)
		if a.stats.Timeouts > 1 {
			t.Errorf("stream %d: %d adaptive requests timed out; want at most the one pipelined before the first reply showed the queue", i, a.stats.Timeouts)
		}
		if a.maxInflight > overloadInflight || a.stats.SkippedFull != 0 {
			t.Errorf("stream %d: %d requests in flight (limit %d), %d skipped while full: the policy holds instead", i, a.maxInflight, overloadInflight, a.stats.SkippedFull)
		}
		if a.maxPolicyUp > overloadUplink || a.maxWindowUp > overloadUplink {
			t.Errorf("stream %d: uplink %.0f kbit/s over 4 s (policy's account %.0f), budget %d", i, a.maxWindowUp, a.maxPolicyUp, overloadUplink)
		}
		if a.stats.RepliesOK < 2 || a.maxQueue <= 0 || !a.held {
			t.Errorf("stream %d: %d replies, queue wait up to %s, held for the cloud %v: want the worker shared, its queue wait reported and the policy backing off",
				i, a.stats.RepliesOK, a.maxQueue, a.held)
		}
		// Process never waits for the cloud: the frames go at the same
		// rate whatever the policy (10% for a busy machine's jitter).
		if a.fps < 0.9*f.fps {
			t.Errorf("stream %d: %.1f fps adaptive, %.1f fps fixed: the policy slowed the frames", i, a.fps, f.fps)
		}
	}
	// Eight requests queue 8 S deep against a timeout of 6.5 S: the
	// overload this test is about.
	if fixedTimeouts < overloadStreams {
		t.Errorf("fixed m=5: %d timeouts in all; the worker was not overloaded", fixedTimeouts)
	}
	if adaptiveTimeouts*4 > fixedTimeouts {
		t.Errorf("adaptive %d timeouts, fixed %d", adaptiveTimeouts, fixedTimeouts)
	}
	ws := w.Stats()
	t.Logf("worker: %d requests, inference mean %s (max bucket %s), decode mean %s, queue wait mean %s, receipt to reply mean %s; test took %.1f s",
		ws.Requests, ws.Inference.Mean().Round(time.Millisecond), ws.Inference.Quantile(1).Round(time.Millisecond), ws.Decode.Mean().Round(time.Millisecond),
		ws.QueueWait.Mean().Round(time.Millisecond), ws.Latency.Mean().Round(time.Millisecond), time.Since(testStart).Seconds())
}
