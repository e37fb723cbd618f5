package eval

import (
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/tracker"
)

// sceneTrigger decides scene-change offloads the way offload.Engine.due does
// (its counterpart there): a frame not due by the interval is sent when its
// thumbnail differs from the last sent frame's by at least ChangeThreshold
// and at least ChangeMinGap frames have passed since that one. Only frames
// actually sent (not skipped for MaxInflight) move the reference thumbnail.
type sceneTrigger struct {
	threshold float64
	minGap    int
	haveSent  bool
	lastSent  int
	sentThumb offload.SceneThumb
	thumb     offload.SceneThumb
}

func newSceneTrigger(cfg CloudConfig) *sceneTrigger {
	return &sceneTrigger{threshold: cfg.ChangeThreshold, minGap: cfg.ChangeMinGap}
}

// due reports a scene change on frame j (pyramid pyr), for a frame the
// interval did not choose.
func (s *sceneTrigger) due(j int, pyr *tracker.Pyramid) bool {
	if s.threshold <= 0 {
		return false
	}
	if !s.haveSent {
		return true
	}
	if j < s.lastSent+s.minGap {
		return false
	}
	s.thumb.From(pyr)
	return offload.SceneDifference(&s.thumb, &s.sentThumb) >= s.threshold
}

// sent records that frame j went to the cloud.
func (s *sceneTrigger) sent(j int, pyr *tracker.Pyramid) {
	if s.threshold <= 0 {
		return
	}
	s.haveSent, s.lastSent = true, j
	s.sentThumb.From(pyr)
}
