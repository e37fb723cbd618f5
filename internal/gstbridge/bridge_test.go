package gstbridge_test

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/gstbridge"
)

func TestBridgeRestampsRepeatsAndDropsStale(t *testing.T) {
	gst.Init(nil)
	dst, err := gst.NewPipelineFromString("appsrc name=in is-live=true format=time ! fakesink name=out sync=false")
	if err != nil {
		t.Fatal(err)
	}
	defer dst.SetState(gst.StateNull)
	in, _ := dst.GetElementByName("in")
	out, _ := dst.GetElementByName("out")
	var got atomic.Int64
	var badPTS atomic.Bool
	out.GetStaticPad("sink").AddProbe(gst.PadProbeTypeBuffer, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if b := info.GetBuffer(); b != nil {
			got.Add(1)
			if b.PresentationTimestamp() == gst.ClockTimeNone {
				badPTS.Store(true)
			}
		}
		return gst.PadProbeOK
	})
	dst.SetState(gst.StatePlaying)

	b := gstbridge.New(false)
	defer b.Close()
	b.AddTargetElement(in)
	attach := func(n int) *gst.Pipeline {
		p, err := gst.NewPipelineFromString("videotestsrc num-buffers=" + strconv.Itoa(n) + " ! video/x-raw,width=64,height=48,format=I420 ! appsink name=sink sync=false")
		if err != nil {
			t.Fatal(err)
		}
		s, _ := p.GetElementByName("sink")
		b.Attach(s)
		return p
	}
	src := func(n int) *gst.Pipeline {
		p := attach(n)
		p.SetState(gst.StatePlaying)
		return p
	}
	wait := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for got.Load() < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got.Load() != n {
			t.Fatalf("target got %d buffers, want %d", got.Load(), n)
		}
	}
	p1 := src(5)
	wait(5)
	// The first source's EOS does not end the target (forwardEOS false): a
	// second source carries on into the same appsrc (an appsrc that got EOS
	// would refuse its buffers).
	if msg := p1.GetPipelineBus().TimedPopFiltered(gst.ClockTime(5*time.Second), gst.MessageEOS); msg == nil {
		t.Fatal("the first source did not reach its end")
	}
	p1.SetState(gst.StateNull)
	p2 := src(3)
	wait(8)
	p2.SetState(gst.StateNull)
	if !b.Repeat() {
		t.Fatal("no last sample to repeat")
	}
	wait(9)
	st := b.Stats()
	if st.Samples != 8 || st.GenSamples != 3 || st.Repeats != 1 || st.SinceLast < 0 {
		t.Fatalf("stats %+v", st)
	}
	if c := b.Caps(); !strings.Contains(c, "width=(int)64") {
		t.Fatalf("caps %q", c)
	}
	if badPTS.Load() {
		t.Fatal("a buffer reached the target without a timestamp")
	}
	// Invalidate: what the attached source still delivers is dropped.
	// Its end of stream comes after all its buffers reached the appsink, so
	// the check below sees them at any speed (it waited 300 ms, which a busy
	// core could spend before the source had delivered anything).
	p3 := attach(4)
	b.Invalidate()
	p3.SetState(gst.StatePlaying)
	if msg := p3.GetPipelineBus().TimedPopFiltered(gst.ClockTime(30*time.Second), gst.MessageEOS); msg == nil {
		t.Fatal("the stale source did not reach its end")
	}
	p3.SetState(gst.StateNull)
	if got.Load() != 9 || b.Stats().Samples != 8 {
		t.Fatalf("stale source got through: %d buffers, stats %+v", got.Load(), b.Stats())
	}
}
