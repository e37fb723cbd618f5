package wire

import (
	"encoding/binary"
	"math"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/gst-react/gst-react/internal/detection"
)

var replyMagic = [4]byte{'R', 'C', 'T', 'R'}

const (
	replyFixedLen = 33 // magic .. stream id length byte of version 1, see the package doc
	replyMinLen   = replyFixedLen + 2
	queueLen      = 4  // version 2's queue wait, before the box count
	boxLen        = 22 // 5 float32 + uint16
)

// Box is one detection in a reply, in the request's frame pixels.
type Box struct {
	Rect  detection.Rect
	Score float32 // 0..1
	Class uint16  // index into the label list, ≤ Limits.MaxClass
}

// Detection converts b for the tracker: Source is detection.SourceCloud, not
// tracked yet, age 0 (the caller fast-forwards cloud boxes to the current frame).
func (b Box) Detection() detection.Detection {
	return detection.Detection{Box: b.Rect, Class: int(b.Class), Score: b.Score, Source: detection.SourceCloud}
}

// BoxFromDetection converts d for a reply. It fails only when d.Class does not
// fit the wire's uint16; the rest is checked by Reply.Validate.
func BoxFromDetection(d detection.Detection) (Box, error) {
	if d.Class < 0 || d.Class > math.MaxUint16 {
		return Box{}, newErr(ErrInvalid, "detection class %d does not fit 0..%d", d.Class, math.MaxUint16)
	}
	return Box{Rect: d.Box, Score: d.Score, Class: uint16(d.Class)}, nil
}

// AppendDetections appends boxes, converted with Box.Detection, to dst.
func AppendDetections(dst []detection.Detection, boxes []Box) []detection.Detection {
	for _, b := range boxes {
		dst = append(dst, b.Detection())
	}
	return dst
}

// AppendBoxes appends ds, converted with BoxFromDetection, to dst.
func AppendBoxes(dst []Box, ds []detection.Detection) ([]Box, error) {
	for _, d := range ds {
		b, err := BoxFromDetection(d)
		if err != nil {
			return dst, err
		}
		dst = append(dst, b)
	}
	return dst, nil
}

// Reply is a worker's answer to one Request. See the package doc for the encoding.
type Reply struct {
	StreamID string // echo of Request.StreamID; empty only in an error reply to an unreadable request
	Frame    uint64 // echo of Request.Frame
	Status   Code   // CodeOK, or why there are no boxes
	Message  string // for errors: what went wrong, ≤ MaxMessageLen bytes; empty when OK
	Boxes    []Box  // in Request.Width×Height pixels; none unless Status is CodeOK

	// Worker-side timing in µs: JPEG decode, model inference, and total from
	// receipt to reply (so Total ≥ Decode+Infer+Queue). RTT minus Total is the
	// network.
	DecodeUS, InferUS, TotalUS uint32
	// QueueUS is how long the request waited in the worker before its model
	// run (receipt to the run's start, less its own decode; batching's wait
	// included): the worker's load, which edges back off from. 0 = none or
	// not reported; a nonzero value is encoded as reply version 2, which
	// only edges that sent ReplyVersionHeader get.
	QueueUS uint32

	WorkerID string // which worker answered, 0..64 of [A-Za-z0-9._-]; for debugging
}

// EncodedLen is the size of r's encoding.
func (r *Reply) EncodedLen() int {
	n := replyMinLen + len(r.StreamID) + len(r.WorkerID) + len(r.Message) + boxLen*len(r.Boxes)
	if r.QueueUS > 0 {
		n += queueLen
	}
	return n
}

// Validate checks r against the protocol and lim. frameW and frameH are the size
// of the request's frame, which the boxes must lie in (give or take BoxSlack);
// pass 0, 0 when unknown to check against lim.MaxWidth×MaxHeight instead, as
// DecodeReply does. The worker calls it (through AppendReply) with the request's
// size; the edge calls it again after DecodeReply with the size of the frame it
// sent.
func (r *Reply) Validate(lim Limits, frameW, frameH int) error {
	lim = lim.withDefaults()
	if frameW <= 0 || frameH <= 0 {
		frameW, frameH = lim.MaxWidth, lim.MaxHeight
	}
	if !r.Status.Valid() {
		return newErr(ErrInvalid, "reply status is %d, want 0..%d", uint16(r.Status), numCodes-1)
	}
	if err := checkStreamID("reply", r.StreamID, r.Status != CodeOK); err != nil {
		return err
	}
	if len(r.WorkerID) > MaxWorkerIDLen {
		return newErr(ErrInvalid, "reply worker id is %d bytes, want at most %d", len(r.WorkerID), MaxWorkerIDLen)
	}
	if i := badIDChar(r.WorkerID); i >= 0 {
		return newErr(ErrInvalid, "reply worker id %q has byte %q at %d, want only A-Z a-z 0-9 . _ -", r.WorkerID, r.WorkerID[i], i)
	}
	if err := checkMessage(r.Message); err != nil {
		return err
	}
	if r.Status == CodeOK && r.Message != "" {
		return newErr(ErrInvalid, "reply has status ok and message %q; messages are for errors", r.Message)
	}
	if uint64(r.DecodeUS)+uint64(r.InferUS)+uint64(r.QueueUS) > uint64(r.TotalUS) {
		return newErr(ErrInvalid, "reply timing: decode %d µs + inference %d µs + queue %d µs exceed total %d µs", r.DecodeUS, r.InferUS, r.QueueUS, r.TotalUS)
	}
	if r.Status != CodeOK && len(r.Boxes) > 0 {
		return newErr(ErrInvalid, "reply has status %q and %d boxes; error replies have none", r.Status, len(r.Boxes))
	}
	if len(r.Boxes) > lim.MaxBoxes {
		return newErr(ErrTooLarge, "reply has %d boxes, limit %d", len(r.Boxes), lim.MaxBoxes)
	}
	// Frame sizes are ≤ 2^24 in practice (limits are 8192), exact in float32.
	xmax, ymax := float32(frameW)+BoxSlack, float32(frameH)+BoxSlack
	for i := range r.Boxes {
		if err := checkBox(i, &r.Boxes[i], lim.MaxClass, xmax, ymax); err != nil {
			return err
		}
	}
	return nil
}

