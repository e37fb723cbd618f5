package pipetest

/*
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t plain_handled;
static void plain_handler (int sig) { plain_handled++; }

// Installs plain_handler for sig the way GLib's g_unix_signal_add does:
// without SA_ONSTACK. The previous action goes to old.
static int install_plain (int sig, struct sigaction *old)
{
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = plain_handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset (&sa.sa_mask);
  return sigaction (sig, &sa, old);
}

static int restore_action (int sig, struct sigaction *old) { return sigaction (sig, old, NULL); }

// 1 when sig's handler is plain_handler with SA_ONSTACK, 0 when it is
// plain_handler without, -1 when it is something else.
static int plain_onstack (int sig)
{
  struct sigaction sa;
  if (sigaction (sig, NULL, &sa) != 0 || sa.sa_handler != plain_handler)
    return -1;
  return (sa.sa_flags & SA_ONSTACK) != 0;
}

static int raise_plain (int sig) { plain_handled = 0; raise (sig); return plain_handled; }
*/
import "C"

import (
	"fmt"
	"syscall"
)

// PlainHandler is a C signal handler installed as hosts like gst-launch-1.0
// install theirs after the Go runtime has started: without SA_ONSTACK.
type PlainHandler struct {
	sig syscall.Signal
	old C.struct_sigaction
}

// InstallPlainHandler replaces sig's handler with a counting C handler
// without SA_ONSTACK; Restore puts the previous one back.
func InstallPlainHandler(sig syscall.Signal) (*PlainHandler, error) {
	h := &PlainHandler{sig: sig}
	if C.install_plain(C.int(sig), &h.old) != 0 {
		return nil, fmt.Errorf("sigaction(%v) failed", sig)
	}
	return h, nil
}

// OnStack reports whether the handler is still the plain one and whether it
// now has SA_ONSTACK.
func (h *PlainHandler) OnStack() (installed, onStack bool) {
	r := C.plain_onstack(C.int(h.sig))
	return r >= 0, r == 1
}

// Raise sends the signal to the calling thread and reports whether the
// handler ran.
func (h *PlainHandler) Raise() bool { return C.raise_plain(C.int(h.sig)) > 0 }

// Restore reinstalls the handler InstallPlainHandler replaced.
func (h *PlainHandler) Restore() error {
	if C.restore_action(C.int(h.sig), &h.old) != 0 {
		return fmt.Errorf("restoring the handler of %v failed", h.sig)
	}
	return nil
}
