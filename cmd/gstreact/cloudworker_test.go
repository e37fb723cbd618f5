package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/mot"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
	"github.com/gst-react/gst-react/internal/testlog"
	"github.com/gst-react/gst-react/internal/wire"
)

// envRunMain makes the test binary behave as the gstreact binary (real main,
// real signal handling), so a test can run it as a child process without a
// separate build.
const envRunMain = "GSTREACT_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func captureCloudworkerLog(t *testing.T) *testlog.Buffer {
	t.Helper()
	buf := &testlog.Buffer{}
	old := cloudworkerLog
	cloudworkerLog = buf
	t.Cleanup(func() {
		cloudworkerLog = old
		if t.Failed() || testing.Verbose() {
			t.Logf("cloudworker log:\n%s", buf.String())
		}
	})
	return buf
}

const motSeq = "MOT17-04-FRCNN-mini"

func motDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GSTREACT_ASSETS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "assets")
	}
	dir = filepath.Join(dir, "video", motSeq)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s not found (set GSTREACT_ASSETS to the shared assets folder)", dir)
	}
	return dir
}

// frameRequest encodes MOT17-04 frame 1's JPEG (1920x1080) as a request.
func frameRequest(t *testing.T) []byte {
	t.Helper()
	j, err := os.ReadFile(filepath.Join(motDir(t), "img1", "000001.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	w, h, err := wire.JPEGDims(j)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := wire.AppendRequest(nil, &wire.Request{
		StreamID: "mot17-04", Frame: 1, PTS: wire.NoPTS, SentAt: time.Now().UnixNano(),
		Width: w, Height: h, JPEGWidth: w, JPEGHeight: h, JPEG: j,
	}, wire.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// waitServing sends msg until a worker answers (the command subscribes once
// its model is loaded: seconds on one busy core), failing early when the
// command exits. 2 minutes only catch a worker that never subscribes.
func waitServing(t *testing.T, nc *nats.Conn, msg []byte, exited func() (error, bool)) wire.Reply {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err, ok := exited(); ok {
			t.Fatalf("cloudworker exited before serving: %v", err)
		}
		m, err := nc.Request(wire.DefaultRequestSubject, msg, 30*time.Second)
		if errors.Is(err, nats.ErrNoResponders) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		rep, err := wire.DecodeReply(m.Data, wire.Limits{})
		if err != nil {
			t.Fatalf("reply does not decode: %v", err)
		}
		return rep
	}
}

// checkPersons checks the reply against the frame's ground truth: the boxes
// must be people where the annotations have people, in frame pixels.
func checkPersons(t *testing.T, rep wire.Reply) {
	t.Helper()
	if rep.Status != wire.CodeOK || rep.StreamID != "mot17-04" || rep.Frame != 1 {
		t.Fatalf("reply %v %q for %s/%d", rep.Status, rep.Message, rep.StreamID, rep.Frame)
	}
	if err := rep.Validate(wire.Limits{}, 1920, 1080); err != nil {
		t.Fatal(err)
	}
	var persons []detection.Detection
	for _, d := range wire.AppendDetections(nil, rep.Boxes) {
		if d.Class == 0 {
			persons = append(persons, d)
		}
	}
	gt, err := mot.LoadGT(motDir(t))
	if err != nil {
		t.Fatal(err)
	}
	matched, total := mot.Matches(persons, gt.Frames[1], 0.5)
	t.Logf("%d boxes, %d persons; %d of %d annotated pedestrians found at IoU >= 0.5; worker %s, decode %d µs, inference %d µs, total %d µs",
		len(rep.Boxes), len(persons), matched, total, rep.WorkerID, rep.DecodeUS, rep.InferUS, rep.TotalUS)
	if total == 0 || matched*2 < total {
		t.Fatalf("only %d of %d annotated pedestrians found", matched, total)
	}
}

// TestCloudworkerCommand runs the command as registered in the commands table
// against an embedded NATS server: it serves a real frame with the default
// (cloud) model, logs summaries, and returns cleanly when ctx is cancelled.
func TestCloudworkerCommand(t *testing.T) {
	msg := frameRequest(t)
	log := captureCloudworkerLog(t)
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true})
	var cmd *command
	for i := range commands {
		if commands[i].name == "cloudworker" {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		t.Fatal("no cloudworker command in the commands table")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const extra = 100 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		done <- cmd.run(ctx, []string{"--nats", srv.ClientURL(), "--worker-id", "cmd-test",
			"--extra-latency", extra.String(), "--summary-interval", "100ms", "--metrics-addr", "127.0.0.1:0"})
	}()
	var exitErr error
	exited := func() (error, bool) {
		select {
		case exitErr = <-done:
			return exitErr, true
		default:
			return nil, false
		}
	}
	nc := natsservertest.Connect(t, srv.ClientURL())

	rep := waitServing(t, nc, msg, exited)
	checkPersons(t, rep)
	if rep.WorkerID != "cmd-test" {
		t.Errorf("worker id %q, want the --worker-id", rep.WorkerID)
	}
	if rep.TotalUS < uint32(extra.Microseconds()) {
		t.Errorf("worker total %d µs, under the %s --extra-latency", rep.TotalUS, extra)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "msg=summary") {
		if time.Now().After(deadline) {
			t.Fatal("no summary line logged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"cloud worker serving", "yolox_nano_736x1280", "metrics=http://127.0.0.1:"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}

	t0 := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cloudworker returned %v after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("cloudworker did not return within 15 s of cancel")
	}
	t.Logf("returned %s after cancel", time.Since(t0).Round(time.Millisecond))
	if !strings.Contains(log.String(), "msg=drained") {
		t.Error("no drain line logged")
	}
	if _, err := nc.Request(wire.DefaultRequestSubject, msg, 2*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request after exit: %v, want no responders", err)
	}
}

// TestCloudworkerBinarySIGTERM runs the real main (this test binary in its
// place) and stops it with SIGTERM while a request is in flight: the request
// still gets its boxes, and the process exits 0.
func TestCloudworkerBinarySIGTERM(t *testing.T) {
	msg := frameRequest(t)
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true})
	const extra = time.Second
	c := exec.Command(os.Args[0], "cloudworker", "--nats", srv.ClientURL(), "--model", "yolox_nano_416x416",
		"--extra-latency", extra.String(), "--worker-id", "sigterm-test")
	c.Env = append(os.Environ(), envRunMain+"=1")
	var stderr testlog.Buffer
	c.Stdout, c.Stderr = &stderr, &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- c.Wait() }()
	t.Cleanup(func() {
		c.Process.Kill()
		if t.Failed() || testing.Verbose() {
			t.Logf("child output:\n%s", stderr.String())
		}
	})
	nc := natsservertest.Connect(t, srv.ClientURL())
	var exitErr error
	rep := waitServing(t, nc, msg, func() (error, bool) {
		select {
		case exitErr = <-waitErr:
			return exitErr, true
		default:
			return nil, false
		}
	})
	if rep.Status != wire.CodeOK || rep.WorkerID != "sigterm-test" {
		t.Fatalf("first reply: %v %q from %q", rep.Status, rep.Message, rep.WorkerID)
	}

	// A request in flight (held by --extra-latency), then SIGTERM.
	inflight := make(chan *nats.Msg, 1)
	if _, err := nc.ChanSubscribe("test.inbox", inflight); err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest(wire.DefaultRequestSubject, "test.inbox", msg); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(extra / 3) // the worker has it now
	t0 := time.Now()
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-inflight:
		rep, err := wire.DecodeReply(m.Data, wire.Limits{})
		if err != nil || rep.Status != wire.CodeOK || len(rep.Boxes) == 0 {
			t.Fatalf("in-flight request during drain: %v %v %q, %d boxes", err, rep.Status, rep.Message, len(rep.Boxes))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the request in flight at SIGTERM got no reply")
	}
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15 s of SIGTERM")
	}
	t.Logf("exited %s after SIGTERM", time.Since(t0).Round(time.Millisecond))
	if out := stderr.String(); !strings.Contains(out, "msg=\"draining:") || !strings.Contains(out, "msg=drained") {
		t.Fatalf("drain not logged:\n%s", out)
	}
}

