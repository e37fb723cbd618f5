package wire

import (
	"encoding/binary"
	"fmt"
	"time"
)

var requestMagic = [4]byte{'R', 'C', 'T', 'Q'}

const (
	requestFixedLen = 51 // magic .. stream id length byte, see the package doc
	requestMinLen   = requestFixedLen + 4
)

// Request is one frame sent by an edge for detection. See the package doc for
// the encoding.
type Request struct {
	StreamID string // which camera/pipeline: 1..64 of [A-Za-z0-9._-]
	Frame    uint64 // frame number within the stream, echoed in the reply
	PTS      int64  // presentation timestamp in ns, or NoPTS
	SentAt   int64  // edge wall clock when sent, Unix ns (0 = unknown); for RTT

	// TimeoutMS is how long after SentAt the answer is still useful; 0 = no limit.
	// Workers may drop late requests (CodeDeadlineExceeded); mind clock skew.
	TimeoutMS uint32

	// Width and Height are the original frame's size: reply boxes are in this
	// coordinate space, whatever the size of the JPEG.
	Width, Height int

	// JPEGWidth and JPEGHeight are the JPEG's size as its SOF header says; at
	// most Width×Height (the JPEG may be downscaled, never upscaled). The worker
	// scales its boxes by Width/JPEGWidth and Height/JPEGHeight.
	JPEGWidth, JPEGHeight int

	// JPEG is the encoded image. After DecodeRequest it aliases the message:
	// copy it if the message buffer will be reused while the request lives.
	JPEG []byte
}

// Deadline returns SentAt + TimeoutMS, and false when either is unset.
func (r *Request) Deadline() (time.Time, bool) {
	if r.TimeoutMS == 0 || r.SentAt <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, r.SentAt+int64(r.TimeoutMS)*int64(time.Millisecond)), true
}

// EncodedLen is the size of r's encoding.
func (r *Request) EncodedLen() int { return requestMinLen + len(r.StreamID) + len(r.JPEG) }

// Validate checks r against the protocol and lim; the edge calls it (through
// AppendRequest) before sending, and DecodeRequest on the worker after reading.
// It reads the JPEG's SOF header (see JPEGDims) but does not decode the image.
func (r *Request) Validate(lim Limits) error {
	lim = lim.withDefaults()
	if err := checkStreamID("request", r.StreamID, false); err != nil {
		return err
	}
	if r.PTS < NoPTS {
		return newErr(ErrInvalid, "request PTS is %d, want ≥ 0 or %d for none", r.PTS, NoPTS)
	}
	if r.SentAt < 0 {
		return newErr(ErrInvalid, "request sent-at time is %d, want Unix nanoseconds ≥ 0", r.SentAt)
	}
	if err := checkDims("request frame", r.Width, r.Height, lim); err != nil {
		return err
	}
	if err := checkDims("request JPEG", r.JPEGWidth, r.JPEGHeight, lim); err != nil {
		return err
	}
	if r.JPEGWidth > r.Width || r.JPEGHeight > r.Height {
		return newErr(ErrInvalid, "request JPEG is %dx%d, larger than its %dx%d frame (downscale or send as is, never upscale)",
			r.JPEGWidth, r.JPEGHeight, r.Width, r.Height)
	}
	if len(r.JPEG) == 0 {
		return newErr(ErrInvalid, "request has no JPEG data")
	}
	if len(r.JPEG) > lim.MaxJPEGBytes {
		return newErr(ErrTooLarge, "request JPEG is %d bytes, limit %d", len(r.JPEG), lim.MaxJPEGBytes)
	}
	w, h, err := JPEGDims(r.JPEG)
	if err != nil {
		return err
	}
	if w != r.JPEGWidth || h != r.JPEGHeight {
		return newErr(ErrInvalid, "request says the JPEG is %dx%d but the JPEG header says %dx%d",
			r.JPEGWidth, r.JPEGHeight, w, h)
	}
	return nil
}

func checkDims(what string, w, h int, lim Limits) error {
	if w <= 0 || h <= 0 {
		return newErr(ErrInvalid, "%s size is %dx%d, want both at least 1", what, w, h)
	}
	if w > lim.MaxWidth || h > lim.MaxHeight {
		return newErr(ErrTooLarge, "%s size %dx%d is over the %dx%d limit", what, w, h, lim.MaxWidth, lim.MaxHeight)
	}
	if w*h > lim.MaxPixels { // no overflow: both ≤ 2^32-1 and int is 64-bit
		return newErr(ErrTooLarge, "%s size %dx%d is %d pixels, limit %d", what, w, h, w*h, lim.MaxPixels)
	}
	return nil
}

func checkStreamID(side, id string, emptyOK bool) error {
	if len(id) == 0 {
		if emptyOK {
			return nil
		}
		return newErr(ErrInvalid, "%s stream id is empty", side)
	}
	if len(id) > MaxStreamIDLen {
		return newErr(ErrInvalid, "%s stream id is %d bytes, want at most %d", side, len(id), MaxStreamIDLen)
	}
	if i := badIDChar(id); i >= 0 {
		return newErr(ErrInvalid, "%s stream id %q has byte %q at %d, want only A-Z a-z 0-9 . _ -", side, id, id[i], i)
	}
	return nil
}

