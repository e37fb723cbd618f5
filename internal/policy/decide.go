package policy

import (
	"math"
	"time"
)

// sizeSamples is how many recent request sizes the uplink estimate keeps.
const sizeSamples = 8

// maxTracked bounds the outstanding requests the policy follows (the
// engine's MaxInflight is at most 64).
const maxTracked = 64

// Policy decides, frame by frame; create it with New and call Decide once
// per frame, in order, from one goroutine. Not safe for concurrent use.
type Policy struct {
	cfg Config
	win int // budget window, frames

	// Per-frame spend over the window, a ring indexed by frame number.
	ringEdge  []bool
	ringReqs  []uint8
	ringBytes []int64
	edgeSum   int
	reqSum    int
	bytesSum  int64
	edgeCap   float64 // detections per window
	reqCap    float64 // requests per window
	bytesCap  float64 // bytes per window

	started bool
	frame   uint64
	// Frames of the last detection, offload and reply (valid when have*).
	lastDetect, lastOffload, lastReply uint64
	haveDetect, haveOffload, haveReply bool
	detectDecided                      bool // DetectNext was true on the previous frame

	// Requests sent (Sent) whose bytes are not reported yet, and the
	// counters last seen.
	pending             int
	sentReqs, sentBytes uint64
	replies, timeouts   uint64
	sizes               [sizeSamples]int64
	nSizes              int
	backoff             int // frames between offloads forced by cloud pressure
	// The worker's queue wait on the last reply, whether it showed the
	// worker saturated, and the frames to wait after a reply while it is.
	queueWait time.Duration
	saturated bool
	queueGap  int
	// Frames the outstanding requests were sent on, oldest first (a ring):
	// replies and timeouts resolve them in order.
	outstanding          [maxTracked]uint64
	outHead, outN        int
	observer             edgeObserver
	troubleSinceDetect   int // tracks lost or failing since the last detection
	troubleSinceOffload  int
	unexplainedAtDetect  int // at the last detection
	unexplainedSinceOffl int
	unsureSinceOffload   int
	lastDetectWhy        Reason
	lastOffloadWhy       Reason
	lastDetectHeld       Reason
	lastOffloadHeld      Reason
}

// New makes a policy; cfg is checked with Validate.
func New(cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	w := cfg.windowFrames()
	p := &Policy{cfg: cfg, win: w, ringEdge: make([]bool, w), ringReqs: make([]uint8, w), ringBytes: make([]int64, w)}
	secs := float64(w) / cfg.FPS
	p.edgeCap = budgetPerWindow(cfg.Budgets.EdgeFPS, secs)
	p.reqCap = budgetPerWindow(cfg.Budgets.CloudRPS, secs)
	p.bytesCap = budgetPerWindow(cfg.Budgets.UplinkKbps*1000/8, secs)
	return p, nil
}

// budgetPerWindow is rate × seconds, +Inf for no limit; a hair of slack so
// a budget met exactly is not refused for rounding.
func budgetPerWindow(rate, secs float64) float64 {
	if rate <= 0 {
		return math.Inf(1)
	}
	return rate*secs + 1e-6
}

// Config returns the configuration in use (defaults filled in).
func (p *Policy) Config() Config { return p.cfg }

// Reset forgets the stream (after a seek or flush): the next frame starts
// afresh, detected and offloaded as a first frame is. Counters in Signals
// are re-read on the next call.
func (p *Policy) Reset() {
	cfg, w := p.cfg, p.win
	re, rr, rb := p.ringEdge, p.ringReqs, p.ringBytes
	obs := p.observer
	clear(re)
	clear(rr)
	clear(rb)
	obs.reset()
	*p = Policy{cfg: cfg, win: w, ringEdge: re, ringReqs: rr, ringBytes: rb, observer: obs,
		edgeCap: p.edgeCap, reqCap: p.reqCap, bytesCap: p.bytesCap}
}

