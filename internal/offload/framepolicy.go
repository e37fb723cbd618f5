package offload

import (
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/policy"
)

// FramePolicy is what the schedule did on one frame, for per-frame records
// (reactcloud puts it on the buffer; reactpublish writes it out), so a
// consumer sees each frame's spend and its reason next to its boxes.
type FramePolicy struct {
	Mode policy.Mode
	// K and M are the effective intervals as of this frame. Adaptive:
	// frames per edge run and per request over the budget window (0: none
	// in it). Fixed: M is Interval (0: scene changes only) and K the gap
	// between the last two detected frames (0 until there are two), since
	// reactdetect's interval is not the engine's.
	K, M float64
	// Detected: the edge detector ran on this frame. DetectReason says why
	// (adaptive: the reason of the previous frame's DetectNext; ReasonInterval
	// when the detector ran on its own schedule), or, Held, why a run the
	// policy wanted on this frame was held back; ReasonNone otherwise.
	Detected     bool
	DetectReason policy.Reason
	// Offloaded: this frame was handed to the sender. OffloadReason says
	// why, or, Held, why a frame that was due was not sent (budget,
	// backoff, in-flight, cloud-down); ReasonNone when none was due.
	Offloaded     bool
	OffloadReason policy.Reason
}

// framePolicy builds the streaming thread's FramePolicy.
type framePolicy struct {
	cur             FramePolicy
	prev            policy.Decision // the adaptive decision on the frame before
	skip            policy.Reason   // why the last offload call sent nothing
	lastDetect, gap uint64          // fixed: frame of the last detection, +1; gap to the one before
}

// beginFramePolicy starts frame frameNum's record, before the schedule runs.
func (e *Engine) beginFramePolicy(frameNum uint64, detected bool) {
	fp := &e.fp
	fp.cur = FramePolicy{Mode: e.cfg.Policy.Mode, Detected: detected}
	if e.pol == nil {
		fp.cur.Mode = policy.Fixed
		if detected {
			if fp.lastDetect > 0 && frameNum+1 > fp.lastDetect {
				fp.gap = frameNum + 1 - fp.lastDetect
			}
			fp.lastDetect = frameNum + 1
			fp.cur.DetectReason = policy.ReasonInterval
		}
		fp.cur.K, fp.cur.M = float64(fp.gap), float64(e.cfg.Interval)
		return
	}
	switch {
	case detected && fp.prev.DetectNext:
		fp.cur.DetectReason = fp.prev.DetectReason
	case detected:
		fp.cur.DetectReason = policy.ReasonInterval // reactdetect's own schedule (the first frame)
	case fp.prev.DetectReason.Held():
		fp.cur.DetectReason = fp.prev.DetectReason
	}
}

// offloadNoting is offload, remembering why nothing was sent.
func (e *Engine) offloadNoting(f *frame.Frame, frameNum uint64, pts int64) bool {
	disc := e.ctr.skippedDisc.Load() // only this thread adds to it
	if e.offload(f, frameNum, pts) {
		e.fp.skip = policy.ReasonNone
		return true
	}
	e.fp.skip = policy.ReasonInflight
	if e.ctr.skippedDisc.Load() != disc {
		e.fp.skip = policy.ReasonCloudDown
	}
	return false
}

// offloadFixed records a fixed-schedule offload that was due for why.
func (e *Engine) offloadFixed(f *frame.Frame, frameNum uint64, pts int64, why policy.Reason) {
	fp := &e.fp
	fp.cur.Offloaded = e.offloadNoting(f, frameNum, pts)
	fp.cur.OffloadReason = why
	if !fp.cur.Offloaded {
		fp.cur.OffloadReason = fp.skip
	}
}

// decided records the adaptive policy's decision d on this frame, whether
// its offload was sent, and the status after it.
func (e *Engine) decided(d policy.Decision, sent bool, st policy.Status) {
	fp := &e.fp
	fp.cur.K, fp.cur.M = st.K, st.M
	fp.cur.Offloaded = sent
	switch {
	case sent || d.OffloadReason.Held():
		fp.cur.OffloadReason = d.OffloadReason
	case d.Offload:
		fp.cur.OffloadReason = fp.skip
	}
	fp.prev = d
}

// FramePolicy is the schedule's record of the frame Process last handled.
// Call it from the goroutine that calls Process.
func (e *Engine) FramePolicy() FramePolicy { return e.fp.cur }
