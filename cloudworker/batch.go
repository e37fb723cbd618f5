package cloudworker

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/wire"
)

// Batching (Options.MaxBatch > 1 on a model with a dynamic batch dimension):
// each slot gathers requests from the shared work channel, decodes each JPEG
// once into its own item's buffer, runs the detector once over all of them
// and answers each request on its own. A request that fails before the model
// run (bad request, expired, undecodable) is answered at once and left out
// of the batch.

// gather blocks for a first value from in, then takes more until it holds
// max, wait has passed since the first arrived, or in is closed. ok is false
// when in was closed before anything arrived. timer makes the wait's timer
// (time.After outside tests). wait 0 takes only what is ready at once.
func gather[T any](in <-chan T, dst []T, max int, wait time.Duration, timer func(time.Duration) <-chan time.Time) ([]T, bool) {
	first, ok := <-in
	if !ok {
		return dst, false
	}
	dst = append(dst, first)
	if wait <= 0 {
		for len(dst) < max {
			select {
			case v, ok := <-in:
				if !ok {
					return dst, true
				}
				dst = append(dst, v)
			default:
				return dst, true
			}
		}
		return dst, true
	}
	var deadline <-chan time.Time
	for len(dst) < max {
		if deadline == nil {
			deadline = timer(wait)
		}
		select {
		case v, ok := <-in:
			if !ok {
				return dst, true
			}
			dst = append(dst, v)
		case <-deadline:
			return dst, true
		}
	}
	return dst, true
}

// batchItem is one gathered request's state inside a slot.
type batchItem struct {
	conv converter // its own buffer: every frame of a batch lives until the run
	req  wire.Request
	t    timing
	f    frame.Frame
	done bool // answered already
}

// serveBatches is a batching slot's loop.
func (w *Worker) serveBatches(s *slot) {
	jobs := make([]job, 0, s.det.MaxBatch())
	for {
		var ok bool
		jobs, ok = gather(w.work, jobs[:0], s.det.MaxBatch(), w.opts.MaxBatchWait, time.After)
		if !ok {
			return
		}
		w.handleBatch(s, jobs)
	}
}

// handleBatch serves gathered requests with one model run and always tries
// to answer each, even after a panic.
func (w *Worker) handleBatch(s *slot, jobs []job) {
	defer w.c.inFlight.Add(-int64(len(jobs)))
	for len(s.items) < len(jobs) {
		s.items = append(s.items, &batchItem{})
	}
	items := s.items[:len(jobs)]
	for k, it := range items {
		it.req, it.t, it.done = wire.Request{}, timing{queue: time.Since(jobs[k].recv)}, false
	}
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		w.c.panics.Add(1)
		w.log.Error("batch handler panicked; answering internal error", "requests", len(jobs), "panic", p, "stack", string(debug.Stack()))
		defer func() {
			if recover() != nil {
				w.c.sendFailures.Add(1)
			}
		}()
		for k, it := range items {
			if !it.done {
				it.done = true
				w.replyError(s, jobs[k], &it.req, codeErr(wire.CodeInternal, wire.ErrInvalid, "internal error: panic: %v", p), it.t)
			}
		}
	}()
	s.frames = s.frames[:0]
	s.batched = s.batched[:0]
	for k, j := range jobs {
		it := items[k]
		if j.m.Reply == "" {
			it.req, _ = wire.DecodeRequest(j.m.Data, w.lim)
			it.done = true
			w.send(j, &it.req, wire.CodeOK, nil)
			continue
		}
		f, err := w.decodeFrame(&it.conv, j, &it.req, &it.t)
		if err != nil {
			it.done = true
			w.replyError(s, j, &it.req, err, it.t)
			continue
		}
		it.f = f
		s.frames = append(s.frames, &it.f)
		s.batched = append(s.batched, k)
	}
	if len(s.frames) == 0 {
		return
	}
	t0 := time.Now()
	results, err := s.det.DetectBatch(s.frames)
	infer := time.Since(t0)
	w.c.batches.Add(1)
	w.c.batched.Add(uint64(len(s.frames)))
	if err == nil {
		w.c.inference.observe(infer)
	}
	if w.opts.ExtraLatency > 0 {
		time.Sleep(w.opts.ExtraLatency) // once per run, as a slower model would be
	}
	for i, k := range s.batched {
		it := items[k]
		it.t.infer, it.t.slept = infer, true
		it.t.queue = max(t0.Sub(jobs[k].recv)-it.t.decode, 0)
		it.done = true
		if err != nil {
			w.replyError(s, jobs[k], &it.req, fmt.Errorf("detector: %w", err), it.t)
			continue
		}
		s.boxes = mapBoxes(s.boxes[:0], results[i], &it.req, w.lim)
		w.replyOK(s, jobs[k], &it.req, s.boxes, it.t)
	}
}
