package wire

// Version is the protocol version of requests, and of replies that carry no
// queue wait.
const Version uint16 = 1

// ReplyVersion is the newest reply version: version 1 plus the worker's queue
// wait ([Reply.QueueUS]). Decoders read both; encoders write version 2 only
// for a nonzero queue wait, so a reply has one encoding and a worker that
// leaves QueueUS at 0 sends exactly version 1.
const ReplyVersion uint16 = 2

// ReplyVersionHeader is the NATS header in which an edge tells workers the
// newest reply version it decodes (e.g. "2"). A worker sets Reply.QueueUS only
// when it is at least ReplyVersion, so edges that predate version 2 (no
// header) keep getting version 1; workers that predate it ignore the header
// and answer version 1, whose queue wait decodes as 0.
const ReplyVersionHeader = "React-Reply-Version"

// Protocol constants: fixed by the format, not by deployment, because both sides
// must agree on them and they bound the 1-byte length prefixes.
const (
	MaxStreamIDLen = 64  // stream id: 1..64 bytes of [A-Za-z0-9._-]
	MaxWorkerIDLen = 64  // worker id: 0..64 bytes of [A-Za-z0-9._-]
	MaxMessageLen  = 200 // reply message: 0..200 bytes of UTF-8
	NoPTS          = -1  // Request.PTS when the frame has no timestamp
	// BoxSlack is how far (in frame pixels) a reply box may stick out of the
	// frame: detectors regress coordinates and round, so -0.5 or w+0.3 is normal,
	// but a box far outside means a bug such as boxes in JPEG instead of frame
	// coordinates.
	BoxSlack = 1
)

// Default limits, used for any Limits field that is zero (or negative).
const (
	DefaultMaxJPEGBytes = 4 << 20    // 4 MiB: a 4K frame at high quality is ~2 MiB
	DefaultMaxWidth     = 8192       // frame and JPEG width
	DefaultMaxHeight    = 8192       // frame and JPEG height
	DefaultMaxPixels    = 40_000_000 // width×height: 8K UHD (33.2 Mpx) fits; ~120 MB as RGB
	DefaultMaxBoxes     = 1000       // per reply
	DefaultMaxClass     = 9999       // largest class index (COCO uses 0..79)
)

// Limits bound what a message may ask of its receiver. Edge and worker should use
// the same values (the defaults, normally). The zero value means all defaults, and
// each zero field means its default, so Limits{MaxBoxes: 300} changes only that.
type Limits struct {
	MaxJPEGBytes int // JPEG payload size
	MaxWidth     int // frame and JPEG width, pixels
	MaxHeight    int // frame and JPEG height, pixels
	MaxPixels    int // width×height of the frame and of the JPEG: bounds decode memory
	MaxBoxes     int // boxes per reply
	MaxClass     int // largest allowed class index (at most 65535, the wire type)
}

// DefaultLimits returns the defaults, spelled out.
func DefaultLimits() Limits { return Limits{}.withDefaults() }

// WithDefaults is l with every zero (or negative) field set to its default,
// e.g. a Limits from flags where only some were given.
func (l Limits) WithDefaults() Limits { return l.withDefaults() }

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxJPEGBytes, DefaultMaxJPEGBytes)
	def(&l.MaxWidth, DefaultMaxWidth)
	def(&l.MaxHeight, DefaultMaxHeight)
	def(&l.MaxPixels, DefaultMaxPixels)
	def(&l.MaxBoxes, DefaultMaxBoxes)
	def(&l.MaxClass, DefaultMaxClass)
	// The wire types cap what any Limits can allow.
	l.MaxJPEGBytes = min(l.MaxJPEGBytes, 1<<32-1)
	l.MaxWidth = min(l.MaxWidth, 1<<32-1)
	l.MaxHeight = min(l.MaxHeight, 1<<32-1)
	l.MaxBoxes = min(l.MaxBoxes, 1<<32-1)
	l.MaxClass = min(l.MaxClass, 1<<16-1)
	return l
}

// DefaultStreamID names a stream when nothing else does (reactcloud,
// reactpublish and gstreact run with one input all use it).
const DefaultStreamID = "stream0"

// ValidStreamID reports whether s is a stream id the protocol carries:
// 1..MaxStreamIDLen bytes of [A-Za-z0-9._-]. Settings are checked with it.
func ValidStreamID(s string) bool { return validStreamID(s) }

// ValidWorkerID reports whether s is a worker id a worker may send:
// 1..MaxWorkerIDLen bytes of [A-Za-z0-9._-].
func ValidWorkerID(s string) bool { return len(s) > 0 && len(s) <= MaxWorkerIDLen && badIDChar(s) < 0 }

// IDChar reports whether c may stand in a stream or worker id.
func IDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// validStreamID reports whether s is 1..MaxStreamIDLen bytes of [A-Za-z0-9._-].
func validStreamID[S string | []byte](s S) bool {
	return len(s) > 0 && len(s) <= MaxStreamIDLen && badIDChar(s) < 0
}

// badIDChar returns the index of the first byte of s outside [A-Za-z0-9._-], or -1.
// IDs are this narrow so they are safe in NATS subjects, metric labels, file
// names and logs without escaping.
func badIDChar[S string | []byte](s S) int {
	for i := 0; i < len(s); i++ {
		if !IDChar(s[i]) {
			return i
		}
	}
	return -1
}
