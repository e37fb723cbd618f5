package gstvideo

/*
#include "gstvideo.h"
void react_install_signal_guard (gpointer klass);
*/
import "C"

import (
	"unsafe"

	"github.com/go-gst/go-glib/glib"
)

// InstallSignalGuard makes klass (a GstBaseTransform subclass) give every
// installed signal handler that lacks it the SA_ONSTACK flag Go requires of
// every handler in its process, before every upward state change (see
// signalstack.c for the crash without it). Go does the same for the handlers
// it finds when the plugin loads; this catches those a host such as
// gst-launch-1.0 installs later. Call from ClassInit.
func InstallSignalGuard(klass *glib.ObjectClass) {
	C.react_install_signal_guard(C.gpointer(unsafe.Pointer(klass.Instance())))
}
