package rtspserve_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/gstbridge"
	"github.com/gst-react/gst-react/internal/rtspserve"
)

var initOnce sync.Once

func initGst() { initOnce.Do(func() { gst.Init(nil) }) }

// receive plays an RTSP client pipeline and counts decoded frames until n
// arrived or the timeout passed. It may run on its own goroutine, so it
// reports a failure with t.Error and 0 frames, never t.Fatal.
func receive(t *testing.T, url, depayDec string, n int, timeout time.Duration) int {
	t.Helper()
	p, err := gst.NewPipelineFromString(fmt.Sprintf("rtspsrc location=%s latency=100 protocols=tcp ! %s ! fakesink name=sink sync=false", url, depayDec))
	if err != nil {
		t.Error(err)
		return 0
	}
	defer p.SetState(gst.StateNull)
	sink, _ := p.GetElementByName("sink")
	var frames atomic.Int64
	sink.GetStaticPad("sink").AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		frames.Add(1)
		return gst.PadProbeOK
	})
	p.SetState(gst.StatePlaying)
	bus := p.GetPipelineBus()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && frames.Load() < int64(n) {
		if msg := bus.TimedPop(gst.ClockTime(50 * time.Millisecond)); msg != nil && msg.Type() == gst.MessageError {
			t.Logf("client %s: %v", url, msg.ParseError())
			break
		}
	}
	return int(frames.Load())
}

func TestMountLaunchServesAndRestartsOnSamePort(t *testing.T) {
	initGst()
	s, err := rtspserve.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const cam = "( videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! videoconvert ! video/x-raw,format=I420 ! jpegenc ! rtpjpegpay name=pay0 )"
	if err := s.MountLaunch("/cam", cam, true); err != nil {
		t.Fatal(err)
	}
	port := s.Port()
	if port == 0 {
		t.Fatal("no bound port")
	}
	if got := receive(t, s.URL("/cam"), "rtpjpegdepay ! jpegdec", 5, 15*time.Second); got < 5 {
		t.Fatalf("got %d frames from %s", got, s.URL("/cam"))
	}
	s.Close()
	s2, err := rtspserve.Listen(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("restart on port %d: %v", port, err)
	}
	defer s2.Close()
	if err := s2.MountLaunch("/cam", cam, true); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, s2.URL("/cam"), "rtpjpegdepay ! jpegdec", 5, 15*time.Second); got < 5 {
		t.Fatalf("after restart: got %d frames", got)
	}
}

func TestMountFeedServesSeveralClients(t *testing.T) {
	initGst()
	s, err := rtspserve.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	src, err := gst.NewPipelineFromString("videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! " +
		"x264enc tune=zerolatency speed-preset=ultrafast key-int-max=60 ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=out sync=false")
	if err != nil {
		t.Fatal(err)
	}
	defer src.SetState(gst.StateNull)
	b := gstbridge.New(true)
	defer b.Close()
	out, _ := src.GetElementByName("out")
	b.Attach(out)
	src.SetState(gst.StatePlaying)
	if err := s.MountFeed("/out", b); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]int, 2)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = receive(t, s.URL("/out"), "rtph264depay ! h264parse ! avdec_h264", 10, 20*time.Second)
		}()
	}
	wg.Wait()
	if got[0] < 10 || got[1] < 10 {
		t.Fatalf("clients decoded %v frames", got)
	}
	if st := b.Stats(); st.Pushed == 0 {
		t.Fatalf("bridge %+v", st)
	}
}
