package policy

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
)

// sim drives a Policy the way the replay and the element do: the edge
// detector runs on a frame when the previous decision asked for it (and on
// the first frame), an offload is sent when decided unless requests are
// full, and its bytes are reported on the next frame.
type sim struct {
	t       *testing.T
	p       *Policy
	frame   uint64
	detect  bool
	sig     Signals
	size    uint64 // bytes of each request
	detects []uint64
	offl    []uint64
	reasons map[Reason]int // why offloads were decided
	detWhy  map[Reason]int // why detections were decided
}

func newSim(t *testing.T, cfg Config, size uint64) *sim {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &sim{t: t, p: p, detect: true, size: size, reasons: map[Reason]int{}, detWhy: map[Reason]int{}}
}

// step runs one frame with boxes (the edge path's output) and returns the decision.
func (s *sim) step(boxes []detection.Detection) Decision {
	s.sig.Frame, s.sig.Boxes, s.sig.Detected = s.frame, boxes, s.detect
	if s.detect {
		s.detects = append(s.detects, s.frame)
	}
	d := s.p.Decide(&s.sig)
	if d.Offload {
		s.p.Sent()
		s.offl = append(s.offl, s.frame)
		s.sig.SentRequests++
		s.sig.SentBytes += s.size
		s.reasons[d.OffloadReason]++
	}
	if d.DetectNext {
		s.detWhy[d.DetectReason]++
	}
	s.detect = d.DetectNext
	s.frame++
	return d
}

func person(id int, score float32, x float32) detection.Detection {
	return detection.Detection{Box: detection.Rect{X1: x, Y1: 10, X2: x + 20, Y2: 60}, Score: score, TrackID: id}
}

// maxInWindow is the most events of frames in any w consecutive frames.
func maxInWindow(frames []uint64, w int) int {
	best := 0
	for i := range frames {
		n := 0
		for j := i; j < len(frames) && frames[j] < frames[i]+uint64(w); j++ {
			n++
		}
		best = max(best, n)
	}
	return best
}