// advance moves the window to frame f, forgetting the frames that leave it.
func (p *Policy) advance(f uint64) {
	if !p.started {
		p.frame = f
		return
	}
	steps := f - p.frame
	if f <= p.frame {
		steps = 0
	}
	for range min(steps, uint64(p.win)) {
		p.frame++
		i := p.frame % uint64(p.win)
		if p.ringEdge[i] {
			p.edgeSum--
		}
		p.reqSum -= int(p.ringReqs[i])
		p.bytesSum -= p.ringBytes[i]
		p.ringEdge[i], p.ringReqs[i], p.ringBytes[i] = false, 0, 0
	}
	p.frame = f
}

func (p *Policy) slot() int { return int(p.frame % uint64(p.win)) }

// Decide reads one frame's signals and decides. For Fixed it is REACT's
// schedule; for Adaptive see the package documentation.
func (p *Policy) Decide(s *Signals) Decision {
	p.advance(s.Frame)
	first := !p.started
	p.started = true
	if first {
		p.sentReqs, p.sentBytes, p.replies, p.timeouts = s.SentRequests, s.SentBytes, s.Replies, s.Timeouts
	}
	p.account(s)
	if p.cfg.Mode == Fixed {
		return p.fixed(s)
	}
	es := p.observer.observe(s.Boxes, s.Detected, p.cfg.LowConfidence)
	if s.Detected {
		p.troubleSinceDetect = 0
		p.unexplainedAtDetect = es.unexplained
		p.unexplainedSinceOffl += es.unexplained
		p.unsureSinceOffload += es.unsure
	}
	p.troubleSinceDetect += es.lost + es.failing
	p.troubleSinceOffload += es.lost + es.failing
	p.cloudPressure(s)
	var d Decision
	d.Offload, d.OffloadReason = p.decideOffload(s, first)
	d.DetectNext, d.DetectReason = p.decideDetect()
	p.detectDecided = d.DetectNext
	if d.Offload {
		p.lastOffloadWhy, p.lastOffloadHeld = d.OffloadReason, ReasonNone
		p.unexplainedSinceOffl, p.unsureSinceOffload, p.troubleSinceOffload = 0, 0, 0
	} else if d.OffloadReason.Held() {
		p.lastOffloadHeld = d.OffloadReason
	}
	if d.DetectNext {
		p.lastDetectWhy, p.lastDetectHeld = d.DetectReason, ReasonNone
	} else if d.DetectReason.Held() {
		p.lastDetectHeld = d.DetectReason
	}
	return d
}

// account charges what this frame reports: a detection, request bytes.
func (p *Policy) account(s *Signals) {
	i := p.slot()
	if s.Detected {
		if !p.ringEdge[i] {
			p.ringEdge[i] = true
			p.edgeSum++
		}
		p.lastDetect, p.haveDetect = s.Frame, true
	}
	if s.SentRequests >= p.sentReqs && s.SentBytes >= p.sentBytes {
		n, b := s.SentRequests-p.sentReqs, s.SentBytes-p.sentBytes
		if n > 0 {
			// The bytes replace the estimates charged by Sent.
			p.pending = max(0, p.pending-int(n))
			p.sizes[p.nSizes%sizeSamples] = int64(b / n)
			p.nSizes++
		}
		p.ringBytes[i] += int64(b)
		p.bytesSum += int64(b)
	}
	p.sentReqs, p.sentBytes = s.SentRequests, s.SentBytes
	if s.Inflight == 0 {
		// Nothing outstanding: a request whose bytes never came (it failed
		// to encode) no longer counts at the estimate.
		p.pending = 0
	}
	if s.Replies > p.replies {
		p.lastReply, p.haveReply = s.Frame, true
	}
}

// Sent records that the offload decided on this frame was actually sent
// (the engine may still skip one, e.g. while disconnected). It counts
// against the request budget now and against the uplink at the estimated
// size until Signals.SentBytes reports its bytes.
func (p *Policy) Sent() {
	i := p.slot()
	if p.ringReqs[i] < math.MaxUint8 {
		p.ringReqs[i]++
		p.reqSum++
	}
	p.pending++
	p.lastOffload, p.haveOffload = p.frame, true
	if p.outN < maxTracked {
		p.outstanding[(p.outHead+p.outN)%maxTracked] = p.frame
		p.outN++
	}
}

