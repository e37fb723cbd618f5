package cloudworker

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/wire"
)

// errDeadline is the sentinel of deadline errors (wire has none: the deadline
// is the worker's business, not the format's).
var errDeadline = errors.New("deadline exceeded")

// codeErr makes an error that wire.CodeOf maps to code and errors.Is to
// sentinel. Its text has no "wire: " prefix: these are the worker's errors, and
// the text goes to the edge in the reply.
func codeErr(code wire.Code, sentinel error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &codedError{msg: msg, we: &wire.Error{Code: code, Err: sentinel, Msg: msg}}
}

type codedError struct {
	msg string
	we  *wire.Error
}

func (e *codedError) Error() string { return e.msg }
func (e *codedError) Unwrap() error { return e.we }

// timing of one request, in the reply's terms.
type timing struct {
	decode, infer time.Duration
	// queue: receipt to the start of the model run, less the request's own
	// decode (batching's wait and the batch's other decodes included); for
	// a request that failed before the run, receipt to when a slot took it.
	queue time.Duration
	slept bool // ExtraLatency already slept (once per batch)
}

// handle serves one request on slot s and always tries to reply, even after a
// panic, so the edge learns at once that its frame will get no boxes.
func (w *Worker) handle(s *slot, j job) {
	defer w.c.inFlight.Add(-1)
	var req wire.Request
	t := timing{queue: time.Since(j.recv)}
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		w.c.panics.Add(1)
		w.log.Error("request handler panicked; answering internal error", "stream", req.StreamID, "frame", req.Frame,
			"panic", p, "stack", string(debug.Stack()))
		// The reply path itself might be what panicked: never let a second
		// panic take the process down.
		defer func() {
			if recover() != nil {
				w.c.sendFailures.Add(1)
			}
		}()
		w.replyError(s, j, &req, codeErr(wire.CodeInternal, wire.ErrInvalid, "internal error: panic: %v", p), t)
	}()
	if j.m.Reply == "" {
		// Nobody can be answered: do not spend a model run on it. The header
		// is read only for the log line's stream and frame.
		req, _ = wire.DecodeRequest(j.m.Data, w.lim)
		w.send(j, &req, wire.CodeOK, nil)
		return
	}
	boxes, err := w.process(s, j, &req, &t)
	if err != nil {
		w.replyError(s, j, &req, err, t)
		return
	}
	w.replyOK(s, j, &req, boxes, t)
}

// process decodes, checks and runs one request, returning boxes in the
// request's frame pixels (s.boxes, reused).
func (w *Worker) process(s *slot, j job, req *wire.Request, t *timing) ([]wire.Box, error) {
	f, err := w.decodeFrame(&s.conv, j, req, t)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	t.queue = max(t1.Sub(j.recv)-t.decode, 0)
	dets, err := s.det.Detect(&f)
	t.infer = time.Since(t1)
	if err != nil {
		return nil, fmt.Errorf("detector: %w", err)
	}
	w.c.inference.observe(t.infer)
	s.boxes = mapBoxes(s.boxes[:0], dets, req, w.lim)
	return s.boxes, nil
}

// decodeFrame decodes and checks one request and converts its JPEG into a
// frame borrowing conv's buffer.
func (w *Worker) decodeFrame(conv *converter, j job, req *wire.Request, t *timing) (frame.Frame, error) {
	r, err := wire.DecodeRequest(j.m.Data, w.lim)
	*req = r // on error, still the stream id and frame number for the echo
	if err != nil {
		return frame.Frame{}, err
	}
	if dl, ok := req.Deadline(); ok {
		if late := time.Since(dl); late > 0 {
			return frame.Frame{}, codeErr(wire.CodeDeadlineExceeded, errDeadline,
				"request expired %s before the worker got to it (timeout %d ms after sent-at; check the edge and worker clocks if this happens for every request)",
				late.Round(time.Millisecond), req.TimeoutMS)
		}
	}
	if w.testHook != nil {
		w.testHook(req)
	}
	// DecodeRequest has checked the SOF header against the limits already;
	// check again right before the decoder allocates from those numbers, so
	// the defence does not depend on code elsewhere.
	jw, jh, err := wire.JPEGDims(req.JPEG)
	if err != nil {
		return frame.Frame{}, err
	}
	if jw*jh > w.lim.MaxPixels || jw > w.lim.MaxWidth || jh > w.lim.MaxHeight {
		return frame.Frame{}, codeErr(wire.CodeTooLarge, wire.ErrTooLarge, "JPEG header says %dx%d, over the %dx%d, %d-pixel limit",
			jw, jh, w.lim.MaxWidth, w.lim.MaxHeight, w.lim.MaxPixels)
	}
	t0 := time.Now()
	img, err := jpeg.Decode(bytes.NewReader(req.JPEG))
	if err != nil {
		return frame.Frame{}, codeErr(wire.CodeDecodeFailed, wire.ErrBadJPEG, "JPEG data of %dx%d image: %v", jw, jh, err)
	}
	if b := img.Bounds(); b.Dx() != jw || b.Dy() != jh {
		return frame.Frame{}, codeErr(wire.CodeDecodeFailed, wire.ErrBadJPEG, "JPEG decoded to %dx%d but its header says %dx%d", b.Dx(), b.Dy(), jw, jh)
	}
	f, err := conv.toFrame(img)
	if err != nil {
		return frame.Frame{}, codeErr(wire.CodeDecodeFailed, wire.ErrBadJPEG, "%v", err)
	}
	t.decode = time.Since(t0)
	w.c.decode.observe(t.decode)
	return f, nil
}

