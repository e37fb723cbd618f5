package gstvideo

/*
#include "gstvideo.h"
gint react_signals_onstack (GstObject * who);
void react_install_signal_guard (gpointer klass);
*/
import "C"

import (
	"unsafe"

	"github.com/go-gst/go-glib/glib"
)

// SignalsOnStack gives every installed signal handler that lacks it the
// SA_ONSTACK flag Go requires of every handler in its process (see
// signalstack.c for the crash without it) and returns how many it changed.
// Go does the same for the handlers it finds when the plugin loads; the
// elements of InstallSignalGuard call this on every upward state change, for
// those a host such as gst-launch-1.0 installs later.
func SignalsOnStack() int { return int(C.react_signals_onstack(nil)) }

// InstallSignalGuard makes klass (a GstBaseTransform subclass) run
// SignalsOnStack before every upward state change. Call from ClassInit.
func InstallSignalGuard(klass *glib.ObjectClass) {
	C.react_install_signal_guard(C.gpointer(unsafe.Pointer(klass.Instance())))
}