// resolve forgets the n oldest outstanding requests (answered or timed out).
func (p *Policy) resolve(n uint64) {
	for ; n > 0 && p.outN > 0; n-- {
		p.outHead = (p.outHead + 1) % maxTracked
		p.outN--
	}
}

// stalled reports a request outstanding for more than twice the last round
// trip (and two frames): the cloud has slowed down or is queueing, so
// another request would wait behind it, perhaps until it times out.
func (p *Policy) stalled(s *Signals) bool {
	if s.Inflight == 0 || p.outN == 0 {
		p.outN = 0
		return false
	}
	age := p.frame - p.outstanding[p.outHead]
	if age > uint64(p.cfg.frames(p.cfg.Timeout+s.Encode)) {
		p.resolve(1) // resolved without a reply or timeout we saw (an error)
		return false
	}
	limit := uint64(2)
	if s.RTT > 0 {
		limit = max(limit, 2*uint64(p.cfg.frames(s.RTT+s.Encode)))
	}
	if s.OldestInflight > 0 {
		// The caller's clock: frames may come slower than the frame rate.
		return s.OldestInflight > max(p.Seconds(int(limit)), 2*(s.RTT+s.Encode))
	}
	return age > limit
}

// queues reports that one more request would likely time out behind ours
// in flight: a worker answers them in turn, so it would wait the last round
// trip plus one service time (the round trip less the worker's queue wait)
// for each of them, and that nears the timeout. With nothing in flight the
// gap cloudPressure set is the whole answer: a round trip the cloud
// answered in time does not stop the next request (it would never be
// measured again).
func (p *Policy) queues(s *Signals) bool {
	if s.Inflight == 0 || s.RTT <= 0 {
		return false
	}
	return s.RTT+time.Duration(s.Inflight)*service(s) > p.cfg.Timeout*3/4
}

// service is the part of the last round trip that a request of ours adds
// to the next one's wait: the round trip less the worker's queue wait (the
// network, decoding and the model run).
func service(s *Signals) time.Duration {
	return max(s.RTT-s.QueueWait, 0)
}

// estimate is the expected size of the next request: the largest recent
// one (0 while none is known).
func (p *Policy) estimate() int64 {
	var m int64
	for i := range min(p.nSizes, sizeSamples) {
		m = max(m, p.sizes[i])
	}
	return m
}

func (p *Policy) fixed(s *Signals) Decision {
	var d Decision
	if p.cfg.M > 0 && s.Frame%uint64(p.cfg.M) == 0 {
		d.Offload, d.OffloadReason = true, ReasonInterval
	} else if s.SceneChange {
		d.Offload, d.OffloadReason = true, ReasonSceneChange
	}
	if (s.Frame+1)%uint64(p.cfg.K) == 0 {
		d.DetectNext, d.DetectReason = true, ReasonInterval
	}
	if d.Offload {
		p.lastOffloadWhy = d.OffloadReason
	}
	if d.DetectNext {
		p.lastDetectWhy = d.DetectReason
	}
	return d
}

