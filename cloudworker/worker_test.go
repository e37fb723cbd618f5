package cloudworker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
	"github.com/gst-react/gst-react/internal/onnx/onnxtest"
	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/testlog"
	"github.com/gst-react/gst-react/internal/wire"
)

func TestDetectFullAndHalfSizeJPEG(t *testing.T) {
	srv := startNATS(t)
	newWorker(t, srv.ClientURL(), cloudModel, func(o *Options) { o.WorkerID = "cloud-1" })
	nc := connect(t, srv.ClientURL())

	full := frameJPEG(t)
	req := request(t, full, 0, 0)
	if req.Width != 1920 || req.Height != 1080 {
		t.Fatalf("asset is %dx%d, want 1920x1080", req.Width, req.Height)
	}
	repFull := ask(t, nc, encode(t, &req), 30*time.Second)
	checkOK(t, repFull, &req)
	persons := 0
	for _, b := range repFull.Boxes {
		if b.Class == 0 {
			persons++
		}
	}
	// MOT17-04 frame 1 has dozens of pedestrians.
	if persons < 15 {
		t.Fatalf("%d person boxes of %d, want many", persons, len(repFull.Boxes))
	}
	t.Logf("full: %d boxes (%d persons), decode %d µs, inference %d µs, total %d µs",
		len(repFull.Boxes), persons, repFull.DecodeUS, repFull.InferUS, repFull.TotalUS)

	// The same frame sent as a 960x540 JPEG: boxes still come back in 1920x1080.
	img, err := jpeg.Decode(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	half := encodeJPEG(t, downscale(img, 960, 540), 90)
	reqHalf := request(t, half, 1920, 1080)
	reqHalf.Frame = 43
	repHalf := ask(t, nc, encode(t, &reqHalf), 30*time.Second)
	checkOK(t, repHalf, &reqHalf)
	// Compare the confident full-size boxes with the half-size result. Small
	// people are lost at half size, so judge the ones the model is sure of.
	var matched, confident int
	for _, a := range repFull.Boxes {
		if a.Score < 0.6 {
			continue
		}
		confident++
		best := float32(0)
		for _, b := range repHalf.Boxes {
			if b.Class == a.Class {
				best = max(best, detection.IoU(a.Rect, b.Rect))
			}
		}
		if best > 0.7 {
			matched++
		}
	}
	t.Logf("half: %d boxes; %d of %d confident full-size boxes matched at IoU > 0.7", len(repHalf.Boxes), matched, confident)
	if confident < 5 || matched*10 < confident*7 {
		t.Fatalf("only %d of %d confident boxes matched at IoU > 0.7: half-size boxes are not in frame space", matched, confident)
	}
}

func checkOK(t *testing.T, rep wire.Reply, req *wire.Request) {
	t.Helper()
	if rep.Status != wire.CodeOK {
		t.Fatalf("status %v: %s", rep.Status, rep.Message)
	}
	if rep.StreamID != req.StreamID || rep.Frame != req.Frame || rep.WorkerID == "" {
		t.Fatalf("echo: stream %q frame %d worker %q", rep.StreamID, rep.Frame, rep.WorkerID)
	}
	if rep.DecodeUS == 0 || rep.InferUS == 0 || rep.TotalUS < rep.DecodeUS+rep.InferUS {
		t.Fatalf("timing decode %d inference %d total %d µs", rep.DecodeUS, rep.InferUS, rep.TotalUS)
	}
	if err := rep.Validate(wire.Limits{}, req.Width, req.Height); err != nil {
		t.Fatal(err)
	}
}

func TestBadRequests(t *testing.T) {
	srv := startNATS(t)
	smallLimit := 20000
	w := newWorker(t, srv.ClientURL(), fastModel, func(o *Options) { o.Limits.MaxJPEGBytes = smallLimit })
	nc := connect(t, srv.ClientURL())

	// A small real JPEG for the cases that need a valid one.
	img, err := jpeg.Decode(bytes.NewReader(frameJPEG(t)))
	if err != nil {
		t.Fatal(err)
	}
	small := encodeJPEG(t, downscale(img, 192, 108), 80)
	if len(small) >= smallLimit {
		t.Fatalf("small JPEG is %d bytes, want < %d", len(small), smallLimit)
	}
	good := encode(t, ptr(request(t, small, 0, 0)))

	wrongVersion := bytes.Clone(good)
	wrongVersion[4] = 9

	corrupt := bytes.Clone(small)
	corrupt = append(corrupt[:sosEnd(t, corrupt)+40], 0xFF, 0xD9) // header intact, scan cut short

	bombJPEG := bytes.Clone(small)
	setSOF(t, bombJPEG, 60000, 60000)
	bombDeclared := request(t, small, 0, 0)
	bombDeclared.JPEG, bombDeclared.JPEGWidth, bombDeclared.JPEGHeight = bombJPEG, 60000, 60000
	bombDeclared.Width, bombDeclared.Height = 60000, 60000
	bombHidden := request(t, small, 0, 0)
	bombHidden.JPEG = bombJPEG // request says 192x108, header says 60000x60000

	mismatch := request(t, small, 1920, 1080)
	mismatch.JPEGWidth = 200

	bigJPEG := frameJPEG(t) // 230 KB, over the worker's 20000-byte limit
	expired := request(t, small, 0, 0)
	expired.SentAt, expired.TimeoutMS = time.Now().Add(-2*time.Second).UnixNano(), 100

	cases := []struct {
		name string
		msg  []byte
		code wire.Code
		word string // in the reply message
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n"), wire.CodeBadRequest, "RCTQ"},
		{"empty", nil, wire.CodeBadRequest, "short"},
		{"wrong version", wrongVersion, wire.CodeBadVersion, "version 9"},
		{"truncated", good[:len(good)-10], wire.CodeBadRequest, "only"},
		{"trailing", append(bytes.Clone(good), 0), wire.CodeBadRequest, "after"},
		{"corrupt jpeg body", encode(t, ptr(request(t, corrupt, 0, 0))), wire.CodeDecodeFailed, "JPEG data"},
		{"bomb declared", rawRequest(&bombDeclared), wire.CodeTooLarge, "60000x60000"},
		{"bomb hidden", rawRequest(&bombHidden), wire.CodeBadRequest, "header says 60000x60000"},
		{"dims mismatch", rawRequest(&mismatch), wire.CodeBadRequest, "header says 192x108"},
		{"over jpeg limit", encode(t, ptr(request(t, bigJPEG, 0, 0))), wire.CodeTooLarge, "limit 20000"},
		{"expired", encode(t, &expired), wire.CodeDeadlineExceeded, "expired"},
	}
	for _, c := range cases {
		rep := ask(t, nc, c.msg, 10*time.Second)
		if rep.Status != c.code || !strings.Contains(rep.Message, c.word) || len(rep.Boxes) != 0 {
			t.Errorf("%s: got %v %q, want %v mentioning %q", c.name, rep.Status, rep.Message, c.code, c.word)
		}
		if rep.WorkerID != w.Options().WorkerID {
			t.Errorf("%s: worker id %q", c.name, rep.WorkerID)
		}
	}
	// A readable request's error reply echoes its stream and frame.
	if rep := ask(t, nc, encode(t, &expired), 5*time.Second); rep.StreamID != "cam-test" || rep.Frame != 42 {
		t.Errorf("expired reply echoes %q %d", rep.StreamID, rep.Frame)
	}
	// The worker still serves good requests.
	if rep := ask(t, nc, good, 10*time.Second); rep.Status != wire.CodeOK {
		t.Fatalf("good request after bad ones: %v %s", rep.Status, rep.Message)
	}
	// A message without a reply subject cannot be answered: counted, not fatal.
	if err := nc.Publish(wire.DefaultRequestSubject, []byte("junk")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "send failure counted", 5*time.Second, func() bool { return w.Stats().SendFailures == 1 })

	s := w.Stats()
	n := uint64(len(cases))
	want := map[wire.Code]uint64{
		wire.CodeOK: 1, wire.CodeBadRequest: 6, wire.CodeBadVersion: 1, wire.CodeTooLarge: 2,
		wire.CodeDecodeFailed: 1, wire.CodeDeadlineExceeded: 2,
	}
	for code, v := range want {
		if s.Replies[code] != v {
			t.Errorf("replies[%v] = %d, want %d (all: %v)", code, s.Replies[code], v, s.Replies)
		}
	}
	if s.Requests != n+3 || s.Errors != n+1+1 || s.InFlight != 0 || s.Panics != 0 {
		t.Errorf("stats: requests %d errors %d in-flight %d panics %d; want %d, %d, 0, 0", s.Requests, s.Errors, s.InFlight, s.Panics, n+3, n+2)
	}
}

func ptr[T any](v T) *T { return &v }

// rawRequest encodes r without validation, as a broken or hostile edge would:
// wire.AppendRequest refuses these. It relies on the documented layout.
func rawRequest(r *wire.Request) []byte {
	le := func(b []byte, v uint64, n int) []byte {
		for i := range n {
			b = append(b, byte(v>>(8*i)))
		}
		return b
	}
	b := []byte("RCTQ")
	b = le(b, uint64(wire.Version), 2)
	b = le(b, r.Frame, 8)
	b = le(b, uint64(r.PTS), 8)
	b = le(b, uint64(r.SentAt), 8)
	b = le(b, uint64(r.TimeoutMS), 4)
	b = le(b, uint64(r.Width), 4)
	b = le(b, uint64(r.Height), 4)
	b = le(b, uint64(r.JPEGWidth), 4)
	b = le(b, uint64(r.JPEGHeight), 4)
	b = append(b, byte(len(r.StreamID)))
	b = append(b, r.StreamID...)
	b = le(b, uint64(len(r.JPEG)), 4)
	return append(b, r.JPEG...)
}

func TestPanicAnsweredAsInternal(t *testing.T) {
	srv := startNATS(t)
	w := newWorker(t, srv.ClientURL(), fastModel, nil)
	w.testHook = func(r *wire.Request) {
		if r.Frame == 666 {
			panic("boom")
		}
	}
	nc := connect(t, srv.ClientURL())
	img, _ := jpeg.Decode(bytes.NewReader(frameJPEG(t)))
	small := encodeJPEG(t, downscale(img, 96, 54), 80)
	r := request(t, small, 0, 0)
	r.Frame = 666
	rep := ask(t, nc, encode(t, &r), 10*time.Second)
	if rep.Status != wire.CodeInternal || !strings.Contains(rep.Message, "panic: boom") || rep.Frame != 666 {
		t.Fatalf("got %v %q frame %d", rep.Status, rep.Message, rep.Frame)
	}
	r.Frame = 1
	if rep := ask(t, nc, encode(t, &r), 10*time.Second); rep.Status != wire.CodeOK {
		t.Fatalf("after a panic: %v %s", rep.Status, rep.Message)
	}
	if s := w.Stats(); s.Panics != 1 || s.Replies[wire.CodeInternal] != 1 || s.Errors != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestConcurrentRequestsOverlap(t *testing.T) {
	srv := startNATS(t)
	const extra = 600 * time.Millisecond
	w := newWorker(t, srv.ClientURL(), fastModel, func(o *Options) {
		o.Concurrency, o.Threads, o.ExtraLatency = 2, 1, extra
	})
	nc := connect(t, srv.ClientURL())
	img, _ := jpeg.Decode(bytes.NewReader(frameJPEG(t)))
	msg := encode(t, ptr(request(t, encodeJPEG(t, downscale(img, 480, 270), 80), 0, 0)))

	t0 := time.Now()
	var wg sync.WaitGroup
	reps := make([]wire.Reply, 2)
	for i := range reps {
		wg.Go(func() { reps[i] = ask(t, nc, msg, 10*time.Second) })
	}
	wg.Wait()
	wall := time.Since(t0)
	var work []time.Duration // each request's decode and inference
	for i, rep := range reps {
		if rep.Status != wire.CodeOK || rep.TotalUS < uint32(extra.Microseconds()) {
			t.Fatalf("reply %d: %v %s, total %d µs", i, rep.Status, rep.Message, rep.TotalUS)
		}
		work = append(work, time.Duration(rep.DecodeUS+rep.InferUS)*time.Microsecond)
	}
	// One after the other, the second request starts once the first has
	// done its work and slept: the pair takes both extra latencies and both
	// requests' work, at any speed. Side by side the sleeps overlap: it
	// takes one extra latency and the longer work (where the two share a
	// busy core, each one's work includes waiting for it), so it stays
	// under two extra latencies and the shorter work. The bound was
	// 2×600 ms, which a slow machine's inference alone could reach.
	bound := 2*extra + slices.Min(work)
	t.Logf("2 requests with %s extra latency each took %s (decode and inference %v); one after the other would take over %s", extra, wall, work, bound)
	if wall >= bound {
		t.Fatalf("2 requests took %s, at least %s: not processed in parallel", wall, bound)
	}
	if s := w.Stats(); s.Replies[wire.CodeOK] != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestQueueGroupSharesLoad(t *testing.T) {
	srv := startNATS(t)
	mod := func(id string) func(*Options) {
		return func(o *Options) { o.WorkerID, o.Threads = id, 1 }
	}
	w1 := newWorker(t, srv.ClientURL(), fastModel, mod("w1"))
	w2 := newWorker(t, srv.ClientURL(), fastModel, mod("w2"))
	nc := connect(t, srv.ClientURL())
	img, _ := jpeg.Decode(bytes.NewReader(frameJPEG(t)))
	msg := encode(t, ptr(request(t, encodeJPEG(t, downscale(img, 320, 180), 80), 0, 0)))

	// NATS picks a uniformly random member of the group per message. With 10
	// requests one worker missed out on all of them once in CI (chance 2^-9
	// per run); with 40 that chance is 2^-39, so a failure means a worker
	// really is not in the group.
	const requests = 40
	by := map[string]int{}
	for range requests {
		rep := ask(t, nc, msg, 10*time.Second)
		if rep.Status != wire.CodeOK {
			t.Fatalf("%v %s", rep.Status, rep.Message)
		}
		by[rep.WorkerID]++
	}
	t.Logf("replies by worker: %v", by)
	if by["w1"] == 0 || by["w2"] == 0 || by["w1"]+by["w2"] != requests {
		t.Fatalf("replies by worker %v, want both to serve some of %d", by, requests)
	}
	// Each request reaches exactly one worker, the one that answered it.
	if r1, r2 := w1.Stats().Requests, w2.Stats().Requests; int(r1) != by["w1"] || int(r2) != by["w2"] {
		t.Fatalf("requests seen by w1 %d, w2 %d; replies %v", r1, r2, by)
	}
}

func TestStopDrainsInFlight(t *testing.T) {
	srv := startNATS(t)
	w := newWorker(t, srv.ClientURL(), fastModel, func(o *Options) { o.ExtraLatency = 500 * time.Millisecond })
	nc := connect(t, srv.ClientURL())
	img, _ := jpeg.Decode(bytes.NewReader(frameJPEG(t)))
	msg := encode(t, ptr(request(t, encodeJPEG(t, downscale(img, 320, 180), 80), 0, 0)))

	done := make(chan wire.Reply, 1)
	go func() { done <- ask(t, nc, msg, 10*time.Second) }()
	waitFor(t, "request in flight", 5*time.Second, func() bool { return w.Stats().InFlight == 1 })
	t0 := time.Now()
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Stop took %s", time.Since(t0))
	select {
	case rep := <-done:
		if rep.Status != wire.CodeOK {
			t.Fatalf("in-flight request: %v %s", rep.Status, rep.Message)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request got no reply after Stop")
	}
	// Stopped: nobody subscribes any more, NATS says so at once.
	if _, err := nc.Request(wire.DefaultRequestSubject, msg, 2*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request after Stop: %v, want no responders", err)
	}
	if err := w.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := w.Start(context.Background()); err == nil {
		t.Fatal("Start after Stop succeeded")
	}
}

func TestWorkerBeforeServerAndRestart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := "nats://127.0.0.1:" + strconv.Itoa(port)

	w := newWorker(t, url, fastModel, nil) // no server yet: Start must still succeed
	time.Sleep(150 * time.Millisecond)
	if w.Stats().Connected {
		t.Fatal("connected to a server that does not exist")
	}
	srv := natsservertest.Start(t, natsserver.Options{Port: port, NoLog: true})
	waitFor(t, "worker to connect", 10*time.Second, func() bool { return w.Stats().Connected })

	nc := connect(t, url)
	img, _ := jpeg.Decode(bytes.NewReader(frameJPEG(t)))
	msg := encode(t, ptr(request(t, encodeJPEG(t, downscale(img, 320, 180), 80), 0, 0)))
	if rep := ask(t, nc, msg, 10*time.Second); rep.Status != wire.CodeOK {
		t.Fatalf("%v %s", rep.Status, rep.Message)
	}

	// The server restarts: the worker reconnects and resubscribes by itself.
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "worker to reconnect", 10*time.Second, func() bool { s := w.Stats(); return s.Connected && s.Reconnects >= 1 })
	waitFor(t, "client to reconnect", 10*time.Second, nc.IsConnected)
	// The worker's SUB may reach the new server a moment after its CONNECT.
	var rep wire.Reply
	for range 50 {
		m, err := nc.Request(wire.DefaultRequestSubject, msg, 5*time.Second)
		if errors.Is(err, nats.ErrNoResponders) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if rep, err = wire.DecodeReply(m.Data, wire.Limits{}); err != nil {
			t.Fatal(err)
		}
		break
	}
	if rep.Status != wire.CodeOK {
		t.Fatalf("after restart: %v %q", rep.Status, rep.Message)
	}
}

func TestStopWithoutServer(t *testing.T) {
	w := newWorker(t, "nats://127.0.0.1:1", fastModel, nil)
	t0 := time.Now()
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("Stop of a never-connected worker took %s", d)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	srv := startNATS(t)
	w := newWorker(t, srv.ClientURL(), fastModel, func(o *Options) { o.MetricsAddr = "127.0.0.1:0" })
	nc := connect(t, srv.ClientURL())
	ask(t, nc, []byte("junk"), 5*time.Second)
	img, _ := jpeg.Decode(bytes.NewReader(frameJPEG(t)))
	if rep := ask(t, nc, encode(t, ptr(request(t, encodeJPEG(t, downscale(img, 320, 180), 80), 0, 0))), 10*time.Second); rep.Status != wire.CodeOK {
		t.Fatal(rep.Message)
	}
	base := "http://" + w.MetricsAddr()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/metrics")
	for _, want := range []string{
		"# TYPE gstreact_cloudworker_requests_total counter",
		"gstreact_cloudworker_requests_total 2\n",
		`gstreact_cloudworker_replies_total{status="ok"} 1`,
		`gstreact_cloudworker_replies_total{status="bad_request"} 1`,
		"gstreact_cloudworker_errors_total 1\n",
		"gstreact_cloudworker_in_flight 0\n",
		"gstreact_cloudworker_nats_connected 1\n",
		`gstreact_cloudworker_request_duration_seconds_bucket{le="+Inf"} 2`,
		"gstreact_cloudworker_request_duration_seconds_count 2\n",
		`gstreact_cloudworker_inference_duration_seconds_bucket{le="0.005"}`,
		"gstreact_cloudworker_inference_duration_seconds_count 1\n",
		`worker_id="` + w.Options().WorkerID + `"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code != 200 || t.Failed() {
		t.Fatalf("status %d, body:\n%s", code, body)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	srv.Shutdown()
	waitFor(t, "disconnect noticed", 5*time.Second, func() bool { return !w.Stats().Connected })
	if code, _ := get("/healthz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/healthz while disconnected: %d", code)
	}
}

func TestOptionsValidation(t *testing.T) {
	d := DefaultOptions()
	if d.NATSURL != DefaultNATSURL || d.Subject != wire.DefaultRequestSubject || d.Queue != wire.DefaultQueueGroup ||
		d.Concurrency != 1 || d.ScoreThreshold != 0.3 || d.NMSThreshold != 0.45 || d.WorkerID == "" || d.Limits != wire.DefaultLimits() {
		t.Fatalf("defaults %+v", d)
	}
	if !wire.ValidWorkerID(d.WorkerID) {
		t.Fatalf("default worker id %q is not a valid wire id", d.WorkerID)
	}
	cases := []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.Concurrency = 65 }, "1..64"},
		{func(o *Options) { o.Concurrency = -1 }, "1..64"},
		{func(o *Options) { o.Threads = -2 }, "threads"},
		{func(o *Options) { o.ScoreThreshold = 1.5 }, "(0, 1]"},
		{func(o *Options) { o.NMSThreshold = -0.1 }, "(0, 1]"},
		{func(o *Options) { o.Subject = "react..detect" }, "empty token"},
		{func(o *Options) { o.Subject = "react.>.x" }, "last token"},
		{func(o *Options) { o.Subject = "a b" }, "white space"},
		{func(o *Options) { o.Queue = "a b" }, "queue group"},
		{func(o *Options) { o.WorkerID = "w/1" }, "worker id"},
		{func(o *Options) { o.MetricsAddr = "9090" }, "host:port"},
		{func(o *Options) { o.ExtraLatency = -time.Second }, "negative"},
		{func(o *Options) { o.Limits.MaxBoxes = -1 }, "negative"},
	}
	for _, c := range cases {
		o := Options{ModelPath: "/nonexistent.onnx"}
		c.mod(&o)
		_, err := New(o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error mentioning %q", err, c.want)
		}
	}
	_, err := New(Options{ModelPath: "/nonexistent/model.onnx"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/model.onnx") {
		t.Errorf("missing model: %v", err)
	}
	// A real ONNX model that is no detector: refused at start, not per request.
	testassets.InitORT(t)
	wrong := onnxtest.WriteReduceMeanModel(t, t.TempDir(), 64, 64)
	o := DefaultOptions()
	o.ModelPath = wrong
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), "[1 64 64]") {
		t.Errorf("wrong-shape model: %v, want an error naming the file and its output shape", err)
	}
}

func TestToFrame(t *testing.T) {
	var c converter
	// 4:2:0 with odd size → I420, full range compressed to limited range.
	y := image.NewYCbCr(image.Rect(0, 0, 5, 3), image.YCbCrSubsampleRatio420)
	for i := range y.Y {
		y.Y[i] = 255
	}
	for i := range y.Cb {
		y.Cb[i], y.Cr[i] = 0, 128
	}
	y.Y[y.YOffset(4, 2)] = 0
	f, err := c.toFrame(y)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil || f.Format.String() != "I420" || f.Width != 5 || f.Height != 3 {
		t.Fatalf("frame %+v: %v", f, err)
	}
	if got := f.Data[f.Offset[0]+0]; got != 235 {
		t.Errorf("Y 255 → %d, want 235", got)
	}
	if got := f.Data[f.Offset[0]+2*f.Stride[0]+4]; got != 16 {
		t.Errorf("Y 0 → %d, want 16", got)
	}
	if u, v := f.Data[f.Offset[1]+f.Stride[1]*1+2], f.Data[f.Offset[2]]; u != 16 || v != 128 {
		t.Errorf("Cb 0, Cr 128 → %d, %d, want 16, 128", u, v)
	}
	// 4:4:4 and gray → packed RGB.
	y444 := image.NewYCbCr(image.Rect(0, 0, 4, 2), image.YCbCrSubsampleRatio444)
	for i := range y444.Y {
		y444.Y[i], y444.Cb[i], y444.Cr[i] = 100, 90, 200
	}
	f, err = c.toFrame(y444)
	r, g, b := f.Data[3*5], f.Data[3*5+1], f.Data[3*5+2]
	if wr, wg, wb := color.YCbCrToRGB(100, 90, 200); err != nil || f.Format.String() != "RGB" || r != wr || g != wg || b != wb {
		t.Fatalf("4:4:4: %v %v, rgb %d %d %d want %d %d %d", f.Format, err, r, g, b, wr, wg, wb)
	}
	gray := image.NewGray(image.Rect(0, 0, 3, 3))
	gray.Pix[4] = 77
	f, err = c.toFrame(gray)
	if err != nil || f.Format.String() != "RGB" || f.Data[12] != 77 || f.Data[13] != 77 || f.Data[14] != 77 {
		t.Fatalf("gray: %v %v", f, err)
	}
	cmyk := image.NewCMYK(image.Rect(0, 0, 2, 2))
	cmyk.Pix[0], cmyk.Pix[1], cmyk.Pix[2], cmyk.Pix[3] = 255, 0, 0, 0 // cyan
	f, err = c.toFrame(cmyk)
	if err != nil || f.Data[0] != 0 || f.Data[1] != 255 || f.Data[2] != 255 {
		t.Fatalf("cmyk: %v %v", f.Data[:3], err)
	}
}

func TestExtraLatencyDelaysReplies(t *testing.T) {
	srv := startNATS(t)
	const extra = 400 * time.Millisecond
	newWorker(t, srv.ClientURL(), fastModel, func(o *Options) { o.Subject, o.WorkerID = "react.prompt", "prompt" })
	newWorker(t, srv.ClientURL(), fastModel, func(o *Options) {
		o.Subject, o.WorkerID, o.ExtraLatency = "react.far", "far", extra
	})
	nc := connect(t, srv.ClientURL())
	img, _ := jpeg.Decode(bytes.NewReader(frameJPEG(t)))
	msg := encode(t, ptr(request(t, encodeJPEG(t, downscale(img, 320, 180), 80), 0, 0)))

	rtt := func(subject string, msg []byte, want wire.Code) (time.Duration, wire.Reply) {
		t.Helper()
		t0 := time.Now()
		rep := askOn(t, nc, subject, msg, 10*time.Second)
		d := time.Since(t0)
		if rep.Status != want {
			t.Fatalf("%s: %v %q, want %v", subject, rep.Status, rep.Message, want)
		}
		return d, rep
	}
	rtt("react.prompt", msg, wire.CodeOK) // warm-up: first inference is slower
	prompt, repPrompt := rtt("react.prompt", msg, wire.CodeOK)
	far, repFar := rtt("react.far", msg, wire.CodeOK)
	t.Logf("round trip without extra latency %s (worker total %d µs), with %s: %s (worker total %d µs)",
		prompt, repPrompt.TotalUS, extra, far, repFar.TotalUS)
	// The delay is part of the worker's reported total, not of decode or
	// inference: the edge sees a slow cloud, not a slow model.
	spare := func(r wire.Reply) time.Duration {
		return time.Duration(r.TotalUS-r.DecodeUS-r.InferUS) * time.Microsecond
	}
	if far < extra || spare(repFar) < extra {
		t.Fatalf("with %s extra latency: round trip %s, worker total %d µs of which decode %d and inference %d",
			extra, far, repFar.TotalUS, repFar.DecodeUS, repFar.InferUS)
	}
	if spare(repPrompt) >= extra/2 {
		t.Fatalf("without extra latency the worker still spent %s beyond decode and inference", spare(repPrompt))
	}
	// Error replies are delayed the same way.
	if d, _ := rtt("react.far", []byte("junk"), wire.CodeBadRequest); d < extra {
		t.Fatalf("error reply with %s extra latency came after %s", extra, d)
	}
}

// TestCUDAOption checks that Options.CUDA reaches ONNX Runtime: where the
// library has no CUDA provider (the CPU build set-up installs) New must fail
// saying so; with a CUDA-capable runtime and GPU it must serve a frame.
func TestCUDAOption(t *testing.T) {
	testassets.InitORT(t)
	srv := startNATS(t)
	w, err := New(Options{NATSURL: srv.ClientURL(), ModelPath: testassets.Model(t, fastModel), CUDA: true, Logger: testLogger()})
	if err != nil {
		if !strings.Contains(err.Error(), "CUDA") {
			t.Fatalf("CUDA unavailable, but the error does not say so: %v", err)
		}
		t.Logf("no CUDA here, as expected of a CPU build: %v", err)
		return
	}
	defer w.Stop()
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	nc := connect(t, srv.ClientURL())
	if rep := ask(t, nc, encode(t, ptr(request(t, frameJPEG(t), 0, 0))), 30*time.Second); rep.Status != wire.CodeOK || len(rep.Boxes) == 0 {
		t.Fatalf("on CUDA: %v %q, %d boxes", rep.Status, rep.Message, len(rep.Boxes))
	}
}

// The server's token changes under a connected worker (credentials rotated):
// the worker keeps retrying (every 50 ms here) but says so once, names what
// to check, and never logs a token.
func TestRotatedTokenLoggedOnce(t *testing.T) {
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true, Token: "old-t0ken"})
	port := srv.Port()
	var log testlog.Buffer
	w := newWorker(t, srv.ClientURL(), fastModel, func(o *Options) {
		o.Auth.Token = "old-t0ken"
		o.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	srv.Shutdown()
	natsservertest.Start(t, natsserver.Options{NoLog: true, Port: port, Token: "new-t0ken"})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(log.String(), "refused the worker") {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // some 20 more refusals
	out := log.String()
	if n := strings.Count(out, "refused the worker"); n != 1 {
		t.Fatalf("%d refusal lines, want 1:\n%s", n, out)
	}
	if !strings.Contains(strings.ToLower(out), "authorization violation") || !strings.Contains(out, "--token") {
		t.Errorf("the refusal does not say what is wrong and what to check:\n%s", out)
	}
	if strings.Contains(out, "t0ken") {
		t.Errorf("the log shows a token:\n%s", out)
	}
	if w.Stats().Requests != 0 {
		t.Errorf("a refused worker served requests")
	}
}

// A reply carries how long its request waited for the worker's one slot,
// to edges that ask for it (wire.ReplyVersionHeader); others get version 1
// replies as before. The first request holds the slot until all are
// received (the test hook waits for the count), then for its extra
// latency, so the second waited at least one extra latency and the third
// two, at any speed.
func TestRepliesCarryTheQueueWait(t *testing.T) {
	srv := startNATS(t)
	const extra = 150 * time.Millisecond
	w := newWorker(t, srv.ClientURL(), fastModel, func(o *Options) { o.Threads, o.ExtraLatency = 1, extra })
	const n = 3
	w.testHook = func(r *wire.Request) {
		if r.Frame == 0 {
			// 30 s bounds a request lost on the way; the asks time out then too.
			for end := time.Now().Add(30 * time.Second); w.Stats().Requests < n && time.Now().Before(end); {
				time.Sleep(time.Millisecond)
			}
		}
	}
	nc := connect(t, srv.ClientURL())
	img, _ := jpeg.Decode(bytes.NewReader(frameJPEG(t)))
	small := encodeJPEG(t, downscale(img, 160, 90), 80)
	accept := nats.Header{wire.ReplyVersionHeader: {"2"}}
	send := func(frame uint64, h nats.Header, wg *sync.WaitGroup, out *[]byte) {
		r := request(t, small, 0, 0)
		r.Frame = frame
		msg := encode(t, &r)
		wg.Go(func() {
			m, err := nc.RequestMsg(&nats.Msg{Subject: wire.DefaultRequestSubject, Data: msg, Header: h}, time.Minute)
			if err != nil {
				t.Errorf("frame %d: %v", frame, err)
				return
			}
			*out = m.Data
		})
	}
	var wg sync.WaitGroup
	raw := make([][]byte, n)
	send(0, accept, &wg, &raw[0])
	waitFor(t, "the first request to arrive", 30*time.Second, func() bool { return w.Stats().Requests == 1 })
	send(1, accept, &wg, &raw[1])
	send(2, nil, &wg, &raw[2]) // an edge that predates reply version 2
	wg.Wait()
	var queued []time.Duration
	for i, b := range raw {
		rep, err := wire.DecodeReply(b, wire.Limits{})
		if err != nil || rep.Status != wire.CodeOK {
			t.Fatalf("reply %d: %v %v %q", i, err, rep.Status, rep.Message)
		}
		q := time.Duration(rep.QueueUS) * time.Microsecond
		t.Logf("frame %d: queue wait %s, total %d µs (decode %d, inference %d), version %d", i, q, rep.TotalUS, rep.DecodeUS, rep.InferUS, binary.LittleEndian.Uint16(b[4:]))
		if i < 2 {
			queued = append(queued, q)
		} else if v := binary.LittleEndian.Uint16(b[4:]); v != 1 || rep.QueueUS != 0 {
			t.Errorf("reply to a request without %s: version %d, queue wait %d µs; want version 1 as before", wire.ReplyVersionHeader, v, rep.QueueUS)
		}
	}
	// Frames 1 and 2 arrived while frame 0 held the slot: each waited at
	// least its extra latency (frame 0's wait is the hook's, whatever it is).
	if queued[1] < extra {
		t.Errorf("queue waits %v: want frame 1 served after at least %s", queued, extra)
	}
	s := w.Stats()
	if s.QueueWait.Count != n || s.QueueWait.Sum < extra {
		t.Errorf("queue wait histogram: %d requests, %s in all", s.QueueWait.Count, s.QueueWait.Sum)
	}
}