// mapBoxes converts detections in JPEG pixels to wire boxes in frame pixels
// (the edge may send a downscaled JPEG), clamped to the frame, best first and
// at most lim.MaxBoxes, dropping classes the wire limits do not allow.
func mapBoxes(dst []wire.Box, dets []detection.Detection, req *wire.Request, lim wire.Limits) []wire.Box {
	sx := float32(req.Width) / float32(req.JPEGWidth)
	sy := float32(req.Height) / float32(req.JPEGHeight)
	fw, fh := float32(req.Width), float32(req.Height)
	for _, d := range dets {
		if d.Class < 0 || d.Class > lim.MaxClass {
			continue
		}
		r := detection.Rect{X1: d.Box.X1 * sx, Y1: d.Box.Y1 * sy, X2: d.Box.X2 * sx, Y2: d.Box.Y2 * sy}.Clamp(fw, fh)
		if r.Empty() {
			continue
		}
		dst = append(dst, wire.Box{Rect: r, Score: min(max(d.Score, 0), 1), Class: uint16(d.Class)})
	}
	if len(dst) > lim.MaxBoxes {
		slices.SortStableFunc(dst, func(a, b wire.Box) int {
			switch {
			case a.Score > b.Score:
				return -1
			case a.Score < b.Score:
				return 1
			}
			return 0
		})
		dst = dst[:lim.MaxBoxes]
	}
	return dst
}

// finish applies ExtraLatency and fills the reply's timing and worker id.
func (w *Worker) finish(rep *wire.Reply, j job, t timing) {
	if w.opts.ExtraLatency > 0 && !t.slept {
		time.Sleep(w.opts.ExtraLatency)
	}
	total := time.Since(j.recv)
	rep.DecodeUS, rep.InferUS = us(t.decode), us(t.infer)
	if acceptsQueueWait(j.m) {
		rep.QueueUS = us(t.queue)
	}
	rep.TotalUS = max(us(total), rep.DecodeUS+rep.InferUS+rep.QueueUS) // clocks are monotonic, but µs rounding is not additive
	rep.WorkerID = w.opts.WorkerID
	w.c.latency.observe(total)
	w.c.queueWait.observe(t.queue)
}

// acceptsQueueWait reports whether the request's edge decodes replies of
// wire.ReplyVersion (it says so in a header): older edges get version 1,
// without the queue wait.
func acceptsQueueWait(m *nats.Msg) bool {
	if m.Header == nil {
		return false
	}
	v, err := strconv.ParseUint(m.Header.Get(wire.ReplyVersionHeader), 10, 16)
	return err == nil && v >= uint64(wire.ReplyVersion)
}

func us(d time.Duration) uint32 {
	return uint32(min(max(d.Microseconds(), 0), 1<<31))
}

func (w *Worker) replyOK(s *slot, j job, req *wire.Request, boxes []wire.Box, t timing) {
	rep := wire.Reply{StreamID: req.StreamID, Frame: req.Frame, Status: wire.CodeOK, Boxes: boxes}
	w.finish(&rep, j, t)
	out, err := wire.AppendReply(s.out[:0], &rep, w.lim, req.Width, req.Height)
	if err == nil {
		s.out = out
		w.send(j, req, wire.CodeOK, out)
		return
	}
	// A box the protocol rejects is a worker bug; say so rather than send
	// nothing.
	e := wire.ErrorReply(req, codeErr(wire.CodeInternal, wire.ErrInvalid, "worker produced an invalid reply: %v", err))
	e.DecodeUS, e.InferUS, e.TotalUS, e.WorkerID = rep.DecodeUS, rep.InferUS, rep.TotalUS, rep.WorkerID
	w.sendError(s, j, req, &e, err)
}

func (w *Worker) replyError(s *slot, j job, req *wire.Request, err error, t timing) {
	rep := wire.ErrorReply(req, err)
	w.finish(&rep, j, t)
	w.sendError(s, j, req, &rep, err)
}

func (w *Worker) sendError(s *slot, j job, req *wire.Request, rep *wire.Reply, err error) {
	if w.elog.allow(time.Now()) {
		w.log.Warn("request failed", "code", rep.Status.String(), "stream", rep.StreamID, "frame", rep.Frame, "err", err)
	}
	out, aerr := wire.AppendReply(s.out[:0], rep, w.lim, 0, 0)
	if aerr != nil { // cannot happen: ErrorReply builds valid replies
		w.c.sendFailures.Add(1)
		w.log.Error("cannot encode error reply", "err", aerr)
		return
	}
	s.out = out
	w.send(j, req, rep.Status, out)
}

// send publishes a reply. NATS copies out into its write buffer, so the slot
// can reuse it at once.
func (w *Worker) send(j job, req *wire.Request, code wire.Code, out []byte) {
	if j.m.Reply == "" {
		w.c.sendFailures.Add(1)
		if w.elog.allow(time.Now()) {
			w.log.Warn("request has no reply subject; nobody to answer (send with nats Request or PublishMsg with Reply set)",
				"subject", j.m.Subject, "stream", req.StreamID, "frame", req.Frame)
		}
		return
	}
	if err := j.m.Respond(out); err != nil {
		w.c.sendFailures.Add(1)
		if w.elog.allow(time.Now()) {
			w.log.Error("sending reply failed", "stream", req.StreamID, "frame", req.Frame, "err", err)
		}
		return
	}
	w.c.replies[code].Add(1)
}