// cloudPressure updates the backoff from timeouts, the round trip and the
// worker's queue wait: requests slow down before they would time out.
//
// A reply whose queue wait is over half a service time says the worker had
// work queued ahead of it: it is saturated (by this edge or others sharing
// it), and more requests only lengthen its queue until they time out. The
// round trip alone shows that late, when it nears the timeout. While the
// worker is saturated the edge keeps one request at a time there, and after
// each reply waits as long as that request queued (self-clocking: the
// worker's queue drains between our requests), doubling the wait while the
// queue wait grows by more than half a service time per reply and halving
// it, down to the queue wait, while it does not.
func (p *Policy) cloudPressure(s *Signals) {
	timedOut := s.Timeouts > p.timeouts
	answered := s.Replies > p.replies
	if timedOut || answered {
		p.resolve(s.Timeouts - p.timeouts + s.Replies - p.replies)
	}
	p.timeouts, p.replies = s.Timeouts, s.Replies
	floor := p.cfg.frames(p.cfg.OffloadEvery)
	switch {
	case timedOut:
		// Each timeout doubles the gap, up to the floor's.
		p.backoff = min(floor, max(2*p.backoff, 2*p.baseM()))
	case answered:
		svc := service(s)
		p.saturated = s.QueueWait > svc/2
		if p.saturated {
			gap := p.queueGap / 2
			if s.QueueWait > p.queueWait+svc/2 {
				gap = 2 * p.queueGap
			}
			p.queueGap = min(floor, max(gap, p.cfg.frames(s.QueueWait)))
		} else {
			p.queueGap = 0
		}
		p.queueWait = s.QueueWait
		if wait := s.RTT; wait > p.cfg.Timeout/2 {
			// Slow: one request per round trip (no queueing behind our own
			// requests), twice that as it nears the timeout.
			gap := p.cfg.frames(wait)
			if wait > p.cfg.Timeout*3/4 {
				gap *= 2
			}
			p.backoff = min(floor, max(p.backoff, gap))
		} else {
			p.backoff /= 2 // recovering: halve per good reply
		}
	}
}

// queued reports that the worker is saturated and it is too early for
// another request: one of ours is still there, or the last reply came less
// than queueGap frames ago.
func (p *Policy) queued(s *Signals) bool {
	return p.saturated && (s.Inflight > 0 || p.frame-p.lastReply < uint64(p.queueGap))
}

// baseK is the interval Adaptive detects at when nothing fires: K, or two
// thirds of the edge budget (the rest is for signals), or defaultK.
func (p *Policy) baseK() int {
	if p.cfg.K > 0 {
		return p.cfg.K
	}
	if b := p.cfg.Budgets.EdgeFPS; b > 0 {
		return max(1, int(math.Ceil(p.cfg.FPS/b*1.5-1e-9)))
	}
	return defaultK
}

// baseM is the interval Adaptive offloads at when nothing fires: M, or what
// the request and uplink budgets sustain, or defaultM.
func (p *Policy) baseM() int {
	if p.cfg.M > 0 {
		return p.cfg.M
	}
	m := 0
	if b := p.cfg.Budgets.CloudRPS; b > 0 {
		m = int(math.Ceil(p.cfg.FPS/b - 1e-9))
	}
	if b := p.cfg.Budgets.UplinkKbps; b > 0 {
		if est := p.estimate(); est > 0 {
			m = max(m, int(math.Ceil(float64(est)*8/1000/b*p.cfg.FPS-1e-9)))
		}
	}
	if m == 0 {
		return defaultM
	}
	return max(m, 1)
}

func (p *Policy) decideDetect() (bool, Reason) {
	next := p.frame + 1
	since := uint64(math.MaxUint32)
	if p.haveDetect {
		since = next - p.lastDetect
	}
	gap := uint64(p.cfg.MinDetectGap)
	var why Reason
	switch {
	case since >= uint64(p.cfg.MaxInterval):
		why = ReasonFloor
	case since >= uint64(p.baseK()):
		why = ReasonInterval
	case since >= gap && p.troubleSinceDetect > 0:
		why = ReasonTracksLost
	case since >= gap && p.unexplainedAtDetect > 0:
		why = ReasonNewObjects
	default:
		return false, ReasonNone
	}
	// The window ending at the next frame loses this window's oldest frame.
	used := p.edgeSum
	if p.ringEdge[(p.slot()+1)%p.win] {
		used--
	}
	if float64(used+1) > p.edgeCap {
		return false, ReasonBudget
	}
	return true, why
}

