// Package wire is the one definition of the gst-react edge↔cloud protocol: what an
// edge element sends to a cloud worker over NATS (a [Request]: one frame as JPEG
// plus the header needed to place the answer) and what the worker sends back (a
// [Reply]: boxes for that, by then past, frame). Both sides validate every message
// with the same code and the same [Limits], so a bug or a hostile peer is caught at
// the boundary instead of deep inside a decoder or tracker.
//
// # Transport
//
// Edges send requests to [DefaultRequestSubject] ("react.detect"), either with
// NATS request/reply (the reply goes to a per-request inbox) or by publishing with
// a reply subject of their own. Workers subscribe in the queue group
// [DefaultQueueGroup] ("react-workers"), so each request reaches exactly one worker
// and adding workers scales out. To separate tenants later, use [TenantSubject]
// ("react.detect.<tenant>") and NATS subject permissions; a worker may subscribe
// to "react.detect.>" to serve all of them. Replies echo the stream id and frame
// number, so an edge that publishes with one shared reply subject can still match
// a reply to its frame.
//
// NATS servers reject payloads over max_payload, 1 MiB by default. A 1080p JPEG at
// normal quality is 100–300 KB, far below it; raise max_payload on the server if
// you raise JPEG sizes towards [DefaultMaxJPEGBytes] (4 MiB).
//
// # Why a hand-written binary format
//
// JSON would base64 the JPEG (+33% bytes, a copy and an allocation per frame) and
// parse numbers slowly; protobuf would add a module dependency and generated code
// for a dozen fields. This format needs nothing outside the standard library, costs
// a fixed few dozen bytes per message, decodes a request without copying the JPEG
// (the [Request.JPEG] slice aliases the message) and without allocating, and
// encodes a reply into a reused buffer without allocating. It is canonical: every
// valid message has exactly one encoding (no padding, no optional fields, no
// reserved bits), so decode→encode reproduces the input byte for byte, which the
// fuzz tests check.
//
// All integers are little-endian and fixed width; floats are IEEE 754 binary32
// little-endian. Strings are a 1-byte length followed by that many bytes. Each
// message starts with a 4-byte magic, different for requests and replies (so a
// message sent to the wrong side is rejected as such), then a uint16 version.
// A decoder checks magic and version before anything else, because a message of
// another version may have a different layout; [ErrBadVersion] errors carry the
// version found in [Error.Version]. Requests are [Version] (1); replies are
// version 1 or [ReplyVersion] (2), which adds the worker's queue wait.
//
// # Request, version 1
//
//	offset  size  field
//	 0       4    magic "RCTQ" (0x52 0x43 0x54 0x51)
//	 4       2    version, uint16 = 1
//	 6       8    frame number, uint64
//	14       8    PTS, int64 nanoseconds; -1 (NoPTS) = none
//	22       8    sent at, int64 Unix nanoseconds of the edge clock (for RTT)
//	30       4    timeout, uint32 milliseconds after sent-at; 0 = none
//	34       4    frame width, uint32   (the original frame: reply boxes are
//	38       4    frame height, uint32   in this coordinate space)
//	42       4    JPEG width, uint32    (the JPEG may be a downscaled frame;
//	46       4    JPEG height, uint32    it must match the JPEG's SOF header)
//	50       1    stream id length n, 1..64
//	51       n    stream id, [A-Za-z0-9._-]
//	51+n     4    JPEG length L, uint32
//	55+n     L    JPEG bytes (the tail of the message)
//
// The JPEG carries its own width and height in its SOF header; they are repeated
// in the request so the worker can reject oversized work before touching the JPEG,
// and the two must agree, which [JPEGDims] checks without decoding the image (a
// defence against decompression bombs: a small file that claims to be huge).
// The JPEG must not be larger than the frame in either dimension. The JPEG length
// is redundant with the message length on purpose: it turns truncation and
// trailing garbage into errors instead of a silently different JPEG.
//
// # Reply, version 1
//
//	offset  size  field
//	 0       4    magic "RCTR" (0x52 0x43 0x54 0x52)
//	 4       2    version, uint16 = 1
//	 6       8    frame number, uint64 (echo of the request)
//	14       2    status, uint16 Code: 0 ok, else an error code
//	16       4    decode time, uint32 µs (JPEG decode on the worker)
//	20       4    inference time, uint32 µs
//	24       4    total time, uint32 µs (receipt to reply; ≥ decode+inference)
//	28       4    box count N, uint32 (0 unless status is ok)
//	32       1    stream id length n (echo; 0 allowed only in error replies,
//	33       n    stream id             when the request could not be read)
//	33+n     1    worker id length m, 0..64
//	34+n     m    worker id, [A-Za-z0-9._-]
//	34+n+m   1    message length k, 0..200 (must be 0 when status is ok)
//	35+n+m   k    message, UTF-8 without control characters
//	35+n+m+k 22×N boxes, each: x1, y1, x2, y2 (float32, frame pixels),
//	              score (float32, 0..1), class (uint16)
//
// # Reply, version 2
//
// Version 1 with the worker's queue wait ([Reply.QueueUS]) inserted before the
// box count; everything after it moves 4 bytes on:
//
//	offset  size  field
//	 4       2    version, uint16 = 2
//	28       4    queue wait, uint32 µs, > 0 (receipt to the start of the model
//	              run, less the request's own decode; decode+inference+queue ≤ total)
//	32       4    box count N, uint32
//	36 ...        stream id, worker id, message and boxes as in version 1
//
// A reply with no queue wait is always version 1 (a version 2 reply with queue
// wait 0 is invalid), so every reply still has one encoding. Old edges reject
// version 2, so a worker sends it only to an edge whose request came with the
// NATS header [ReplyVersionHeader] saying it decodes version 2; an old worker
// ignores the header and answers version 1, which decodes with queue wait 0.
// Edges use the queue wait to back off a loaded worker before their requests
// time out (the round trip alone does not tell a busy worker from a far one).
//
// Boxes must be finite, ordered (x1 ≤ x2, y1 ≤ y2), inside the frame give or take
// [BoxSlack] pixel, with score in [0,1] and class ≤ Limits.MaxClass. The frame
// size is not in the reply: [DecodeReply] checks boxes against Limits.MaxWidth and
// MaxHeight, and the edge, which knows the frame it sent, then calls
// [Reply.Validate] with the real size.
//
// # Errors
//
// Every error from this package is an [*Error]. Its Code is the reply status a
// worker should answer with ([CodeOf] maps any error), it unwraps to a sentinel
// ([ErrBadMagic], [ErrBadVersion], [ErrTruncated], [ErrTrailingData], [ErrInvalid],
// [ErrTooLarge], [ErrBadJPEG]) for errors.Is, and its text says what was wrong,
// e.g. "wire: reply box 3 has score 1.7, want 0..1".
package wire
