package runner_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/pipetest"
	"github.com/gst-react/gst-react/internal/rtspserve"
	"github.com/gst-react/gst-react/internal/runner"
	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/testlog"
)

const camW, camH = 640, 360

// cameraFrames writes the MOT17 mini sequence at 640x360 as a ping-pong loop
// (1..8..2) of JPEGs, so a looping camera shows continuous motion.
func cameraFrames(t *testing.T) string { return cameraFramesSized(t, camW, camH) }

func cameraFramesSized(t *testing.T, camW, camH int) string {
	t.Helper()
	seq := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1")
	dir := t.TempDir()
	desc := fmt.Sprintf(`multifilesrc location="%s/%%06d.jpg" start-index=1 stop-index=8 caps="image/jpeg,framerate=15/1" ! jpegdec ! videoscale ! video/x-raw,width=%d,height=%d ! videoconvert ! video/x-raw,format=I420 ! jpegenc quality=90 ! multifilesink location="%s/%%06d.jpg"`, seq, camW, camH, dir)
	res, err := pipetest.Run(desc, 30*time.Second)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("making camera frames: %v %s", err, res.ErrorText())
	}
	for i := 8; i <= 13; i++ { // 6, 5, …, 1 back to the start
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%06d.jpg", 14-i)))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%06d.jpg", i)), b, 0o644)
	}
	return dir
}

// startCamera serves the frames in a loop at 15 fps as MJPEG over RTSP.
func startCamera(t *testing.T, dir, addr string) *rtspserve.Server {
	t.Helper()
	s, err := rtspserve.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	launch := fmt.Sprintf(`( multifilesrc location="%s/%%06d.jpg" loop=true caps="image/jpeg,framerate=15/1" ! jpegdec ! videoconvert ! video/x-raw,format=I420 ! jpegenc quality=90 ! rtpjpegpay name=pay0 pt=26 )`, dir)
	if err := s.MountLaunch("/cam", launch, true); err != nil {
		t.Fatal(err)
	}
	return s
}

// client is an RTSP viewer decoding the H.264 stream to RGB.
type client struct {
	p      *gst.Pipeline
	mu     sync.Mutex
	times  []time.Time
	pixels [][]byte // every 5th frame
	errs   []string
	stop   chan struct{}
	done   chan struct{}
}

