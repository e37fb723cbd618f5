package gstvideo

/*
#include "gstvideo.h"
gboolean react_push_policy_event (GstElement * e, guint64 frame, gboolean detect, guint max_interval, const char *reason);
void react_install_policy_follower (gpointer klass);
gdouble react_caps_fps (GstCaps * caps);
*/
import "C"

import (
	"sync"
	"unsafe"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"
)

// PolicyEvent is what an adaptive policy downstream (reactcloud) tells the
// edge detector upstream (reactdetect), as a custom upstream event named
// GstReactPolicy.
type PolicyEvent struct {
	// Frame is the frame the decision was made on.
	Frame uint64
	// Detect asks for the edge detector on the next frame.
	Detect bool
	// MaxInterval is the policy's floor: it asks for a detection at least
	// this often, so a detector that hears nothing for longer knows the
	// policy is gone and goes back to its own interval.
	MaxInterval int
}

// PolicyFollower is implemented by elements that install
// InstallPolicyFollower; FollowPolicy runs on the thread that sent the
// event (the downstream element's streaming thread).
type PolicyFollower interface {
	FollowPolicy(ev PolicyEvent)
}

// InstallPolicyFollower makes klass (a GstBaseTransform subclass) hand
// GstReactPolicy events to the Go instance's FollowPolicy and consume them;
// other upstream events go on as before. Call from ClassInit.
func InstallPolicyFollower(klass *glib.ObjectClass) {
	C.react_install_policy_follower(C.gpointer(unsafe.Pointer(klass.Instance())))
}

//export gstreactPolicyEvent
func gstreactPolicyEvent(trans *C.GstBaseTransform, frame C.guint64, detect C.gboolean, maxInterval C.guint) {
	if h, ok := glib.FromObjectUnsafePrivate(unsafe.Pointer(trans)).(PolicyFollower); ok {
		h.FollowPolicy(PolicyEvent{Frame: uint64(frame), Detect: detect != 0, MaxInterval: int(maxInterval)})
	}
}

// reasonStrings holds each reason name as a C string, made once, so sending
// an event allocates nothing on the Go heap.
var (
	reasonMu      sync.Mutex
	reasonStrings = map[string]*C.char{}
)

func cReason(s string) *C.char {
	reasonMu.Lock()
	defer reasonMu.Unlock()
	c, ok := reasonStrings[s]
	if !ok {
		c = C.CString(s) // kept for the process: a handful of names
		reasonStrings[s] = c
	}
	return c
}

// PushPolicyEvent sends ev upstream from element (a GstElement with a
// "sink" pad; its pointer as Instance keeps it) with the reason the policy
// gave; it reports whether an upstream element handled it.
func PushPolicyEvent(element unsafe.Pointer, ev PolicyEvent, reason string) bool {
	if element == nil {
		return false
	}
	var d C.gboolean
	if ev.Detect {
		d = 1
	}
	return C.react_push_policy_event((*C.GstElement)(element), C.guint64(ev.Frame), d, C.guint(ev.MaxInterval), cReason(reason)) != 0
}

// FrameRate is the framerate of fixed caps in frames per second, 0 when
// they give none (a variable rate, 0/1).
func FrameRate(caps *gst.Caps) float64 {
	if caps == nil {
		return 0
	}
	return float64(C.react_caps_fps((*C.GstCaps)(unsafe.Pointer(caps.Instance()))))
}
