package offload

import (
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/policy"
	"github.com/gst-react/gst-react/internal/wire"
)

// slowingWorker answers one request at a time (a NATS subscription delivers
// in order): frames before slowFrom after 20 ms, later ones after slow.
// Requests sent faster than that queue behind each other, as on an
// overloaded worker. The latency is tied to the request's frame, so which
// requests are slow does not depend on the machine's speed.
func slowingWorker(t *testing.T, url string, c *clip, slowFrom uint64, slow time.Duration) {
	startWorker(t, url, func(req *wire.Request) []byte {
		if req.Frame >= slowFrom {
			time.Sleep(slow)
		} else {
			time.Sleep(20 * time.Millisecond)
		}
		return okReply(t, req, c.truth(req.Frame))
	})
}

// runSlowingCloud plays 50 frames at about 25 fps with a fast worker that
// takes 70% of the request timeout from frame 50 on, slow more frames, and
// waits for the last replies. The worker's latency against the timeout
// leaves 0.6 s for a busy machine's jitter.
func runSlowingCloud(t *testing.T, mod func(*Config), slow uint64) (Stats, int) {
	c := loadClip(t)
	s := startNATS(t)
	const timeout = 2 * time.Second
	slowingWorker(t, s.ClientURL(), c, 50, timeout*7/10)
	e := newEngine(t, s.ClientURL(), func(cfg *Config) {
		cfg.Interval, cfg.MaxInflight, cfg.Timeout = 5, 2, timeout
		// Small JPEGs: encoding on a busy core must not space the requests
		// out (the worker's latency is the point).
		cfg.JPEGMaxWidth = 320
		if mod != nil {
			mod(cfg)
		}
	})
	if err := e.SetFrameRate(25); err != nil {
		t.Fatal(err)
	}
	maxInflight := 0
	period := 40 * time.Millisecond
	next := time.Now()
	for f := range 50 + slow {
		e.Process(&c.frames[c.index(f)], f, int64(f)*int64(period), nil, nil)
		maxInflight = max(maxInflight, e.Stats().Inflight)
		next = next.Add(period)
		time.Sleep(time.Until(next))
	}
	// Every request ends in a reply or a timeout; 30 s bounds a hang.
	if !waitUntil(30*time.Second, func() bool { return e.Stats().Inflight == 0 }) {
		t.Fatalf("requests still in flight: %+v", e.Stats())
	}
	return e.Stats(), maxInflight
}

// TestAdaptivePolicyBacksOffASlowingCloud is the live check of issue 15: a
// worker whose latency rises mid-run to 1.4 s (timeout 2 s) makes fixed m=5
// time out again and again, each second request waiting behind the first;
// the adaptive policy at the same rate (max-cloud-rps 5) sees a request
// stall and the round trip grow and sends one at a time. At most the
// request already on its way when the worker slowed can time out.
func TestAdaptivePolicyBacksOffASlowingCloud(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 10 s of frames")
	}
	fixed, _ := runSlowingCloud(t, nil, 60)
	if fixed.Timeouts < 2 {
		// Only a machine too slow to play 25 fps spaces fixed requests
		// enough; the adaptive run below is the test.
		t.Logf("fixed m=5 had %d timeouts (frames too slow to overload the worker): %+v", fixed.Timeouts, fixed)
	}
	adaptive, maxInflight := runSlowingCloud(t, func(cfg *Config) {
		cfg.Policy = policy.Config{Mode: policy.Adaptive, Budgets: policy.Budgets{CloudRPS: 5}}
	}, 75)
	t.Logf("fixed m=5: %d requests, %d replies, %d timeouts; adaptive: %d requests, %d replies, %d timeouts, at most %d in flight",
		fixed.Offloaded, fixed.RepliesOK, fixed.Timeouts, adaptive.Offloaded, adaptive.RepliesOK, adaptive.Timeouts, maxInflight)
	if adaptive.Timeouts > 1 || (fixed.Timeouts >= 2 && adaptive.Timeouts >= fixed.Timeouts) {
		t.Errorf("adaptive: %d requests timed out (fixed %d): want at most the one on its way when the worker slowed", adaptive.Timeouts, fixed.Timeouts)
	}
	if adaptive.RepliesOK < 4 || adaptive.SkippedFull != 0 {
		t.Errorf("adaptive: %d replies, %d skipped while full: want the fast phase served and nothing skipped (the policy holds instead)", adaptive.RepliesOK, adaptive.SkippedFull)
	}
	if maxInflight > 2 {
		t.Errorf("%d requests in flight, limit 2", maxInflight)
	}
}
