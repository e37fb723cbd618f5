package runner_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/rtspserve"
	"github.com/gst-react/gst-react/internal/runner"
	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/wire"
)

// metric reads one sample of a /metrics page (-1 when absent).
func metric(page, name, stream string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\{stream="` + regexp.QuoteMeta(stream) + `"\} (\S+)$`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRunStreamsShareOneWorker: two cameras, one embedded NATS server and one
// in-process worker. Each stream's reactcloud sends under its own stream id,
// both get cloud replies, and both outputs are served by one RTSP server.
func TestRunStreamsShareOneWorker(t *testing.T) {
	if err := runner.Init(); err != nil {
		t.Fatal(err)
	}
	testStart := time.Now()
	cam := startCamera(t, cameraFrames(t), "127.0.0.1:0")
	defer cam.Close()

	// Every request on the wire, by stream id (a plain subscriber gets a
	// copy of what the worker's queue group gets).
	var mu sync.Mutex
	requests := map[string]int{}
	var nc *nats.Conn
	defer func() {
		if nc != nil {
			nc.Close()
		}
	}()
	notify := func(e runner.Event) {
		if e.Kind != runner.EventCloud {
			return
		}
		var err error
		if nc, err = nats.Connect(e.Detail); err != nil {
			t.Errorf("nats: %v", err)
			return
		}
		nc.Subscribe(wire.DefaultRequestSubject, func(m *nats.Msg) {
			if req, err := wire.DecodeRequest(m.Data, wire.DefaultLimits()); err == nil {
				mu.Lock()
				requests[req.StreamID]++
				mu.Unlock()
			}
		})
		nc.Flush()
	}

	cloudModel := testassets.Model(t, "yolox_nano_416x416")
	port := freePort(t)
	streams := []runner.Stream{
		{Input: cam.URL("/cam"), Output: fmt.Sprintf("rtsp://127.0.0.1:%d/cam0", port)},
		{Input: cam.URL("/cam"), Output: fmt.Sprintf("rtsp://127.0.0.1:%d/cam1", port)},
	}
	run := startRun(t, runner.Options{
		Interval: 5, Threshold: -1, NMSThreshold: -1, CloudInterval: 5, Threads: 1,
		// The small model in the worker too: replies well within
		// reactcloud's timeout on a busy 2-core machine.
		CloudModel:  cloudModel,
		MetricsAddr: "127.0.0.1:0", Notify: notify,
	}, streams)
	metricsURL := run.ev.wait(t, runner.EventMetrics, testStart, 30*time.Second).Detail

	// Both streams get replies from the one worker (read live off /metrics).
	var page string
	ok := waitFor(60*time.Second, func() bool {
		resp, err := http.Get(metricsURL)
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(b)
		return metric(page, "gstreact_run_cloud_replies_total", "cam0") > 0 && metric(page, "gstreact_run_cloud_replies_total", "cam1") > 0
	})
	if !ok {
		t.Fatalf("not both streams got cloud replies:\n%s\nprogress:\n%s", page, run.progress.String())
	}
	t.Logf("both streams answered by the cloud after %.1f s", time.Since(testStart).Seconds())

	// Both outputs, on one RTSP server, reach viewers.
	for _, id := range []string{"cam0", "cam1"} {
		v := startClient(t, fmt.Sprintf("rtsp://127.0.0.1:%d/%s", port, id))
		got := waitFor(30*time.Second, func() bool { return v.framesAfter(testStart) >= 5 })
		n := v.framesAfter(testStart)
		v.close()
		if !got {
			t.Fatalf("viewer of %s got %d frames", id, n)
		}
	}

	sums, err := run.stop(t, 30*time.Second)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(sums) != 2 {
		t.Fatalf("%d summaries", len(sums))
	}
	for i, s := range sums {
		id := fmt.Sprintf("cam%d", i)
		t.Logf("%s: %d frames, %d boxes %v, cloud replies %v, served %s", s.Stream, s.Frames, s.Boxes, s.BySource, s.Cloud["replies"], s.Served)
		if s.Stream != id || s.Frames == 0 || s.Cloud == nil || !strings.Contains(s.Pipeline, `stream-id="`+id+`"`) {
			t.Errorf("summary %d: %+v", i, s)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("requests on the wire by stream id: %v", requests)
	if requests["cam0"] == 0 || requests["cam1"] == 0 || len(requests) != 2 {
		t.Errorf("requests by stream id %v, want cam0 and cam1", requests)
	}
	for _, want := range []string{"cam0: frames", "cam1: frames", "cam0: serving rtsp://", "cam1: serving rtsp://"} {
		if !strings.Contains(run.progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, run.progress.String())
		}
	}
	t.Logf("took %.1f s", time.Since(testStart).Seconds())
}

// TestRunRTSPCameraLateStart: the camera is not there when the run starts;
// the run says so, keeps trying, and picks it up when it appears.
func TestRunRTSPCameraLateStart(t *testing.T) {
	if err := runner.Init(); err != nil {
		t.Fatal(err)
	}
	testStart := time.Now()
	frames := cameraFrames(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	run := startRun(t, runner.Options{
		Input: "rtsp://" + addr + "/cam", NoCloud: true, Interval: 5, Threshold: -1, NMSThreshold: -1,
		StallTimeout: time.Second, ReconnectMax: time.Second,
	}, nil)
	if !waitFor(20*time.Second, func() bool { return strings.Contains(run.progress.String(), "cannot connect to the input yet") }) {
		t.Fatalf("no line about the missing camera:\n%s", run.progress.String())
	}
	camStart := time.Now()
	cam := startCamera(t, frames, addr)
	defer cam.Close()
	up := run.ev.wait(t, runner.EventInputUp, testStart, 20*time.Second)
	t.Logf("camera picked up %.1f s after it started", up.Time.Sub(camStart).Seconds())
	time.Sleep(2 * time.Second)
	sums, err := run.stop(t, 20*time.Second)
	sum := sums[0]
	if err != nil || sum.Frames == 0 || sum.Outages != 0 {
		t.Fatalf("run: %v, summary %+v\n%s", err, sum, run.progress.String())
	}
	t.Logf("%d frames; took %.1f s", sum.Frames, time.Since(testStart).Seconds())
}

// TestRunRTSPCameraStallReconnects: the camera's server stays up but its
// frames stop (no error, no end of stream: a hung encoder); the run notices
// after StallTimeout, keeps trying, and carries on when frames come again.
func TestRunRTSPCameraStallReconnects(t *testing.T) {
	if err := runner.Init(); err != nil {
		t.Fatal(err)
	}
	testStart := time.Now()
	udp := freePort(t)
	// The camera relays RTP/JPEG it gets on a UDP port: stopping the sender
	// stalls it without any message.
	cam, err := rtspserve.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	if err := cam.MountLaunch("/cam", fmt.Sprintf(`( udpsrc port=%d caps="application/x-rtp,media=video,encoding-name=JPEG,payload=26,clock-rate=90000" ! rtpjpegdepay ! jpegdec ! videoconvert ! video/x-raw,format=I420 ! jpegenc ! rtpjpegpay name=pay0 pt=26 )`, udp), true); err != nil {
		t.Fatal(err)
	}
	sender := func() *gst.Pipeline {
		p, err := gst.NewPipelineFromString(fmt.Sprintf("videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! videoconvert ! video/x-raw,format=I420 ! jpegenc ! rtpjpegpay ! udpsink host=127.0.0.1 port=%d", udp))
		if err != nil {
			t.Fatal(err)
		}
		p.SetState(gst.StatePlaying)
		return p
	}
	send := sender()
	defer func() { send.SetState(gst.StateNull) }()

	run := startRun(t, runner.Options{
		Input: cam.URL("/cam"), NoCloud: true, Interval: 5, Threshold: -1, NMSThreshold: -1,
		StallTimeout: time.Second, ReconnectMax: time.Second,
	}, nil)
	run.ev.wait(t, runner.EventInputUp, testStart, 20*time.Second)
	stop := time.Now()
	send.SetState(gst.StateNull)
	downEv := run.ev.wait(t, runner.EventInputDown, stop, 10*time.Second)
	t.Logf("stall noticed %.1f s after the frames stopped: %s", downEv.Time.Sub(stop).Seconds(), downEv.Detail)
	if !strings.Contains(downEv.Detail, "no frame for") {
		t.Errorf("outage reason %q", downEv.Detail)
	}
	time.Sleep(time.Until(stop.Add(4 * time.Second)))
	restart := time.Now()
	send = sender()
	up := run.ev.wait(t, runner.EventInputUp, restart, 20*time.Second)
	t.Logf("frames back %.1f s after the sender restarted", up.Time.Sub(restart).Seconds())
	time.Sleep(time.Second)
	sums, err := run.stop(t, 20*time.Second)
	sum := sums[0]
	if err != nil || sum.Outages != 1 || sum.Repeated == 0 {
		t.Fatalf("run: %v, summary %+v\n%s", err, sum, run.progress.String())
	}
	t.Logf("%d frames, %d held; took %.1f s\n%s", sum.Frames, sum.Repeated, time.Since(testStart).Seconds(), run.progress.String())
}
