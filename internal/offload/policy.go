package offload

import (
	"fmt"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/policy"
)

// policyConfig is the Policy with the engine's own limits filled in: the
// policy holds offloads back rather than have the engine skip them.
func (c Config) policyConfig() policy.Config {
	p := c.Policy
	p.MaxInflight, p.Timeout = c.MaxInflight, c.Timeout
	if p.MinOffloadGap == 0 {
		p.MinOffloadGap = c.ChangeMinGap
	}
	return p
}

func hasEdgeBox(ds []detection.Detection) bool {
	for i := range ds {
		if ds[i].Source == detection.SourceEdge {
			return true
		}
	}
	return false
}

// decide runs the adaptive policy on one frame (streaming thread): it reads
// the signals the engine has, offloads when told to, and keeps the decision
// for the caller (PolicyDecision) and the status for Stats readers.
func (e *Engine) decide(f *frame.Frame, frameNum uint64, pts int64, local []detection.Detection, detected, stored bool) {
	s := &e.signals
	s.Frame, s.Boxes, s.Detected = frameNum, local, detected
	s.SceneChange = e.sceneChanged(frameNum, stored)
	switch CloudState(e.ctr.cloud.Load()) {
	case CloudUp:
		s.Cloud = policy.CloudUp
	case CloudDown:
		s.Cloud = policy.CloudDown
	default:
		s.Cloud = policy.CloudUnknown
	}
	s.Inflight = int(e.ctr.inflight.Load())
	s.RTT, s.Encode = time.Duration(e.ctr.lastRTT.Load()), time.Duration(e.ctr.lastEncode.Load())
	s.QueueWait = time.Duration(e.ctr.lastQueue.Load())
	s.OldestInflight = 0
	if s.Inflight > 0 {
		now := time.Now().UnixNano()
		for _, j := range e.allJobs {
			if q := j.queued.Load(); q > 0 {
				s.OldestInflight = max(s.OldestInflight, time.Duration(now-q))
			}
		}
	}
	s.Replies, s.Timeouts = e.ctr.repliesOK.Load(), e.ctr.timeouts.Load()
	// Published requests and their bytes: offloaded and sentBytes are
	// added together when a request goes out.
	s.SentRequests, s.SentBytes = e.ctr.offloaded.Load(), e.ctr.sentBytes.Load()
	d := e.pol.Decide(s)
	s.Boxes = nil
	sent := d.Offload && e.offloadNoting(f, frameNum, pts)
	if sent {
		e.pol.Sent()
	}
	e.decision = d
	st := e.pol.Status()
	e.decided(d, sent, st)
	e.polMu.Lock()
	e.polStatus = st
	e.polMu.Unlock()
}

// PolicyDecision is the adaptive policy's decision on the frame Process
// last handled (ok false without an adaptive policy). Call it from the
// goroutine that calls Process: DetectNext asks for the edge detector on
// the next frame.
func (e *Engine) PolicyDecision() (d policy.Decision, ok bool) {
	return e.decision, e.pol != nil
}

// SetFrameRate tells the adaptive policy the stream's frame rate (e.g. from
// caps), which its budgets and durations are converted with; 0 keeps the
// configured one. It restarts the policy (its windows start empty). Call it
// from the goroutine that calls Process.
func (e *Engine) SetFrameRate(fps float64) error {
	if e.pol == nil || !(fps > 0) || fps == e.pol.Config().FPS {
		return nil
	}
	cfg := e.cfg.policyConfig()
	cfg.FPS = fps
	p, err := policy.New(cfg)
	if err != nil {
		return fmt.Errorf("offload: at %g fps: %w", fps, err)
	}
	e.pol = p
	return nil
}

// PolicyStatus is the policy's effective intervals, reasons and spend as of
// the last frame (ok false without an adaptive policy); safe from any
// goroutine.
func (e *Engine) PolicyStatus() (st policy.Status, ok bool) {
	if e.cfg.Policy.Mode != policy.Adaptive { // e.pol is the streaming thread's
		return policy.Status{Mode: policy.Fixed, M: float64(e.cfg.Interval)}, false
	}
	e.polMu.Lock()
	defer e.polMu.Unlock()
	return e.polStatus, true
}