func startClient(t *testing.T, url string) *client {
	t.Helper()
	p, err := gst.NewPipelineFromString(fmt.Sprintf("rtspsrc name=src location=%s latency=100 protocols=tcp ! rtph264depay ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=RGB,width=%d,height=%d ! fakesink name=sink sync=false", url, camW, camH))
	if err != nil {
		t.Fatal(err)
	}
	c := &client{p: p, stop: make(chan struct{}), done: make(chan struct{})}
	sink, _ := p.GetElementByName("sink")
	sink.GetStaticPad("sink").AddProbe(gst.PadProbeTypeBuffer, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		buf := info.GetBuffer()
		c.mu.Lock()
		defer c.mu.Unlock()
		c.times = append(c.times, time.Now())
		if buf != nil && len(c.times)%5 == 0 && len(c.pixels) < 40 {
			mi := buf.Map(gst.MapRead)
			c.pixels = append(c.pixels, append([]byte(nil), mi.Bytes()...))
			buf.Unmap()
		}
		return gst.PadProbeOK
	})
	p.SetState(gst.StatePlaying)
	go func() {
		defer close(c.done)
		bus := p.GetPipelineBus()
		for {
			select {
			case <-c.stop:
				return
			default:
			}
			msg := bus.TimedPop(gst.ClockTime(100 * time.Millisecond))
			if msg == nil {
				continue
			}
			// Warnings too: rtspsrc reports a refused or timed-out
			// transport as a warning and retries, which would otherwise
			// leave a viewer with no frames and nothing to say why.
			var note string
			switch msg.Type() {
			case gst.MessageError:
				note = msg.ParseError().Error()
			case gst.MessageWarning:
				note = "warning: " + msg.ParseWarning().Error()
			case gst.MessageEOS:
				note = "EOS"
			}
			if note != "" {
				c.mu.Lock()
				c.errs = append(c.errs, note)
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *client) close() {
	close(c.stop)
	<-c.done
	c.p.SetState(gst.StateNull)
}

// report is what the viewer has said on its bus and the state its pipeline
// is in, for a failure message.
func (c *client) report() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var states []string
	for _, name := range []string{"src", "sink"} {
		if el, err := c.p.GetElementByName(name); err == nil && el != nil {
			states = append(states, fmt.Sprintf("%s %s", name, el.GetCurrentState()))
		}
	}
	return fmt.Sprintf("messages %q; pipeline %s (%s)", c.errs, c.p.GetCurrentState(), strings.Join(states, ", "))
}

// framesAfter counts frames that arrived after t.
func (c *client) framesAfter(t time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, at := range c.times {
		if at.After(t) {
			n++
		}
	}
	return n
}

// waitFor polls cond every 50 ms until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// events collects a run's events.
type events struct {
	mu  sync.Mutex
	all []runner.Event
}

func (e *events) add(ev runner.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) find(kind runner.EventKind, after time.Time) (runner.Event, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.all {
		if ev.Kind == kind && !ev.Time.Before(after) {
			return ev, true
		}
	}
	return runner.Event{}, false
}

func (e *events) wait(t *testing.T, kind runner.EventKind, after time.Time, timeout time.Duration) runner.Event {
	t.Helper()
	var ev runner.Event
	if !waitFor(timeout, func() bool {
		var ok bool
		ev, ok = e.find(kind, after)
		return ok
	}) {
		e.mu.Lock()
		defer e.mu.Unlock()
		t.Fatalf("no %s event within %s; events: %+v", kind, timeout, e.all)
	}
	return ev
}

// backgroundRun is runner.Run (or RunStreams) on a goroutine, with its events
// and progress lines collected for the test to wait on.
type backgroundRun struct {
	ev       events
	progress testlog.Buffer
	cancel   context.CancelFunc
	done     chan runResult
}

type runResult struct {
	sums []runner.Summary
	err  error
}

// startRun starts runner.RunStreams(opts, streams), or runner.Run(opts) when
// streams is nil. opts.Progress is the run's buffer; opts.Notify, if set, is
// called after each event is recorded. The run is cancelled at cleanup.
func startRun(t *testing.T, opts runner.Options, streams []runner.Stream) *backgroundRun {
	r := &backgroundRun{done: make(chan runResult, 1)}
	notify := opts.Notify
	opts.Progress = &r.progress
	opts.Notify = func(e runner.Event) {
		r.ev.add(e)
		if notify != nil {
			notify(e)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	t.Cleanup(cancel)
	go func() {
		if streams == nil {
			sum, err := runner.Run(ctx, opts)
			r.done <- runResult{[]runner.Summary{sum}, err}
			return
		}
		sums, err := runner.RunStreams(ctx, opts, streams)
		r.done <- runResult{sums, err}
	}()
	return r
}

// stop cancels the run and returns what it returned, failing the test if it
// does not end within timeout.
func (r *backgroundRun) stop(t *testing.T, timeout time.Duration) ([]runner.Summary, error) {
	t.Helper()
	r.cancel()
	select {
	case res := <-r.done:
		return res.sums, res.err
	case <-time.After(timeout):
		t.Fatalf("the run did not end %s after cancel\nprogress:\n%s", timeout, r.progress.String())
		return nil, nil
	}
}

// changedPixels counts pixels of a that differ from b by more than 80 in a
// channel: box outlines and labels, not coding noise.
func changedPixels(a, b []byte) int {
	n := 0
	for i := 0; i+2 < len(a) && i+2 < len(b); i += 3 {
		d := 0
		for c := 0; c < 3; c++ {
			x := int(a[i+c]) - int(b[i+c])
			if x < 0 {
				x = -x
			}
			d = max(d, x)
		}
		if d > 80 {
			n++
		}
	}
	return n
}

// TestRunRTSPCameraOutageRTSPOut is the deployment acceptance test: an RTSP
// camera (MOT17 frames looped) → runner.Run → served over RTSP → a viewer.
// The camera goes away for 3 s and comes back on the same port: the run
// reconnects by itself and the viewer, never restarted, gets fresh frames.
func TestRunRTSPCameraOutageRTSPOut(t *testing.T) {
	if err := runner.Init(); err != nil {
		t.Fatal(err)
	}
	testStart := time.Now()
	frames := cameraFrames(t)
	cam := startCamera(t, frames, "127.0.0.1:0")
	camAddr := fmt.Sprintf("127.0.0.1:%d", cam.Port())
	camURL := cam.URL("/cam")
	defer func() { cam.Close() }()

	run := startRun(t, runner.Options{
		Input: camURL, Output: "rtsp://127.0.0.1:0/out",
		Interval: 3, Threshold: -1, NMSThreshold: -1, CloudInterval: 10,
		StallTimeout: 1500 * time.Millisecond, ReconnectMin: 250 * time.Millisecond, ReconnectMax: 2 * time.Second,
		MetricsAddr: "127.0.0.1:0", ProgressEvery: 500 * time.Millisecond,
	}, nil)
	outURL := run.ev.wait(t, runner.EventServing, testStart, 30*time.Second).Detail
	metricsURL := run.ev.wait(t, runner.EventMetrics, testStart, 5*time.Second).Detail
	run.ev.wait(t, runner.EventInputUp, testStart, 20*time.Second)
	t.Logf("camera %s → run → %s (%.1f s after start)", camURL, outURL, time.Since(testStart).Seconds())

	viewer := startClient(t, outURL)
	defer viewer.close()
	if !waitFor(30*time.Second, func() bool { return viewer.framesAfter(testStart) >= 15 }) {
		t.Fatalf("viewer got %d frames; %s\nprogress:\n%s", viewer.framesAfter(testStart), viewer.report(), run.progress.String())
	}
	t.Logf("viewer decoding (%.1f s)", time.Since(testStart).Seconds())

	// Live metrics while running.
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"# TYPE gstreact_run_frames_total counter", `gstreact_run_input_up{stream="stream0"} 1`, `gstreact_run_boxes_total{stream="stream0",source="edge"}`, "gstreact_run_cloud_rtt_milliseconds"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}

	// The camera drops for 3 s, and comes back at another resolution (the
	// run scales it to the first one: the output never renegotiates, and
	// the viewer, which only accepts 640x360, carries on).
	small := cameraFramesSized(t, 480, 270)
	down := time.Now()
	cam.Close()
	run.ev.wait(t, runner.EventInputDown, down, 10*time.Second)
	t.Logf("outage noticed after %.1f s", time.Since(down).Seconds())
	time.Sleep(time.Until(down.Add(3 * time.Second)))
	cam = startCamera(t, small, camAddr)
	back := time.Now()
	up := run.ev.wait(t, runner.EventInputUp, back, 20*time.Second)
	t.Logf("input back %.1f s after the restart (outage %.1f s)", up.Time.Sub(back).Seconds(), up.Outage.Seconds())

	// Fresh frames reach the same viewer: more than the 1/s the run repeats
	// while the camera is away.
	if !waitFor(20*time.Second, func() bool { return viewer.framesAfter(up.Time) >= 20 }) {
		t.Fatalf("after the outage the viewer got %d frames; %s\nprogress:\n%s", viewer.framesAfter(up.Time), viewer.report(), run.progress.String())
	}
	during := viewer.framesAfter(down) - viewer.framesAfter(up.Time)
	t.Logf("viewer: %d frames during the outage (held frames), %d after", during, viewer.framesAfter(up.Time))
	// The run repeats the last frame every holdEvery while the camera is away
	// (~3 s here), so the viewer's stream never stops.
	if during < 2 {
		t.Errorf("viewer got %d frames during the %.1f s outage, want the held frame repeated", during, up.Outage.Seconds())
	}

	// Boxes are drawn: the viewer's frames differ from every camera frame
	// in box-outline pixels.
	src, err := pipetest.Run(fmt.Sprintf(`multifilesrc location="%s/%%06d.jpg" start-index=0 stop-index=13 caps="image/jpeg,framerate=15/1" ! jpegdec ! videoconvert ! video/x-raw,format=RGB ! fakesink name=s`, frames), 20*time.Second, pipetest.Probe{Element: "s", Pad: "sink", Pixels: true})
	if err != nil {
		t.Fatal(err)
	}
	viewer.mu.Lock()
	pix := viewer.pixels
	viewer.mu.Unlock()
	best := 0
	for _, p := range pix {
		least := -1
		for _, f := range src.Frames["s.sink"] {
			if n := changedPixels(p, f.Pixels); least < 0 || n < least {
				least = n
			}
		}
		best = max(best, least)
	}
	t.Logf("most box pixels in a received frame: %d (of %d frames checked)", best, len(pix))
	// Without boxes (threshold 0.999, no cloud) the same check finds at most
	// ~600 pixels (coding noise, the rescaled second camera); with boxes ~45000.
	if best < 5000 {
		t.Errorf("received frames look like the camera's: at most %d changed pixels, want boxes drawn", best)
	}

	sums, err := run.stop(t, 20*time.Second)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	sum := sums[0]
	t.Logf("summary: %d frames, %d boxes %v, outages %d (%.1f s), %d repeated; served %s", sum.Frames, sum.Boxes, sum.BySource, sum.Outages, sum.Downtime.Seconds(), sum.Repeated, sum.Served)
	if sum.Outages != 1 || sum.Boxes == 0 || sum.Served != outURL || sum.Cloud == nil || sum.Repeated == 0 {
		t.Fatalf("summary %+v", sum)
	}
	out := run.progress.String()
	for _, want := range []string{"serving " + outURL, "input lost", "input back after"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	t.Logf("took %.1f s; progress:\n%s", time.Since(testStart).Seconds(), out)
}
