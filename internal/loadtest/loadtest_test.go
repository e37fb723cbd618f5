package loadtest

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/wire"
)

// testFrames encodes two small synthetic frames with reactcloud's encoder.
func testFrames(t *testing.T) []Frame {
	t.Helper()
	var fs []*frame.Frame
	for k := range 2 {
		f := frame.Alloc(frame.RGBA, 64, 48)
		for i := range f.Data {
			f.Data[i] = byte(i*7 + k*31)
		}
		fs = append(fs, &f)
	}
	out, err := EncodeFrames(fs, offload.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Width != 64 || out[0].JPEGWidth != 64 || len(out[0].JPEG) == 0 {
		t.Fatalf("encoded frames %+v", out[0])
	}
	return out
}

// fakeWorker answers in the worker queue group with an empty box list as
// worker id. Edges whose index is refuse or more get an error reply; those
// at silent or more (when silent > 0) get none.
func fakeWorker(t *testing.T, url, id string, refuse, silent int) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	lim := wire.DefaultLimits()
	_, err = nc.QueueSubscribe(wire.DefaultRequestSubject, wire.DefaultQueueGroup, func(m *nats.Msg) {
		req, err := wire.DecodeRequest(m.Data, lim)
		if err != nil {
			t.Errorf("worker %s: request does not decode: %v", id, err)
			return
		}
		i, _ := strconv.Atoi(strings.TrimPrefix(req.StreamID, "loadtest-"))
		if silent > 0 && i >= silent {
			return
		}
		rep := wire.Reply{StreamID: req.StreamID, Frame: req.Frame, Status: wire.CodeOK, WorkerID: id}
		if i >= refuse {
			rep = wire.ErrorReply(&req, &wire.Error{Code: wire.CodeDeadlineExceeded, Err: wire.ErrInvalid, Msg: "too late"})
			rep.WorkerID = id
		}
		out, err := wire.AppendReply(nil, &rep, lim, req.Width, req.Height)
		if err != nil {
			t.Errorf("worker %s: %v", id, err)
			return
		}
		m.Respond(out)
	})
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
}

func startNATS(t *testing.T) string {
	t.Helper()
	s, err := natsserver.Start(natsserver.Options{NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

// fastConfig: 20 requests per second per edge for 300 ms (6 per edge).
// Nothing here depends on how fast the machine is: the fake workers answer
// at once or never, and the timeout (2 s) is far beyond an answer's round
// trip even on one busy core.
func fastConfig(url string, frames []Frame) Config {
	return Config{NATSURL: url, Frames: frames, M: 1, FPS: 20, Duration: 300 * time.Millisecond,
		Timeout: 2 * time.Second, SLO: time.Second}
}

func TestStepCountsRepliesAndWorkerShares(t *testing.T) {
	url := startNATS(t)
	fakeWorker(t, url, "wa", 1<<30, 0)
	fakeWorker(t, url, "wb", 1<<30, 0)
	lt, err := New(fastConfig(url, testFrames(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer lt.Close()
	if err := lt.Probe(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r, err := lt.Step(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	// Each edge has 6 due frames in 300 ms at 20 fps, m=1 (its phase may
	// push the last one past the end, or a slow machine skip one while two
	// are in flight).
	if due := r.Sent + r.Skipped; r.Edges != 3 || due < 15 || due > 18 || r.Replies != r.Sent {
		t.Fatalf("row %+v: want every sent request answered", r)
	}
	if r.Timeouts != 0 || r.Errors != 0 || r.RepliesPerS <= 0 || r.RTTP50MS <= 0 || r.RTTP95MS < r.RTTP50MS || r.RTTP99MS < r.RTTP95MS {
		t.Fatalf("row %+v", r)
	}
	if r.WithinSLO == nil || !*r.WithinSLO {
		t.Fatalf("row %+v: instant answers should be within a 1 s SLO", r)
	}
	total := 0
	for id, n := range r.Workers {
		if id != "wa" && id != "wb" {
			t.Fatalf("unknown worker %q", id)
		}
		total += n
	}
	if total != r.Replies || len(r.Shares()) == 0 {
		t.Fatalf("worker counts %v do not add up to %d replies", r.Workers, r.Replies)
	}
}

func TestFindCapacityBisects(t *testing.T) {
	url := startNATS(t)
	// The pool "carries" exactly 3 edges: the 4th and later get error
	// replies, as a worker does for requests that waited past their deadline.
	fakeWorker(t, url, "w", 3, 0)
	lt, err := New(fastConfig(url, testFrames(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer lt.Close()
	var seen []int
	rows, capacity, err := lt.Sweep(context.Background(), []int{1}, true, 64, func(r Row) { seen = append(seen, r.Edges) })
	if err != nil {
		t.Fatal(err)
	}
	if capacity != 3 {
		t.Fatalf("capacity %d, want 3 (steps %v)", capacity, seen)
	}
	// 1, 2, 4 (fails), then 3.
	if want := []int{1, 2, 4, 3}; !slices.Equal(seen, want) {
		t.Fatalf("steps %v, want %v", seen, want)
	}
	for i, r := range rows {
		if i > 0 && rows[i-1].Edges >= r.Edges {
			t.Fatalf("rows not sorted by edges: %v", seen)
		}
		if within := r.Edges <= 3; *r.WithinSLO != within {
			t.Fatalf("%d edges: within SLO %v, want %v (%+v)", r.Edges, *r.WithinSLO, within, r)
		}
	}
	if rows[3].Errors == 0 {
		t.Fatalf("4 edges: the 4th edge's refusals are not counted: %+v", rows[3])
	}
}

func TestUnansweredRequestsTimeOut(t *testing.T) {
	url := startNATS(t)
	fakeWorker(t, url, "w", 1<<30, 1) // answers edge 0 only
	cfg := fastConfig(url, testFrames(t))
	cfg.Timeout = 500 * time.Millisecond
	lt, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lt.Close()
	r, err := lt.Step(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	// Edge 1 sends two requests (the in-flight limit) and skips the rest
	// while they wait for their 500 ms timeout.
	if r.Timeouts < 1 || r.Skipped < 1 || r.Replies < 1 || *r.WithinSLO {
		t.Fatalf("row %+v: want timeouts and skips from the silent edge, replies from the other, SLO missed", r)
	}
}

func TestProbeSaysWhenNoWorkerListens(t *testing.T) {
	url := startNATS(t)
	lt, err := New(fastConfig(url, testFrames(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer lt.Close()
	err = lt.Probe(context.Background(), 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "gstreact cloudworker") {
		t.Fatalf("Probe with no worker: %v, want a hint to start one", err)
	}
}

func TestConfigErrors(t *testing.T) {
	fr := []Frame{{JPEG: []byte{1}, Width: 1, Height: 1, JPEGWidth: 1, JPEGHeight: 1}}
	for _, c := range []Config{
		{Frames: fr},
		{NATSURL: "nats://x"},
		{NATSURL: "nats://x", Frames: fr, M: -1},
		{NATSURL: "nats://x", Frames: fr, FPS: -1},
		{NATSURL: "nats://x", Frames: fr, MaxInflight: 65},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	if p := (Config{M: 30, FPS: 30}).Period(); p != time.Second {
		t.Fatalf("period %v, want 1s", p)
	}
}

func TestQuantileNearestRank(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 100; i++ {
		v = append(v, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.95: 95 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := quantile(v, q); got != want {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("empty quantile not 0")
	}
}