func TestFixedIsREACT(t *testing.T) {
	s := newSim(t, Config{Mode: Fixed, K: 5, M: 30, FPS: 25}, 1000)
	for i := range 100 {
		s.sig.SceneChange = i == 47
		s.step(nil)
	}
	if want := []uint64{0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95}; !equal(s.detects, want) {
		t.Errorf("detections on %v, want every 5th frame", s.detects)
	}
	if want := []uint64{0, 30, 47, 60, 90}; !equal(s.offl, want) {
		t.Errorf("offloads on %v, want every 30th frame and the scene change on 47", s.offl)
	}
	if st := s.p.Status(); st.K != 5 || st.M != 30 || st.Mode != Fixed {
		t.Errorf("fixed status %+v", st)
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAdaptiveQuietSceneUsesBaseIntervals(t *testing.T) {
	s := newSim(t, Config{Mode: Adaptive, FPS: 25, K: 5, M: 50}, 1000)
	boxes := []detection.Detection{person(1, 0.9, 10), person(2, 0.9, 100)}
	for range 200 {
		s.step(boxes)
	}
	for i := 1; i < len(s.detects); i++ {
		if s.detects[i]-s.detects[i-1] != 5 {
			t.Fatalf("a quiet scene is detected every k=5 frames: %v", s.detects)
		}
	}
	if want := []uint64{0, 50, 100, 150}; !equal(s.offl, want) {
		t.Errorf("a quiet scene is offloaded every m=50 frames: %v", s.offl)
	}
	st := s.p.Status()
	if st.K != 5 || st.DetectReason != ReasonInterval || st.OffloadReason != ReasonInterval {
		t.Errorf("status %+v: want effective k 5, reasons interval", st)
	}
}

func TestAdaptiveDetectsEarlyWhenTracksFail(t *testing.T) {
	s := newSim(t, Config{Mode: Adaptive, FPS: 25, K: 10, M: 1000}, 1000)
	two := []detection.Detection{person(1, 0.9, 10), person(2, 0.9, 100)}
	one := []detection.Detection{person(1, 0.9, 10)}
	for range 10 { // frames 0..9: detection on 0 and on 10 (k)
		s.step(two)
	}
	if s.detects[len(s.detects)-1] != 0 || !s.detect {
		t.Fatalf("detections %v, next %v: want frame 0 and then frame 10", s.detects, s.detect)
	}
	s.step(two)      // 10: detected
	s.step(two)      // 11
	d := s.step(one) // 12: track 2 is lost
	if !d.DetectNext || d.DetectReason != ReasonTracksLost {
		t.Fatalf("a lost track asks for a detection on the next frame: %+v", d)
	}
	s.step(one) // 13: detected; nothing lost since
	if d := s.step(one); d.DetectNext {
		t.Fatalf("no trouble since the detection: %+v", d)
	}
	// A coasting track (tracking failed: its score decays) counts as failing.
	s.detect = false
	s.step([]detection.Detection{person(1, 0.9, 10)})
	d = s.step([]detection.Detection{person(1, 0.72, 10)})
	if !d.DetectNext || d.DetectReason != ReasonTracksLost {
		t.Fatalf("a coasting track asks for a detection: %+v", d)
	}
}

func TestAdaptiveReDetectsNewObjects(t *testing.T) {
	s := newSim(t, Config{Mode: Adaptive, FPS: 25, K: 10, M: 1000}, 1000)
	one := []detection.Detection{person(1, 0.9, 10)}
	for range 10 { // 0..9: an empty scene, detected on 0
		s.step(nil)
	}
	if !s.detect {
		t.Fatal("k=10: frame 10 is detected")
	}
	if d := s.step(one); d.DetectNext { // 10: a track no previous one explains
		t.Fatalf("the gap (2 frames) comes first: %+v", d)
	}
	if d := s.step(one); !d.DetectNext || d.DetectReason != ReasonNewObjects {
		t.Fatalf("objects no track explained are detected again after the gap: %+v", d)
	}
	s.step(one) // 12: detected, explained now
	for range 8 {
		if d := s.step(one); d.DetectNext {
			t.Fatalf("frame %d: nothing new since the last detection, wait for k: %+v", s.frame-1, d)
		}
	}
	if d := s.step(one); !d.DetectNext || d.DetectReason != ReasonInterval {
		t.Fatalf("frame 21 asks for frame 22 (k=10): %+v", d)
	}
}

func TestAdaptiveEdgeBudgetAndFloor(t *testing.T) {
	// Trouble on every frame would detect every other frame; 8 per second
	// at 25 fps over a 2 s window caps it.
	cfg := Config{Mode: Adaptive, FPS: 25, MaxInterval: 20, Budgets: Budgets{EdgeFPS: 8, Window: 2 * time.Second}}
	s := newSim(t, cfg, 1000)
	for i := range 500 {
		// A different track every frame: the previous one is lost.
		s.step([]detection.Detection{person(i+1, 0.9, 10)})
	}
	if n := maxInWindow(s.detects, 50); n > 16 {
		t.Fatalf("%d detections in 50 frames, budget 16", n)
	}
	if len(s.detects) < 150 {
		t.Errorf("%d detections in 500 frames: the budget (160) should be nearly spent", len(s.detects))
	}
	if s.detWhy[ReasonTracksLost] == 0 {
		t.Errorf("reasons %v: want tracks-lost", s.detWhy)
	}
	if st := s.p.Status(); st.EdgeFPS > 8 || st.K < 25.0/8 {
		t.Errorf("status %+v: spend over the 8/s budget", st)
	}
	// Nothing happening and no base interval: the floor still detects.
	cfg.K = 1000
	s = newSim(t, cfg, 1000)
	for range 100 {
		s.step(nil)
	}
	if want := []uint64{0, 20, 40, 60, 80}; !equal(s.detects, want) {
		t.Errorf("detections %v: want the max-interval floor every 20 frames", s.detects)
	}
}

func TestAdaptiveUplinkAndRequestBudgets(t *testing.T) {
	// 100 kB requests, 300 kbit/s over 4 s: 150 kB per window, one request.
	cfg := Config{Mode: Adaptive, FPS: 25, K: 5, Budgets: Budgets{UplinkKbps: 300, Window: 4 * time.Second}}
	s := newSim(t, cfg, 100_000)
	for i := range 1000 {
		s.sig.SceneChange = i%7 == 0 // asks often
		s.step(nil)
	}
	if n := maxInWindow(s.offl, 100); n > 1 {
		t.Fatalf("%d requests of 100 kB in a 4 s window at 300 kbit/s: offloads %v", n, s.offl)
	}
	if len(s.offl) < 9 {
		t.Errorf("only %d requests in 40 s: the budget allows 10", len(s.offl))
	}
	if st := s.p.Status(); st.UplinkKbps > 300 {
		t.Errorf("status uplink %v kbit/s over the budget", st.UplinkKbps)
	}
	// Requests per second: 1 per second over 2 s windows, scene changes every frame.
	cfg = Config{Mode: Adaptive, FPS: 25, K: 5, MinOffloadGap: 1, Budgets: Budgets{CloudRPS: 1, Window: 2 * time.Second}}
	s = newSim(t, cfg, 1000)
	for range 500 {
		s.sig.SceneChange = true
		s.step(nil)
	}
	if n := maxInWindow(s.offl, 50); n > 2 {
		t.Fatalf("%d requests in 2 s at 1 request/s", n)
	}
	if len(s.offl) < 18 || s.reasons[ReasonSceneChange] == 0 {
		t.Errorf("%d requests (reasons %v): want about 20, scene changes among them", len(s.offl), s.reasons)
	}
}

func TestAdaptiveOffloadSignals(t *testing.T) {
	cfg := Config{Mode: Adaptive, FPS: 25, K: 5, M: 100, MinOffloadGap: 10}
	for _, c := range []struct {
		name  string
		boxes func(i int) []detection.Detection
		scene bool
		want  Reason
	}{
		{"scene change", func(int) []detection.Detection { return nil }, true, ReasonSceneChange},
		{"unsure edge", func(int) []detection.Detection { return []detection.Detection{person(1, 0.35, 10)} }, false, ReasonLowConfidence},
		{"new objects", func(i int) []detection.Detection { return []detection.Detection{person(1+i/5, 0.9, 10)} }, false, ReasonNewObjects},
	} {
		s := newSim(t, cfg, 1000)
		for i := range 60 {
			s.sig.SceneChange = c.scene && i > 0
			s.step(c.boxes(i))
		}
		// Frame 0, then the signal once the gap (max(10, m/2) = 50) allows.
		if len(s.offl) != 2 || s.offl[1] != 50 || s.reasons[c.want] != 1 {
			t.Errorf("%s: offloads %v reasons %v: want frames 0 and 50, one %v", c.name, s.offl, s.reasons, c.want)
		}
	}
}

func TestAdaptiveBacksOffASlowCloud(t *testing.T) {
	cfg := Config{Mode: Adaptive, FPS: 25, K: 5, M: 10, Timeout: 2 * time.Second}
	s := newSim(t, cfg, 1000)
	s.sig.Cloud = CloudUp
	// A worker answering in 1.6 s (beyond 3/4 of the timeout): one request
	// per two round trips, nothing that could time out.
	pendingReply := map[uint64]uint64{}
	for range 400 {
		if at, ok := pendingReply[s.frame]; ok {
			_ = at
			s.sig.Replies++
			s.sig.Inflight--
			s.sig.RTT = 1600 * time.Millisecond
		}
		d := s.step(nil)
		if d.Offload {
			s.sig.Inflight++
			pendingReply[s.frame-1+40] = s.frame - 1
		}
		if s.sig.Inflight > cfg.WithDefaults().MaxInflight {
			t.Fatalf("in-flight %d over the limit", s.sig.Inflight)
		}
	}
	for i := 2; i < len(s.offl); i++ {
		if s.offl[i]-s.offl[i-1] < 80 {
			t.Fatalf("offloads %v: a 1.6 s round trip (timeout 2 s) spaces requests by two round trips", s.offl)
		}
	}
	if s.p.Status().Backoff < 80 {
		t.Errorf("backoff %d frames", s.p.Status().Backoff)
	}
	// Timeouts double the gap.
	s = newSim(t, cfg, 1000)
	s.sig.Cloud = CloudUp
	s.step(nil)
	s.sig.Timeouts++
	for range 19 {
		if d := s.step(nil); d.Offload {
			t.Fatalf("offload %d frames after a timeout: %+v", s.frame-1, d)
		} else if s.frame > 11 && d.OffloadReason != ReasonBackoff {
			t.Fatalf("held for %v, want backoff", d.OffloadReason)
		}
	}
	if d := s.step(nil); !d.Offload {
		t.Fatalf("one timeout doubles the gap to 2m = 20 frames: %+v", d)
	}
}

func TestAdaptiveCloudDownAndInflight(t *testing.T) {
	cfg := Config{Mode: Adaptive, FPS: 25, K: 5, M: 10, OffloadEvery: 2 * time.Second}
	s := newSim(t, cfg, 1000)
	s.sig.Cloud = CloudDown
	for range 200 {
		s.step(nil)
	}
	if want := []uint64{0, 50, 100, 150}; !equal(s.offl, want) {
		t.Errorf("a down cloud is probed every 2 s: %v", s.offl)
	}
	if st := s.p.Status(); st.OffloadReason != ReasonProbe || st.OffloadHeld != ReasonCloudDown {
		t.Errorf("status %+v", st)
	}
	s = newSim(t, cfg, 1000)
	s.sig.Cloud, s.sig.Inflight = CloudUp, 2
	for range 30 {
		s.step(nil)
	}
	if len(s.offl) != 0 || s.p.Status().OffloadHeld != ReasonInflight {
		t.Errorf("offloads %v with 2 requests in flight", s.offl)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Mode: Fixed}, "k >= 1"},
		{Config{Mode: Adaptive, FPS: 25, MaxInterval: 2, Budgets: Budgets{EdgeFPS: 8}}, "max-interval 2"},
		{Config{Mode: Adaptive, OffloadEvery: time.Second, Budgets: Budgets{CloudRPS: 0.5}}, "offload every 1s"},
		{Config{Mode: Adaptive, Budgets: Budgets{UplinkKbps: -1}}, "budgets must be >= 0"},
		{Config{Mode: Adaptive, FPS: 25, Budgets: Budgets{Window: time.Millisecond}}, "shorter than a frame"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.cfg, err, c.want)
		}
	}
	if m, err := ParseMode(" Adaptive"); err != nil || m != Adaptive {
		t.Errorf("ParseMode: %v %v", m, err)
	}
	if _, err := ParseMode("smart"); err == nil {
		t.Error("ParseMode accepted smart")
	}
}