func checkMessage(m string) error {
	if len(m) > MaxMessageLen {
		return newErr(ErrInvalid, "reply message is %d bytes, want at most %d", len(m), MaxMessageLen)
	}
	for i, c := range m {
		if c == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(m[i:]); size <= 1 {
				return newErr(ErrInvalid, "reply message has invalid UTF-8 at byte %d", i)
			}
		}
		if unicode.IsControl(c) { // messages end up in logs and UIs
			return newErr(ErrInvalid, "reply message has control character %U at byte %d", c, i)
		}
	}
	return nil
}

// checkBox is on the hot path of every reply (both sides), so the common case
// is one branch-light test; boxError works out what to say only on failure.
func checkBox(i int, b *Box, maxClass int, xmax, ymax float32) error {
	x1, y1, x2, y2, s := b.Rect.X1, b.Rect.Y1, b.Rect.X2, b.Rect.Y2, b.Score
	// Non-finite values need no test of their own: NaN fails every comparison,
	// and ±Inf fails the finite frame bounds (each value is bounded on both
	// sides, directly or through x1 ≤ x2 / y1 ≤ y2).
	if s >= 0 && s <= 1 && int(b.Class) <= maxClass &&
		x1 <= x2 && y1 <= y2 && x1 >= -BoxSlack && y1 >= -BoxSlack && x2 <= xmax && y2 <= ymax {
		return nil
	}
	return boxError(i, b, maxClass, xmax-BoxSlack, ymax-BoxSlack)
}

//go:noinline
func boxError(i int, b *Box, maxClass int, w, h float32) error {
	names := [5]string{"x1", "y1", "x2", "y2", "score"}
	for k, v := range [5]float32{b.Rect.X1, b.Rect.Y1, b.Rect.X2, b.Rect.Y2, b.Score} {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return newErr(ErrInvalid, "reply box %d has %s %v, want a finite number", i, names[k], v)
		}
	}
	if !(b.Score >= 0 && b.Score <= 1) {
		return newErr(ErrInvalid, "reply box %d has score %v, want 0..1", i, b.Score)
	}
	if int(b.Class) > maxClass {
		return newErr(ErrInvalid, "reply box %d has class %d, want at most %d", i, b.Class, maxClass)
	}
	r := b.Rect
	if r.X2 < r.X1 || r.Y2 < r.Y1 {
		return newErr(ErrInvalid, "reply box %d is (%v,%v)-(%v,%v), want x1 ≤ x2 and y1 ≤ y2", i, r.X1, r.Y1, r.X2, r.Y2)
	}
	return newErr(ErrInvalid, "reply box %d is (%v,%v)-(%v,%v), outside the %vx%v frame by more than %d px",
		i, r.X1, r.Y1, r.X2, r.Y2, w, h, BoxSlack)
}

// AppendReply validates r (see Validate, with the request's frame size) and
// appends its encoding to dst. It does not allocate when
// cap(dst)-len(dst) ≥ r.EncodedLen(), so a worker can reuse one buffer.
func AppendReply(dst []byte, r *Reply, lim Limits, frameW, frameH int) ([]byte, error) {
	if err := r.Validate(lim, frameW, frameH); err != nil {
		return dst, err
	}
	return appendReply(dst, r), nil
}

