package elements_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/pipetest"
)

// A host that installs a signal handler without SA_ONSTACK after Go has
// started (gst-launch-1.0 does so for SIGINT once the pipeline is built) lets
// the kernel push the signal frame onto whatever goroutine stack the thread
// is on, past its end: a Ctrl-C that corrupted a parked goroutine and crashed
// gst-launch at shutdown. Every element's state change must give such a
// handler the flag, and the handler must still run.
func TestElementsGiveHostSignalHandlersTheAltStack(t *testing.T) {
	for _, el := range []string{"reacttrack", "reactoverlay", "reactpublish location=/dev/null"} {
		h, err := pipetest.InstallPlainHandler(syscall.SIGUSR2)
		if err != nil {
			t.Fatal(err)
		}
		if _, onStack := h.OnStack(); onStack {
			t.Fatal("the plain handler has SA_ONSTACK before any pipeline ran")
		}
		res, err := pipetest.Run("videotestsrc num-buffers=2 ! video/x-raw,width=64,height=48 ! "+el+" ! fakesink", time.Minute)
		installed, onStack := h.OnStack()
		ran := h.Raise()
		if rerr := h.Restore(); rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil || len(res.Errors) > 0 {
			t.Fatalf("%s: run: %v %v", el, err, res.Errors)
		}
		if !installed || !onStack {
			t.Fatalf("%s: after a run the host's handler is installed=%v with SA_ONSTACK=%v; want both", el, installed, onStack)
		}
		if !ran {
			t.Fatalf("%s: the host's handler no longer runs", el)
		}
	}
}