func TestDecideAllocatesNothing(t *testing.T) {
	p, err := New(Config{Mode: Adaptive, FPS: 25, Budgets: Budgets{UplinkKbps: 300, EdgeFPS: 8}})
	if err != nil {
		t.Fatal(err)
	}
	boxes := []detection.Detection{person(1, 0.9, 10), person(2, 0.4, 100), person(3, 0.9, 200)}
	var s Signals
	step := func() {
		s.Detected = s.Frame%3 == 0
		s.Boxes = boxes
		d := p.Decide(&s)
		if d.Offload {
			p.Sent()
			s.SentRequests++
			s.SentBytes += 90_000
		}
		s.Frame++
	}
	for range 200 {
		step()
	}
	if n := testing.AllocsPerRun(500, step); n != 0 {
		t.Fatalf("Decide allocates %v times per frame", n)
	}
}

func TestReset(t *testing.T) {
	s := newSim(t, Config{Mode: Adaptive, FPS: 25, K: 5, M: 50}, 1000)
	for range 30 {
		s.step(nil)
	}
	s.p.Reset()
	s.frame, s.detect = 0, true
	if d := s.step(nil); !d.Offload {
		t.Fatalf("after Reset the first frame is offloaded: %+v", d)
	}
}

func TestAdaptiveHoldsBehindAStalledRequest(t *testing.T) {
	cfg := Config{Mode: Adaptive, FPS: 25, K: 5, M: 10, MinOffloadGap: 1}
	s := newSim(t, cfg, 1000)
	s.sig.Cloud, s.sig.RTT, s.sig.Replies = CloudUp, 40*time.Millisecond, 1
	s.step(nil) // frame 0 sent
	s.sig.Inflight = 1
	for range 20 { // no answer: the cloud slowed down
		if d := s.step(nil); d.Offload {
			t.Fatalf("frame %d offloaded behind a request outstanding for %d frames (round trip 1 frame)", s.frame-1, s.frame-1)
		} else if s.frame-1 >= 10 && d.OffloadReason != ReasonBackoff {
			t.Fatalf("frame %d held for %v, want backoff", s.frame-1, d.OffloadReason)
		}
	}
	s.sig.Inflight, s.sig.Replies, s.sig.RTT = 0, 2, 800*time.Millisecond // answered at last
	s.step(nil)
	if len(s.offl) != 2 {
		t.Fatalf("offloads %v: once answered the next goes", s.offl)
	}
}