// AppendRequest validates r (see Validate) and appends its encoding to dst. It
// does not allocate when cap(dst)-len(dst) ≥ r.EncodedLen().
func AppendRequest(dst []byte, r *Request, lim Limits) ([]byte, error) {
	if err := r.Validate(lim); err != nil {
		return dst, err
	}
	return appendRequest(dst, r), nil
}

// appendRequest encodes without validating; tests use it to build bad messages.
func appendRequest(dst []byte, r *Request) []byte {
	le := binary.LittleEndian
	dst = append(dst, requestMagic[:]...)
	dst = le.AppendUint16(dst, Version)
	dst = le.AppendUint64(dst, r.Frame)
	dst = le.AppendUint64(dst, uint64(r.PTS))
	dst = le.AppendUint64(dst, uint64(r.SentAt))
	dst = le.AppendUint32(dst, r.TimeoutMS)
	dst = le.AppendUint32(dst, uint32(r.Width))
	dst = le.AppendUint32(dst, uint32(r.Height))
	dst = le.AppendUint32(dst, uint32(r.JPEGWidth))
	dst = le.AppendUint32(dst, uint32(r.JPEGHeight))
	dst = append(dst, byte(len(r.StreamID)))
	dst = append(dst, r.StreamID...)
	dst = le.AppendUint32(dst, uint32(len(r.JPEG)))
	dst = append(dst, r.JPEG...)
	return dst
}

// checkHead checks the magic and version every message starts with. Magic comes
// first: a message of another kind is not "truncated" or "a bad version".
func checkHead(side string, msg []byte, magic [4]byte) error {
	_, err := checkHeadVersion(side, msg, magic, Version)
	return err
}

// checkHeadVersion checks the magic and returns the version, which must be
// 1..newest.
func checkHeadVersion(side string, msg []byte, magic [4]byte, newest uint16) (uint16, error) {
	n := min(len(msg), 4)
	if string(msg[:n]) != string(magic[:n]) {
		return 0, newErr(ErrBadMagic, "%s does not start with %q (got % X)", side, string(magic[:]), msg[:n])
	}
	if len(msg) < 6 {
		return 0, newErr(ErrTruncated, "%s is %d bytes, too short for a header", side, len(msg))
	}
	v := binary.LittleEndian.Uint16(msg[4:])
	if v < 1 || v > newest {
		speaks := fmt.Sprint(newest)
		if newest > 1 {
			speaks = fmt.Sprintf("1..%d", newest)
		}
		e := newErr(ErrBadVersion, "%s has protocol version %d, this side speaks %s", side, v, speaks)
		e.Version = v
		return 0, e
	}
	return v, nil
}

// DecodeRequest reads and validates a request (see Request.Validate). The
// returned JPEG aliases msg; nothing is copied, and in steady state nothing is
// allocated. On error the returned Request is empty except for StreamID and Frame
// when those could be read, so ErrorReply can echo them.
func DecodeRequest(msg []byte, lim Limits) (Request, error) {
	if err := checkHead("request", msg, requestMagic); err != nil {
		return Request{}, err
	}
	if len(msg) < requestMinLen {
		return Request{}, newErr(ErrTruncated, "request is %d bytes, want at least %d", len(msg), requestMinLen)
	}
	le := binary.LittleEndian
	r := Request{
		Frame:      le.Uint64(msg[6:]),
		PTS:        int64(le.Uint64(msg[14:])),
		SentAt:     int64(le.Uint64(msg[22:])),
		TimeoutMS:  le.Uint32(msg[30:]),
		Width:      int(le.Uint32(msg[34:])),
		Height:     int(le.Uint32(msg[38:])),
		JPEGWidth:  int(le.Uint32(msg[42:])),
		JPEGHeight: int(le.Uint32(msg[46:])),
	}
	fail := func(err error) (Request, error) {
		return Request{StreamID: r.StreamID, Frame: r.Frame}, err
	}
	n := int(msg[50])
	p := requestFixedLen
	if len(msg) < p+n+4 {
		return fail(newErr(ErrTruncated, "request is %d bytes, too short for its %d-byte stream id", len(msg), n))
	}
	id := msg[p : p+n]
	if validStreamID(id) {
		r.StreamID = intern(id)
	} else if err := checkStreamID("request", string(id), false); err != nil { // allocates only on error
		return fail(err)
	}
	p += n
	jl := int(le.Uint32(msg[p:]))
	p += 4
	lim = lim.withDefaults()
	switch rest := len(msg) - p; {
	case jl > lim.MaxJPEGBytes:
		return fail(newErr(ErrTooLarge, "request JPEG is %d bytes, limit %d", jl, lim.MaxJPEGBytes))
	case rest < jl:
		return fail(newErr(ErrTruncated, "request JPEG is %d bytes but only %d follow", jl, rest))
	case rest > jl:
		return fail(newErr(ErrTrailingData, "request has %d bytes after its %d-byte JPEG", rest-jl, jl))
	}
	r.JPEG = msg[p:len(msg):len(msg)] // full slice expression: appending to JPEG cannot scribble past the message
	if err := r.Validate(lim); err != nil {
		return fail(err)
	}
	return r, nil
}
