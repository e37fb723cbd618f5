package wire

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Code is a reply status. Codes are part of the protocol: new ones need a new
// Version, so a decoder rejects codes it does not know.
type Code uint16

const (
	CodeOK               Code = 0 // boxes follow
	CodeBadRequest       Code = 1 // request malformed: bad magic, truncated, a field out of range
	CodeBadVersion       Code = 2 // request version not spoken by this worker
	CodeTooLarge         Code = 3 // request over the worker's Limits (bytes, dimensions, pixels)
	CodeDecodeFailed     Code = 4 // JPEG header or data could not be decoded
	CodeDeadlineExceeded Code = 5 // request timed out before the worker got to it
	CodeInternal         Code = 6 // worker-side failure (model, GPU, bug)
	numCodes                  = 7
)

var codeNames = [numCodes]string{"ok", "bad request", "bad version", "too large", "decode failed", "deadline exceeded", "internal error"}

// String is a short lower-case name, e.g. "bad version".
func (c Code) String() string {
	if c < numCodes {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", uint16(c))
}

// Valid reports whether c is a code of this protocol version.
func (c Code) Valid() bool { return c < numCodes }

// Sentinels for errors.Is; every *Error unwraps to one of them.
var (
	ErrBadMagic     = errors.New("not a gst-react message of the expected kind (bad magic)")
	ErrBadVersion   = errors.New("unsupported protocol version")
	ErrTruncated    = errors.New("message truncated")
	ErrTrailingData = errors.New("trailing bytes after message")
	ErrInvalid      = errors.New("invalid field value")
	ErrTooLarge     = errors.New("over limit")
	ErrBadJPEG      = errors.New("bad JPEG header")
)

// Error is the error type of this package.
type Error struct {
	Code    Code   // reply status a worker should send for it
	Err     error  // one of the Err* sentinels
	Version uint16 // with ErrBadVersion: the version the message had
	Msg     string // what was wrong, for people
}

func (e *Error) Error() string { return "wire: " + e.Msg }

// Unwrap returns the sentinel, so errors.Is(err, ErrBadVersion) works.
func (e *Error) Unwrap() error { return e.Err }

func newErr(sentinel error, format string, args ...any) *Error {
	var c Code
	switch sentinel {
	case ErrBadVersion:
		c = CodeBadVersion
	case ErrTooLarge:
		c = CodeTooLarge
	case ErrBadJPEG:
		c = CodeDecodeFailed
	default:
		c = CodeBadRequest
	}
	return &Error{Code: c, Err: sentinel, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf maps an error to the reply status a worker should send: CodeOK for nil,
// the Code of an *Error anywhere in the chain, CodeInternal for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorReply is the reply a worker sends when it cannot serve a request: the
// status is CodeOf(err) (CodeInternal for nil, since an error reply needs an
// error) and the message is err's text, cut to MaxMessageLen bytes with control
// characters and invalid UTF-8 replaced, so it always passes validation. req may
// be nil; after a failed DecodeRequest it holds the stream id and frame number if
// they could be read, and the reply echoes them. Set WorkerID and timings as usual.
func ErrorReply(req *Request, err error) Reply {
	var r Reply
	if req != nil && validStreamID(req.StreamID) {
		r.StreamID, r.Frame = req.StreamID, req.Frame
	}
	r.Status = CodeOf(err)
	if r.Status == CodeOK {
		r.Status = CodeInternal
	}
	if err != nil {
		r.Message = sanitizeMessage(err.Error())
	}
	return r
}

func sanitizeMessage(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) <= MaxMessageLen {
		return s
	}
	n := MaxMessageLen
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