// queueingRun drives an adaptive policy (25 fps, base m 5, timeout 2 s)
// against a worker whose service takes 4 frames and whose queue wait on a
// request sent on frame f is queue(f), in frames; the reply arrives
// service+queue frames after the request. report says whether replies
// carry the queue wait (an old worker's do not). It returns the frames
// offloaded on.
func queueingRun(t *testing.T, frames int, queue func(f uint64) uint64, report bool) []uint64 {
	t.Helper()
	const service = 4
	frame := func(n uint64) time.Duration { return time.Duration(n) * 40 * time.Millisecond }
	s := newSim(t, Config{Mode: Adaptive, FPS: 25, K: 5, M: 5, MinOffloadGap: 1, Timeout: 2 * time.Second}, 1000)
	s.sig.Cloud = CloudUp
	type reply struct{ at, rtt, queue uint64 }
	var pending []reply
	for range frames {
		for len(pending) > 0 && pending[0].at <= s.frame {
			r := pending[0]
			pending = pending[1:]
			s.sig.Replies++
			s.sig.Inflight--
			s.sig.RTT, s.sig.QueueWait = frame(r.rtt), 0
			if report {
				s.sig.QueueWait = frame(r.queue)
			}
		}
		if d := s.step(nil); d.Offload {
			q := queue(s.frame - 1)
			pending = append(pending, reply{at: s.frame - 1 + service + q, rtt: service + q, queue: q})
			s.sig.Inflight++
		}
		if s.sig.Inflight > 2 {
			t.Fatalf("frame %d: %d requests in flight, limit 2", s.frame-1, s.sig.Inflight)
		}
	}
	return s.offl
}