// TestCloudworkerFlags: every flag documents its default, and bad values fail
// before anything is loaded, naming the flag.
func TestCloudworkerFlags(t *testing.T) {
	log := captureCloudworkerLog(t)
	if err := runCloudworker(context.Background(), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	help := log.String()
	// PrintDefaults: "  -name type\n    \tusage (default x)" per flag.
	flags := 0
	for _, block := range strings.Split(help, "\n  -")[1:] {
		flags++
		name, _, _ := strings.Cut(block, " ")
		if !strings.Contains(block, "(default ") {
			t.Errorf("flag --%s does not say its default:\n  -%s", name, block)
		}
	}
	for _, want := range []string{"-nats", "-model", "-concurrency", "-subject", "-queue", "-metrics-addr", "-extra-latency", "-cuda", "-threads", "-worker-id"} {
		if !strings.Contains(help, "  "+want+" ") && !strings.Contains(help, "  "+want+"\n") {
			t.Errorf("help lacks %s", want)
		}
	}
	if flags < 10 {
		t.Fatalf("%d flags in the help:\n%s", flags, help)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--concurrency", "0"}, "--concurrency 0"},
		{[]string{"--threads", "-1"}, "--threads -1"},
		{[]string{"--extra-latency", "-1s"}, "negative"},
		{[]string{"--model", "/nonexistent/big.onnx"}, "/nonexistent/big.onnx"},
		{[]string{"--metrics-addr", "9090"}, "host:port"},
		{[]string{"--subject", "react..detect"}, "subject"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		err := runCloudworker(context.Background(), c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error mentioning %q", c.args, err, c.want)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	got := redactURLs("nats://alice:s3cret@a:4222,nats://tok3n@b:4222,nats://c:4222")
	if strings.Contains(got, "s3cret") || strings.Contains(got, "tok3n") || strings.Contains(got, "alice") ||
		!strings.Contains(got, "@a:4222") || !strings.Contains(got, "nats://c:4222") {
		t.Fatalf("redacted: %s", got)
	}
}
