package shell

import "github.com/gst-react/gst-react/internal/gstvideo"

// PushPolicy sends an adaptive policy's decision upstream from this element
// (reactcloud to reactdetect); it reports whether an element took it.
func (i *Instance) PushPolicy(ev gstvideo.PolicyEvent, reason string) bool {
	return gstvideo.PushPolicyEvent(i.ptr, ev, reason)
}