func (p *Policy) decideOffload(s *Signals, first bool) (bool, Reason) {
	since := uint64(math.MaxUint32)
	if p.haveOffload {
		since = p.frame - p.lastOffload
	}
	floor := uint64(p.cfg.frames(p.cfg.OffloadEvery))
	base := uint64(p.baseM())
	var why Reason
	switch {
	case s.Cloud == CloudDown:
		if since < floor {
			return false, ReasonCloudDown
		}
		why = ReasonProbe
	case !p.haveOffload || first:
		why = ReasonInterval
	case since >= floor:
		why = ReasonFloor
	case since >= base:
		why = ReasonInterval
	case since >= max(uint64(p.cfg.MinOffloadGap), base/2):
		switch {
		case s.SceneChange:
			why = ReasonSceneChange
		case p.unexplainedSinceOffl > 0:
			why = ReasonNewObjects
		case p.unsureSinceOffload > 0:
			why = ReasonLowConfidence
		case p.troubleSinceOffload > 0:
			why = ReasonTracksLost
		default:
			return false, ReasonNone
		}
	default:
		return false, ReasonNone
	}
	if s.Inflight >= p.cfg.MaxInflight {
		return false, ReasonInflight
	}
	if why != ReasonProbe && p.haveOffload && (since < uint64(p.backoff) || p.stalled(s) || p.queues(s) || p.queued(s)) {
		return false, ReasonBackoff
	}
	if float64(p.reqSum+1) > p.reqCap {
		return false, ReasonBudget
	}
	if !math.IsInf(p.bytesCap, 1) {
		est := p.estimate()
		if est == 0 && (p.pending > 0 || p.bytesSum > 0) {
			// No size known yet: one request at a time until one is.
			return false, ReasonBudget
		}
		if float64(p.bytesSum+int64(p.pending+1)*est) > p.bytesCap {
			return false, ReasonBudget
		}
	}
	return true, why
}

// Status is what the policy is doing, for status lines and metrics.
type Status struct {
	Mode Mode
	// K and M are the effective intervals: frames per detection and per
	// offload over the budget window (0: none in it).
	K, M float64
	// DetectReason and OffloadReason: why the last detection and offload
	// were decided; DetectHeld and OffloadHeld: why the last wanted one
	// was held back since (ReasonNone: nothing held since).
	DetectReason, OffloadReason Reason
	DetectHeld, OffloadHeld     Reason
	// Spend over the window, per second.
	EdgeFPS, CloudRPS, UplinkKbps float64
	// Backoff is the current gap, in frames, the cloud's state forces
	// between offloads, or after a reply while the worker is saturated
	// (0: none).
	Backoff int
}

// Status reports the current effective intervals, reasons and spend.
func (p *Policy) Status() Status {
	n := min(p.win, int(p.frame)+1)
	if !p.started {
		n = 0
	}
	st := Status{Mode: p.cfg.Mode, DetectReason: p.lastDetectWhy, OffloadReason: p.lastOffloadWhy,
		DetectHeld: p.lastDetectHeld, OffloadHeld: p.lastOffloadHeld, Backoff: max(p.backoff, p.queueGap)}
	if n > 0 {
		secs := float64(n) / p.cfg.FPS
		if p.edgeSum > 0 {
			st.K = float64(n) / float64(p.edgeSum)
		}
		if p.reqSum > 0 {
			st.M = float64(n) / float64(p.reqSum)
		}
		st.EdgeFPS = float64(p.edgeSum) / secs
		st.CloudRPS = float64(p.reqSum) / secs
		st.UplinkKbps = float64(p.bytesSum+int64(p.pending)*p.estimate()) * 8 / 1000 / secs
	}
	if p.cfg.Mode == Fixed {
		st.K, st.M = float64(p.cfg.K), float64(p.cfg.M)
	}
	return st
}

// WindowFrames is the budget window in frames.
func (p *Policy) WindowFrames() int { return p.win }

// Seconds converts frames to seconds at the policy's frame rate.
func (p *Policy) Seconds(frames int) time.Duration {
	return time.Duration(float64(frames) / p.cfg.FPS * float64(time.Second))
}