// appendReply encodes without validating; tests use it to build bad messages.
func appendReply(dst []byte, r *Reply) []byte {
	le := binary.LittleEndian
	dst = append(dst, replyMagic[:]...)
	if r.QueueUS > 0 {
		dst = le.AppendUint16(dst, ReplyVersion)
	} else {
		dst = le.AppendUint16(dst, Version)
	}
	dst = le.AppendUint64(dst, r.Frame)
	dst = le.AppendUint16(dst, uint16(r.Status))
	dst = le.AppendUint32(dst, r.DecodeUS)
	dst = le.AppendUint32(dst, r.InferUS)
	dst = le.AppendUint32(dst, r.TotalUS)
	if r.QueueUS > 0 {
		dst = le.AppendUint32(dst, r.QueueUS)
	}
	dst = le.AppendUint32(dst, uint32(len(r.Boxes)))
	dst = append(dst, byte(len(r.StreamID)))
	dst = append(dst, r.StreamID...)
	dst = append(dst, byte(len(r.WorkerID)))
	dst = append(dst, r.WorkerID...)
	dst = append(dst, byte(len(r.Message)))
	dst = append(dst, r.Message...)
	// One grow and fixed offsets instead of six appends per box.
	n := len(dst)
	dst = slices.Grow(dst, boxLen*len(r.Boxes))[:n+boxLen*len(r.Boxes)]
	for i := range r.Boxes {
		b, out := &r.Boxes[i], dst[n+i*boxLen:n+(i+1)*boxLen]
		le.PutUint32(out[0:], math.Float32bits(b.Rect.X1))
		le.PutUint32(out[4:], math.Float32bits(b.Rect.Y1))
		le.PutUint32(out[8:], math.Float32bits(b.Rect.X2))
		le.PutUint32(out[12:], math.Float32bits(b.Rect.Y2))
		le.PutUint32(out[16:], math.Float32bits(b.Score))
		le.PutUint16(out[20:], b.Class)
	}
	return dst
}

// DecodeReply reads a reply of version 1 or 2 and validates it (see
// Reply.Validate) with boxes checked against lim.MaxWidth×MaxHeight, as the
// frame size is not in the reply; call Validate with the real frame size
// afterwards. Nothing in the result aliases msg. Box counts are checked against
// lim and the message length before the box slice is allocated.
func DecodeReply(msg []byte, lim Limits) (Reply, error) {
	v, err := checkHeadVersion("reply", msg, replyMagic, ReplyVersion)
	if err != nil {
		return Reply{}, err
	}
	// Version 2 has the queue wait between the total time and the box count.
	ext := 0
	if v >= 2 {
		ext = queueLen
	}
	if len(msg) < replyMinLen+ext {
		return Reply{}, newErr(ErrTruncated, "reply is %d bytes, want at least %d", len(msg), replyMinLen+ext)
	}
	lim = lim.withDefaults()
	le := binary.LittleEndian
	r := Reply{
		Frame:    le.Uint64(msg[6:]),
		Status:   Code(le.Uint16(msg[14:])),
		DecodeUS: le.Uint32(msg[16:]),
		InferUS:  le.Uint32(msg[20:]),
		TotalUS:  le.Uint32(msg[24:]),
	}
	if ext > 0 {
		r.QueueUS = le.Uint32(msg[28:])
		if r.QueueUS == 0 {
			// Canonical form: no queue wait is version 1.
			return Reply{}, newErr(ErrInvalid, "reply version 2 has queue wait 0; a reply without one is version 1")
		}
	}
	nb := int(le.Uint32(msg[28+ext:]))
	if nb > lim.MaxBoxes {
		return Reply{}, newErr(ErrTooLarge, "reply has %d boxes, limit %d", nb, lim.MaxBoxes)
	}
	p := replyFixedLen - 1 + ext
	str := func(what string) ([]byte, error) {
		if p >= len(msg) {
			return nil, newErr(ErrTruncated, "reply ends before its %s", what)
		}
		n := int(msg[p])
		if len(msg)-p-1 < n {
			return nil, newErr(ErrTruncated, "reply ends inside its %d-byte %s", n, what)
		}
		s := msg[p+1 : p+1+n]
		p += 1 + n
		return s, nil
	}
	sid, err := str("stream id")
	if err != nil {
		return Reply{}, err
	}
	wid, err := str("worker id")
	if err != nil {
		return Reply{}, err
	}
	m, err := str("message")
	if err != nil {
		return Reply{}, err
	}
	switch rest := len(msg) - p; {
	case rest < nb*boxLen:
		return Reply{}, newErr(ErrTruncated, "reply has %d boxes (%d bytes) but only %d bytes follow", nb, nb*boxLen, rest)
	case rest > nb*boxLen:
		return Reply{}, newErr(ErrTrailingData, "reply has %d bytes after its %d boxes", rest-nb*boxLen, nb)
	}
	r.StreamID, r.WorkerID = intern(sid), intern(wid)
	if len(m) > 0 {
		r.Message = string(m)
	}
	if nb > 0 {
		r.Boxes = make([]Box, nb)
		for i := range r.Boxes {
			b := msg[p+i*boxLen : p+(i+1)*boxLen]
			r.Boxes[i] = Box{
				Rect: detection.Rect{
					X1: math.Float32frombits(le.Uint32(b[0:])),
					Y1: math.Float32frombits(le.Uint32(b[4:])),
					X2: math.Float32frombits(le.Uint32(b[8:])),
					Y2: math.Float32frombits(le.Uint32(b[12:])),
				},
				Score: math.Float32frombits(le.Uint32(b[16:])),
				Class: le.Uint16(b[20:]),
			}
		}
	}
	if err := r.Validate(lim, 0, 0); err != nil {
		return Reply{}, err
	}
	return r, nil
}