// A worker that others load more and more: its queue wait grows by 2
// frames per 25, while the round trip stays far from the timeout (at most
// 4+16 frames = 0.8 s against 2 s) until frame 200, when the others stop.
// Replies that carry the queue wait make the edge back off as the queue
// grows (at most one request per round trip, fewer while it grows) and
// come back to the base interval once it is gone; without it the edge
// keeps sending every 5 frames into the growing queue.
func TestAdaptiveBacksOffAQueueingWorker(t *testing.T) {
	queue := func(f uint64) uint64 {
		if f >= 200 {
			return 0
		}
		return min(16, 2*(f/25))
	}
	gaps := func(offl []uint64, from, to uint64) (minGap, maxGap uint64, n int) {
		minGap = math.MaxUint64
		for i := 1; i < len(offl); i++ {
			if offl[i-1] >= from && offl[i] < to {
				g := offl[i] - offl[i-1]
				minGap, maxGap, n = min(minGap, g), max(maxGap, g), n+1
			}
		}
		return minGap, maxGap, n
	}
	told := queueingRun(t, 300, queue, true)
	blind := queueingRun(t, 300, queue, false)
	t.Logf("with queue wait: %v\nwithout: %v", told, blind)
	// Frames 100..200: queue 8..14 frames, service 4: saturated.
	minTold, _, nTold := gaps(told, 100, 200)
	minBlind, _, nBlind := gaps(blind, 100, 200)
	if minTold < 12 || nTold >= nBlind {
		t.Errorf("frames 100..200 (queue wait 8-14 frames, round trip 12-18): with queue wait %d requests, gaps from %d; without %d, gaps from %d: want one request per round trip at most and fewer requests",
			nTold, minTold, nBlind, minBlind)
	}
	// From frame 200 on the queue is gone; within a few replies the edge is
	// back at the base interval (in-flight limit 2, service 4 frames).
	if _, maxGap, n := gaps(told, 240, 300); n < 8 || maxGap > 5 {
		t.Errorf("frames 240..300 (no queue): %d gaps up to %d frames, want the base interval 5 again", n, maxGap)
	}
}

// A round trip near the timeout spaces requests out but never stops them:
// each reply is the only news of the cloud, so the next request goes once
// the gap has passed.
func TestAdaptiveSlowCloudIsNotStarved(t *testing.T) {
	offl := queueingRun(t, 600, func(uint64) uint64 { return 36 }, false) // 40 frames: 1.6 s of 2 s
	if len(offl) < 5 {
		t.Fatalf("offloads %v in 600 frames with a 1.6 s round trip: want one every two round trips or so", offl)
	}
	for i := 2; i < len(offl); i++ {
		if offl[i]-offl[i-1] < 80 {
			t.Fatalf("offloads %v: a 1.6 s round trip (timeout 2 s) spaces requests by two round trips", offl)
		}
	}
}
