package cloudworker

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/testlog"
	"github.com/gst-react/gst-react/internal/wire"
)

// never is a timer that does not fire: the gathering must end on its own.
func never(time.Duration) <-chan time.Time { return nil }

func TestGatherTakesUpToMaxWithoutWaiting(t *testing.T) {
	in := make(chan int, 10)
	for i := range 5 {
		in <- i
	}
	got, ok := gather(in, nil, 3, time.Hour, never)
	if !ok || !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("got %v %v, want the first 3 at once", got, ok)
	}
	close(in)
	got, _ = gather(in, got[:0], 3, time.Hour, never)
	if !slices.Equal(got, []int{3, 4}) {
		t.Fatalf("got %v, want the 2 left when the channel closes", got)
	}
}

func TestGatherWaitsForMoreUntilTheTimer(t *testing.T) {
	in := make(chan int)
	fire := make(chan time.Time)
	var asked time.Duration
	done := make(chan []int)
	go func() {
		got, _ := gather(in, nil, 4, 7*time.Millisecond, func(d time.Duration) <-chan time.Time { asked = d; return fire })
		done <- got
	}()
	in <- 1
	in <- 2 // taken while waiting: the timer has not fired
	fire <- time.Time{}
	if got := <-done; !slices.Equal(got, []int{1, 2}) || asked != 7*time.Millisecond {
		t.Fatalf("got %v after a %v wait, want [1 2] after 7ms", got, asked)
	}
}

func TestGatherEndsWithTheChannel(t *testing.T) {
	in := make(chan int, 2)
	in <- 9
	close(in)
	got, ok := gather(in, nil, 4, time.Hour, never)
	if !ok || !slices.Equal(got, []int{9}) {
		t.Fatalf("got %v %v, want [9] when the channel closes", got, ok)
	}
	if got, ok := gather(in, nil, 4, time.Hour, never); ok || len(got) != 0 {
		t.Fatalf("got %v %v from a closed, empty channel, want nothing and false", got, ok)
	}
	// wait 0: only what is ready.
	in2 := make(chan int, 3)
	in2 <- 1
	in2 <- 2
	if got, _ := gather(in2, nil, 4, 0, never); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("wait 0: got %v, want [1 2]", got)
	}
}

// A worker with a batchable model (YOLOv5n fp16, dynamic batch) and
// MaxBatch 3 serves three requests sent together in one model run. The
// gathering wait is a minute, so the batch closes on the third arrival, not
// on a clock: the test is the same on an idle and on a busy machine.
func TestWorkerBatchesRequests(t *testing.T) {
	model := testassets.ZooModel(t, "yolov5n_640_fp16")
	srv := startNATS(t)
	w := newWorker(t, srv.ClientURL(), fastModel, func(o *Options) {
		o.ModelPath, o.MaxBatch, o.MaxBatchWait, o.Threads = model, 3, time.Minute, 2
	})
	nc := connect(t, srv.ClientURL())
	j := frameJPEG(t)
	var wg sync.WaitGroup
	reps := make([]wire.Reply, 3)
	for i := range 3 {
		r := request(t, j, 0, 0)
		r.Frame = uint64(i)
		msg := encode(t, &r)
		wg.Go(func() { reps[i] = ask(t, nc, msg, 2*time.Minute) })
	}
	wg.Wait()
	for i, rep := range reps {
		if rep.Status != wire.CodeOK || rep.Frame != uint64(i) {
			t.Fatalf("reply %d: %v %q frame %d", i, rep.Status, rep.Message, rep.Frame)
		}
		persons := 0
		for _, b := range rep.Boxes {
			if b.Class == 0 {
				persons++
			}
		}
		if persons < 5 {
			t.Fatalf("reply %d: %d persons on the MOT17-04 crowd", i, persons)
		}
		if !slices.Equal(rep.Boxes, reps[0].Boxes) {
			t.Fatalf("reply %d's boxes differ from reply 0's for the same frame in one batch", i)
		}
	}
	if s := w.Stats(); s.Batches != 1 || s.BatchedRequests != 3 {
		t.Fatalf("%d batches of %d requests, want one run of 3", s.Batches, s.BatchedRequests)
	}
}

// A model with a fixed batch of 1 keeps serving, one request per run, and
// the log says why batching is off.
func TestFixedBatchModelServesUnbatched(t *testing.T) {
	srv := startNATS(t)
	var log testlog.Buffer
	w := newWorker(t, srv.ClientURL(), fastModel, func(o *Options) {
		o.MaxBatch = 4
		o.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	nc := connect(t, srv.ClientURL())
	r := request(t, frameJPEG(t), 0, 0)
	if rep := ask(t, nc, encode(t, &r), time.Minute); rep.Status != wire.CodeOK {
		t.Fatalf("reply %v %q", rep.Status, rep.Message)
	}
	if s := w.Stats(); s.Batches != 0 {
		t.Fatalf("%d batches on a fixed-batch model", s.Batches)
	}
	if l := log.String(); !strings.Contains(l, "batching off") || !strings.Contains(l, "fixed batch of 1") {
		t.Fatalf("log does not say why batching is off:\n%s", l)
	}
	var buf bytes.Buffer
	if err := w.writeMetrics(&buf); err != nil || !strings.Contains(buf.String(), "gstreact_cloudworker_batches_total 0") {
		t.Fatalf("metrics lack batches_total (err %v)", err)
	}
}
