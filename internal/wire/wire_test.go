package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/gst-react/gst-react/internal/detection"
)

func TestRequestRoundTrip(t *testing.T) {
	cases := map[string]func(*Request){
		"typical":     func(*Request) {},
		"no pts":      func(r *Request) { r.PTS = NoPTS },
		"zero fields": func(r *Request) { r.Frame, r.PTS, r.SentAt, r.TimeoutMS = 0, 0, 0, 0 },
		"max fields": func(r *Request) {
			r.Frame, r.PTS, r.SentAt, r.TimeoutMS = math.MaxUint64, math.MaxInt64, math.MaxInt64, math.MaxUint32
		},
		"jpeg is frame": func(r *Request) { r.Width, r.Height = 64, 36 },
		"1-char id":     func(r *Request) { r.StreamID = "x" },
		"64-char id":    func(r *Request) { r.StreamID = strings.Repeat("a", 64) },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			r := goodRequest(t)
			mod(&r)
			prefix := []byte("keep")
			msg, err := AppendRequest(prefix, &r, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if string(msg[:4]) != "keep" || len(msg)-4 != r.EncodedLen() {
				t.Fatalf("AppendRequest wrote %d bytes after the prefix, EncodedLen says %d", len(msg)-4, r.EncodedLen())
			}
			got, err := DecodeRequest(msg[4:], Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
			}
		})
	}
}

func TestRequestJPEGAliasesMessage(t *testing.T) {
	r := goodRequest(t)
	msg, err := AppendRequest(nil, &r, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRequest(msg, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	tail := msg[len(msg)-len(r.JPEG):]
	if unsafe.SliceData(got.JPEG) != unsafe.SliceData(tail) {
		t.Fatal("decoded JPEG is a copy; want it to alias the message")
	}
	if cap(got.JPEG) != len(got.JPEG) {
		t.Fatalf("decoded JPEG has cap %d > len %d: an append could overwrite the caller's buffer", cap(got.JPEG), len(got.JPEG))
	}
	msg[len(msg)-1] ^= 0xFF
	if got.JPEG[len(got.JPEG)-1] != msg[len(msg)-1] {
		t.Fatal("a change to the message did not show in the decoded JPEG")
	}
}

func TestReplyRoundTrip(t *testing.T) {
	cases := map[string]Reply{
		"0 boxes":       goodReply(0),
		"1 box":         goodReply(1),
		"50 boxes":      goodReply(50),
		"max boxes":     goodReply(DefaultMaxBoxes),
		"no worker id":  func() Reply { r := goodReply(3); r.WorkerID = ""; return r }(),
		"error":         {StreamID: "s", Frame: 9, Status: CodeDecodeFailed, Message: "jpeg: invalid Huffman code — ünïcödé ok", TotalUS: 40, WorkerID: "w"},
		"error no echo": {Status: CodeBadVersion},
		"queue wait": func() Reply {
			r := goodReply(3)
			r.QueueUS = 1200
			r.TotalUS = r.DecodeUS + r.InferUS + r.QueueUS
			return r
		}(),
		"error queued": {StreamID: "s", Frame: 9, Status: CodeDeadlineExceeded, Message: "expired", QueueUS: 1, TotalUS: 1},
		"edge boxes": {StreamID: "s", Boxes: []Box{
			{Rect: detection.Rect{X1: -1, Y1: -1, X2: 1921, Y2: 1081}, Score: 1, Class: DefaultMaxClass},
			{Rect: detection.Rect{X1: float32(math.Copysign(0, -1)), X2: 0, Y1: 5, Y2: 5}, Score: 0}, // -0 and a zero-area box survive
		}},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			buf := make([]byte, 0, 16)
			msg, err := AppendReply(buf, &r, Limits{}, 1920, 1080)
			if err != nil {
				t.Fatal(err)
			}
			if len(msg) != r.EncodedLen() {
				t.Fatalf("encoded %d bytes, EncodedLen says %d", len(msg), r.EncodedLen())
			}
			got, err := DecodeReply(msg, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Boxes) == 0 {
				r.Boxes = nil // decode leaves no slice for no boxes
			}
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
			}
			// Bit-exact, -0 included: re-encoding gives the same bytes.
			again, err := AppendReply(nil, &got, Limits{}, 1920, 1080)
			if err != nil || !bytes.Equal(again, msg) {
				t.Fatalf("re-encode differs (err %v)", err)
			}
			if err := got.Validate(Limits{}, 1920, 1080); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// wantErr checks err is an *Error wrapping sentinel with the given code and a
// message containing each of words.
func wantErr(t *testing.T, err, sentinel error, code Code, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", sentinel)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not a *wire.Error", err, err)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %q does not wrap %q", err, sentinel)
	}
	if CodeOf(err) != code {
		t.Fatalf("error %q has code %v, want %v", err, CodeOf(err), code)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not mention %q", err, w)
		}
	}
}

func TestRequestValidation(t *testing.T) {
	bomb := append([]byte(nil), makeJPEG(t, 64, 36)...)
	setSOF(t, bomb, 60000, 60000)
	cases := []struct {
		name     string
		mod      func(*Request)
		sentinel error
		code     Code
		words    []string
	}{
		{"empty stream id", func(r *Request) { r.StreamID = "" }, ErrInvalid, CodeBadRequest, []string{"stream id is empty"}},
		{"long stream id", func(r *Request) { r.StreamID = strings.Repeat("a", 65) }, ErrInvalid, CodeBadRequest, []string{"65 bytes", "at most 64"}},
		{"space in stream id", func(r *Request) { r.StreamID = "cam 1" }, ErrInvalid, CodeBadRequest, []string{`"cam 1"`, "at 3"}},
		{"slash in stream id", func(r *Request) { r.StreamID = "a/b" }, ErrInvalid, CodeBadRequest, []string{"'/'"}},
		{"non-ascii stream id", func(r *Request) { r.StreamID = "kamera-ü" }, ErrInvalid, CodeBadRequest, []string{"at 7"}},
		{"pts -2", func(r *Request) { r.PTS = -2 }, ErrInvalid, CodeBadRequest, []string{"PTS is -2"}},
		{"negative sent-at", func(r *Request) { r.SentAt = -5 }, ErrInvalid, CodeBadRequest, []string{"sent-at"}},
		{"zero width", func(r *Request) { r.Width = 0 }, ErrInvalid, CodeBadRequest, []string{"frame size is 0x1080"}},
		{"zero height", func(r *Request) { r.Height = 0 }, ErrInvalid, CodeBadRequest, []string{"frame size is 1920x0"}},
		{"zero jpeg width", func(r *Request) { r.JPEGWidth = 0 }, ErrInvalid, CodeBadRequest, []string{"JPEG size is 0x36"}},
		{"wide frame", func(r *Request) { r.Width = 8193 }, ErrTooLarge, CodeTooLarge, []string{"8193x1080", "8192x8192 limit"}},
		{"tall frame", func(r *Request) { r.Height = 9000 }, ErrTooLarge, CodeTooLarge, []string{"1920x9000"}},
		{"too many pixels", func(r *Request) { r.Width, r.Height = 8000, 8000 }, ErrTooLarge, CodeTooLarge, []string{"64000000 pixels", "limit 40000000"}},
		{"upscaled jpeg", func(r *Request) { r.Width, r.Height = 32, 36 }, ErrInvalid, CodeBadRequest, []string{"larger than its 32x36 frame"}},
		{"no jpeg", func(r *Request) { r.JPEG = nil }, ErrInvalid, CodeBadRequest, []string{"no JPEG"}},
		{"jpeg dims mismatch", func(r *Request) { r.JPEGWidth = 63 }, ErrInvalid, CodeBadRequest, []string{"63x36", "header says 64x36"}},
		{"not a jpeg", func(r *Request) { r.JPEG = []byte("GIF89a...") }, ErrBadJPEG, CodeDecodeFailed, []string{"SOI"}},
		{"bomb", func(r *Request) { r.JPEG = bomb }, ErrInvalid, CodeBadRequest, []string{"header says 60000x60000"}},
		{"bomb declared", func(r *Request) {
			r.JPEG, r.JPEGWidth, r.JPEGHeight, r.Width, r.Height = bomb, 60000, 60000, 60000, 60000
		}, ErrTooLarge, CodeTooLarge, []string{"60000x60000"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := goodRequest(t)
			c.mod(&r)
			wantErr(t, r.Validate(Limits{}), c.sentinel, c.code, c.words...)
			out, err := AppendRequest([]byte("x"), &r, Limits{})
			wantErr(t, err, c.sentinel, c.code, c.words...)
			if string(out) != "x" {
				t.Fatalf("AppendRequest wrote %q on error", out)
			}
			// The worker side catches the same thing in a message built by a
			// broken or hostile edge.
			dec, err := DecodeRequest(appendRequest(nil, &r), Limits{})
			wantErr(t, err, c.sentinel, c.code, c.words...)
			if validStreamID(r.StreamID) && (dec.StreamID != r.StreamID || dec.Frame != r.Frame) {
				t.Fatalf("failed decode returned %q frame %d, want the echo %q %d", dec.StreamID, dec.Frame, r.StreamID, r.Frame)
			}
		})
	}
}

func TestRequestJPEGBytesLimit(t *testing.T) {
	r := goodRequest(t)
	lim := Limits{MaxJPEGBytes: len(r.JPEG) - 1}
	wantErr(t, r.Validate(lim), ErrTooLarge, CodeTooLarge, "limit")
	_, err := DecodeRequest(appendRequest(nil, &r), lim)
	wantErr(t, err, ErrTooLarge, CodeTooLarge, "limit")
	// Exactly at the limit is fine.
	lim.MaxJPEGBytes++
	if _, err := DecodeRequest(appendRequest(nil, &r), lim); err != nil {
		t.Fatal(err)
	}
}

func TestRequestFraming(t *testing.T) {
	r := goodRequest(t)
	msg := appendRequest(nil, &r)
	rep := goodReply(1)
	replyMsg := appendReply(nil, &rep)

	_, err := DecodeRequest([]byte(`{"stream":"cam"}`), Limits{})
	wantErr(t, err, ErrBadMagic, CodeBadRequest, "does not start with")
	_, err = DecodeRequest(replyMsg, Limits{})
	wantErr(t, err, ErrBadMagic, CodeBadRequest)
	_, err = DecodeRequest(nil, Limits{})
	wantErr(t, err, ErrTruncated, CodeBadRequest)

	v2 := append([]byte(nil), msg...)
	v2[4] = 2
	_, err = DecodeRequest(v2, Limits{})
	wantErr(t, err, ErrBadVersion, CodeBadVersion, "version 2")
	var e *Error
	if errors.As(err, &e); e.Version != 2 {
		t.Fatalf("version error carries %d, want 2", e.Version)
	}
	// Only magic and version needed to tell: the rest of a v2 message may differ.
	_, err = DecodeRequest(v2[:6], Limits{})
	wantErr(t, err, ErrBadVersion, CodeBadVersion)

	_, err = DecodeRequest(append(append([]byte(nil), msg...), 0), Limits{})
	wantErr(t, err, ErrTrailingData, CodeBadRequest, "1 bytes after")

	// Every strict prefix fails: bad magic cannot happen, so truncated.
	for n := range len(msg) {
		_, err := DecodeRequest(msg[:n], Limits{})
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix of %d/%d bytes: %v, want ErrTruncated", n, len(msg), err)
		}
	}
	// JPEG length field larger than what follows.
	off := requestFixedLen + len(r.StreamID)
	bad := append([]byte(nil), msg...)
	bad[off]++
	_, err = DecodeRequest(bad, Limits{})
	wantErr(t, err, ErrTruncated, CodeBadRequest, "only")
}

func TestReplyValidation(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	box := func(mod func(*Box)) func(*Reply) {
		return func(r *Reply) { mod(&r.Boxes[3]) }
	}
	cases := []struct {
		name     string
		mod      func(*Reply)
		sentinel error
		words    []string
	}{
		{"unknown status", func(r *Reply) { r.Status = 99; r.Boxes = nil }, ErrInvalid, []string{"status is 99"}},
		{"ok without stream id", func(r *Reply) { r.StreamID = "" }, ErrInvalid, []string{"stream id is empty"}},
		{"bad stream id", func(r *Reply) { r.StreamID = "a b" }, ErrInvalid, []string{"stream id"}},
		{"long worker id", func(r *Reply) { r.WorkerID = strings.Repeat("w", 65) }, ErrInvalid, []string{"worker id is 65 bytes"}},
		{"bad worker id", func(r *Reply) { r.WorkerID = "w\n" }, ErrInvalid, []string{"worker id", "at 1"}},
		{"message with ok", func(r *Reply) { r.Message = "fine" }, ErrInvalid, []string{"status ok and message"}},
		{"long message", func(r *Reply) { r.Status, r.Boxes, r.Message = CodeInternal, nil, strings.Repeat("m", 201) }, ErrInvalid, []string{"201 bytes"}},
		{"control in message", func(r *Reply) { r.Status, r.Boxes, r.Message = CodeInternal, nil, "a\x1b[31mred" }, ErrInvalid, []string{"control character U+001B"}},
		{"bad utf-8 in message", func(r *Reply) { r.Status, r.Boxes, r.Message = CodeInternal, nil, "a\xffb" }, ErrInvalid, []string{"invalid UTF-8 at byte 1"}},
		{"boxes with error", func(r *Reply) { r.Status = CodeInternal }, ErrInvalid, []string{"error replies have none"}},
		{"timing", func(r *Reply) { r.TotalUS = 100 }, ErrInvalid, []string{"exceed total 100"}},
		{"too many boxes", func(r *Reply) { *r = goodReply(DefaultMaxBoxes + 1) }, ErrTooLarge, []string{"1001 boxes, limit 1000"}},
		{"nan x1", box(func(b *Box) { b.Rect.X1 = nan }), ErrInvalid, []string{"box 3 has x1 NaN"}},
		{"inf y2", box(func(b *Box) { b.Rect.Y2 = inf }), ErrInvalid, []string{"box 3 has y2 +Inf"}},
		{"nan score", box(func(b *Box) { b.Score = nan }), ErrInvalid, []string{"box 3 has score NaN"}},
		{"score high", box(func(b *Box) { b.Score = 1.7 }), ErrInvalid, []string{"reply box 3 has score 1.7, want 0..1"}},
		{"score negative", box(func(b *Box) { b.Score = -0.1 }), ErrInvalid, []string{"score -0.1"}},
		{"class", box(func(b *Box) { b.Class = 10000 }), ErrInvalid, []string{"class 10000, want at most 9999"}},
		{"x2 < x1", box(func(b *Box) { b.Rect.X1, b.Rect.X2 = 50, 49 }), ErrInvalid, []string{"want x1 ≤ x2"}},
		{"y2 < y1", box(func(b *Box) { b.Rect.Y1, b.Rect.Y2 = 50, 49 }), ErrInvalid, []string{"y1 ≤ y2"}},
		{"left of frame", box(func(b *Box) { b.Rect.X1 = -1.5 }), ErrInvalid, []string{"outside the 1920x1080 frame"}},
		{"above frame", box(func(b *Box) { b.Rect.Y1 = -2 }), ErrInvalid, []string{"outside"}},
		{"right of frame", box(func(b *Box) { b.Rect.X2 = 1921.5 }), ErrInvalid, []string{"outside"}},
		{"below frame", box(func(b *Box) { b.Rect.Y2 = 1082 }), ErrInvalid, []string{"outside"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := goodReply(5)
			c.mod(&r)
			wantCode := CodeBadRequest
			if c.sentinel == ErrTooLarge {
				wantCode = CodeTooLarge
			}
			wantErr(t, r.Validate(Limits{}, 1920, 1080), c.sentinel, wantCode, c.words...)
			if _, err := AppendReply(nil, &r, Limits{}, 1920, 1080); err == nil {
				t.Fatal("AppendReply encoded an invalid reply")
			}
			// The edge catches it too, except frame bounds that need the real
			// frame size: DecodeReply only knows the limits.
			msg := appendReply(nil, &r)
			dec, err := DecodeReply(msg, Limits{})
			if strings.Contains(c.name, "frame") && !strings.Contains(c.name, "left") && !strings.Contains(c.name, "above") {
				if err != nil {
					t.Fatalf("DecodeReply without the frame size: %v", err)
				}
				err = dec.Validate(Limits{}, 1920, 1080)
			}
			wantErr(t, err, c.sentinel, wantCode)
		})
	}
}

func TestReplyFraming(t *testing.T) {
	r := goodReply(3)
	msg := appendReply(nil, &r)
	req := goodRequest(t)

	_, err := DecodeReply(appendRequest(nil, &req), Limits{})
	wantErr(t, err, ErrBadMagic, CodeBadRequest)
	v9 := append([]byte(nil), msg...)
	v9[4], v9[5] = 9, 1
	_, err = DecodeReply(v9, Limits{})
	wantErr(t, err, ErrBadVersion, CodeBadVersion, "version 265")

	_, err = DecodeReply(append(append([]byte(nil), msg...), 1, 2), Limits{})
	wantErr(t, err, ErrTrailingData, CodeBadRequest, "2 bytes after its 3 boxes")
	for n := range len(msg) {
		if _, err := DecodeReply(msg[:n], Limits{}); !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix of %d/%d bytes: %v, want ErrTruncated", n, len(msg), err)
		}
	}
	// A huge box count is refused before anything is allocated for it.
	huge := append([]byte(nil), msg...)
	huge[28], huge[29], huge[30], huge[31] = 0xFF, 0xFF, 0xFF, 0xFF
	allocs := testing.AllocsPerRun(10, func() { _, err = DecodeReply(huge, Limits{}) })
	wantErr(t, err, ErrTooLarge, CodeTooLarge, "4294967295 boxes")
	if allocs > 5 {
		t.Fatalf("refusing a huge box count took %v allocations", allocs)
	}
	// Custom limits apply.
	_, err = DecodeReply(msg, Limits{MaxBoxes: 2})
	wantErr(t, err, ErrTooLarge, CodeTooLarge, "3 boxes, limit 2")
	_, err = DecodeReply(msg, Limits{MaxWidth: 100, MaxHeight: 100})
	wantErr(t, err, ErrInvalid, CodeBadRequest, "outside the 100x100 frame")
}

func TestLimitsDefaults(t *testing.T) {
	want := Limits{MaxJPEGBytes: 4 << 20, MaxWidth: 8192, MaxHeight: 8192, MaxPixels: 40_000_000, MaxBoxes: 1000, MaxClass: 9999}
	if got := DefaultLimits(); got != want {
		t.Fatalf("DefaultLimits() = %+v, want %+v", got, want)
	}
	if got := (Limits{MaxBoxes: 7}).withDefaults(); got.MaxBoxes != 7 || got.MaxWidth != 8192 {
		t.Fatalf("partial limits: %+v", got)
	}
	if got := (Limits{MaxClass: 1 << 20}).withDefaults(); got.MaxClass != 65535 {
		t.Fatalf("MaxClass not capped to the wire type: %d", got.MaxClass)
	}
}

func TestErrorReply(t *testing.T) {
	r := goodRequest(t)
	msg := appendRequest(nil, &r)
	msg[len(msg)-len(r.JPEG)+2] = 0x00 // break the first JPEG marker
	req, err := DecodeRequest(msg, Limits{})
	wantErr(t, err, ErrBadJPEG, CodeDecodeFailed)
	rep := ErrorReply(&req, err)
	if rep.Status != CodeDecodeFailed || rep.StreamID != r.StreamID || rep.Frame != r.Frame || !strings.Contains(rep.Message, "JPEG") {
		t.Fatalf("ErrorReply = %+v", rep)
	}
	if _, err := AppendReply(nil, &rep, Limits{}, 0, 0); err != nil {
		t.Fatal(err)
	}

	// Unreadable request: no echo, still a valid reply.
	req, err = DecodeRequest([]byte("RCTQ\x07\x00"), Limits{})
	rep = ErrorReply(&req, err)
	if rep.Status != CodeBadVersion || rep.StreamID != "" {
		t.Fatalf("ErrorReply = %+v", rep)
	}
	if _, err := AppendReply(nil, &rep, Limits{}, 0, 0); err != nil {
		t.Fatal(err)
	}

	// Foreign errors become CodeInternal with a cleaned-up message.
	long := errors.New("cuda: \x00out of memory\n" + strings.Repeat("é", 300))
	rep = ErrorReply(nil, long)
	if rep.Status != CodeInternal || len(rep.Message) > MaxMessageLen || strings.ContainsAny(rep.Message, "\x00\n") {
		t.Fatalf("ErrorReply = %+v", rep)
	}
	if err := rep.Validate(Limits{}, 0, 0); err != nil {
		t.Fatal(err)
	}
	if rep = ErrorReply(nil, nil); rep.Status != CodeInternal {
		t.Fatalf("ErrorReply(nil, nil).Status = %v", rep.Status)
	}
}

func TestCodes(t *testing.T) {
	if CodeOf(nil) != CodeOK || CodeOf(errors.New("x")) != CodeInternal {
		t.Fatal("CodeOf")
	}
	wrapped := errors.Join(errors.New("ctx"), newErr(ErrTooLarge, "big"))
	if CodeOf(wrapped) != CodeTooLarge {
		t.Fatal("CodeOf does not see a wrapped *Error")
	}
	if CodeBadVersion.String() != "bad version" || Code(42).String() != "code(42)" || Code(42).Valid() {
		t.Fatal("Code.String")
	}
}

func TestDetectionConversion(t *testing.T) {
	d := detection.Detection{Box: detection.Rect{X1: 1, Y1: 2, X2: 3, Y2: 4}, Class: 17, Score: 0.5, Source: detection.SourceEdge, TrackID: 9, Age: 3}
	b, err := BoxFromDetection(d)
	if err != nil {
		t.Fatal(err)
	}
	back := b.Detection()
	want := detection.Detection{Box: d.Box, Class: 17, Score: 0.5, Source: detection.SourceCloud}
	if back != want {
		t.Fatalf("got %+v, want %+v", back, want)
	}
	for _, c := range []int{-1, 65536} {
		if _, err := BoxFromDetection(detection.Detection{Class: c}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("class %d: %v", c, err)
		}
	}
	boxes, err := AppendBoxes(nil, []detection.Detection{d, d})
	if err != nil || len(boxes) != 2 {
		t.Fatal(boxes, err)
	}
	if ds := AppendDetections(nil, boxes); len(ds) != 2 || ds[1] != want {
		t.Fatal(ds)
	}
}

func TestSubjects(t *testing.T) {
	if s, err := TenantSubject("acme_1"); err != nil || s != "react.detect.acme_1" {
		t.Fatal(s, err)
	}
	for _, bad := range []string{"", "a.b", "a b", "*", ">", strings.Repeat("t", 65)} {
		if _, err := TenantSubject(bad); err == nil {
			t.Fatalf("TenantSubject(%q) accepted", bad)
		}
	}
	if AllTenantsSubject != "react.detect.>" {
		t.Fatal(AllTenantsSubject)
	}
}

func TestRequestDeadline(t *testing.T) {
	r := Request{SentAt: time.Unix(100, 0).UnixNano(), TimeoutMS: 250}
	if d, ok := r.Deadline(); !ok || !d.Equal(time.Unix(100, 250e6)) {
		t.Fatal(d, ok)
	}
	r.TimeoutMS = 0
	if _, ok := r.Deadline(); ok {
		t.Fatal("deadline without a timeout")
	}
}

func TestAllocs(t *testing.T) {
	req := goodRequest(t)
	msg, err := AppendRequest(nil, &req, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := DecodeRequest(msg, Limits{}); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("DecodeRequest: %v allocs, want 0", n)
	}
	buf := make([]byte, 0, req.EncodedLen())
	if n := testing.AllocsPerRun(100, func() {
		if _, err := AppendRequest(buf[:0], &req, Limits{}); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendRequest: %v allocs, want 0", n)
	}
	rep := goodReply(50)
	rbuf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := AppendReply(rbuf[:0], &rep, Limits{}, 1920, 1080); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendReply: %v allocs, want 0", n)
	}
}

// TestGoldenLayout pins the byte layout documented in the package comment: a
// change here is a protocol change and needs a new Version.
func TestGoldenLayout(t *testing.T) {
	// A JPEG header only (SOI, 1-component SOF0 3×2, SOS): enough for JPEGDims.
	tinyJPEG := []byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x02, 0x00, 0x03, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xDA, 0x00, 0x02}
	req := Request{StreamID: "cam", Frame: 0x0102030405060708, PTS: -1, SentAt: 0x1122334455667788, TimeoutMS: 500,
		Width: 6, Height: 4, JPEGWidth: 3, JPEGHeight: 2, JPEG: tinyJPEG}
	got, err := AppendRequest(nil, &req, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := "52435451" + "0100" + // magic "RCTQ", version 1
		"0807060504030201" + // frame
		"ffffffffffffffff" + // PTS -1
		"8877665544332211" + // sent at
		"f4010000" + // timeout 500 ms
		"06000000" + "04000000" + "03000000" + "02000000" + // frame 6×4, JPEG 3×2
		"03" + "63616d" + // stream id "cam"
		"13000000" + // JPEG length 19
		"ffd8ffc0000b0800020003010111" + "00ffda0002"
	if h := hex.EncodeToString(got); h != want {
		t.Errorf("request bytes\n got %s\nwant %s", h, want)
	}

	rep := Reply{StreamID: "cam", Frame: 7, DecodeUS: 1, InferUS: 2, TotalUS: 4, WorkerID: "w1",
		Boxes: []Box{{Rect: detection.Rect{X1: 1, Y1: 2, X2: 3, Y2: 4}, Score: 0.5, Class: 258}}}
	got, err = AppendReply(nil, &rep, Limits{}, 6, 4)
	if err != nil {
		t.Fatal(err)
	}
	want = "52435452" + "0100" + // magic "RCTR", version 1
		"0700000000000000" + // frame
		"0000" + // status ok
		"01000000" + "02000000" + "04000000" + // decode, inference, total µs
		"01000000" + // 1 box
		"03" + "63616d" + // stream id
		"02" + "7731" + // worker id
		"00" + // no message
		"0000803f" + "00000040" + "00004040" + "00008040" + "0000003f" + "0201" // 1,2,3,4, 0.5, class 258
	if h := hex.EncodeToString(got); h != want {
		t.Errorf("reply bytes\n got %s\nwant %s", h, want)
	}

	rep.QueueUS, rep.TotalUS = 3, 6
	got, err = AppendReply(nil, &rep, Limits{}, 6, 4)
	if err != nil {
		t.Fatal(err)
	}
	want = "52435452" + "0200" + // magic "RCTR", version 2
		"0700000000000000" + "0000" +
		"01000000" + "02000000" + "06000000" + // decode, inference, total µs
		"03000000" + // queue wait µs
		"01000000" + "03" + "63616d" + "02" + "7731" + "00" +
		"0000803f" + "00000040" + "00004040" + "00008040" + "0000003f" + "0201"
	if h := hex.EncodeToString(got); h != want {
		t.Errorf("reply version 2 bytes\n got %s\nwant %s", h, want)
	}
}

// TestConcurrentDecode runs decoders in parallel over colliding stream ids, as a
// worker's goroutines do, to exercise the shared intern table (run with -race).
func TestConcurrentDecode(t *testing.T) {
	base := goodRequest(t)
	var msgs [][]byte
	for i := range 600 { // more ids than intern slots: collisions and evictions
		r := base
		r.StreamID, r.Frame = "cam-"+strconv.Itoa(i), uint64(i)
		msgs = append(msgs, appendRequest(nil, &r))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range 3000 {
				i := (k*7 + g) % len(msgs)
				r, err := DecodeRequest(msgs[i], Limits{})
				if err != nil || r.StreamID != "cam-"+strconv.Itoa(i) || r.Frame != uint64(i) {
					t.Errorf("decode %d: %q %d %v", i, r.StreamID, r.Frame, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// The id rules every setting is checked with (reactcloud, reactpublish,
// gstreact run, the worker) are the ones the codec enforces.
func TestValidIDs(t *testing.T) {
	long := strings.Repeat("a", MaxStreamIDLen)
	for _, c := range []struct {
		id     string
		stream bool
	}{
		{"cam0", true}, {"door.north_2-b", true}, {long, true},
		{"", false}, {long + "a", false}, {"cam 0", false}, {"cam/0", false}, {"cam*", false}, {"kamera-ü", false},
	} {
		if got := ValidStreamID(c.id); got != c.stream {
			t.Errorf("ValidStreamID(%q) = %v", c.id, got)
		}
		if got := ValidWorkerID(c.id); got != c.stream { // same rule, same 64-byte limit
			t.Errorf("ValidWorkerID(%q) = %v", c.id, got)
		}
		if err := checkStreamID("request", c.id, false); (err == nil) != c.stream {
			t.Errorf("the codec's check of stream id %q: %v", c.id, err)
		}
	}
}

// decodeReplyV1 is DecodeReply as edges before reply version 2 have it: it
// must still read every reply a worker sends them.
func decodeReplyV1(msg []byte) (Reply, error) {
	if len(msg) >= 6 && binary.LittleEndian.Uint16(msg[4:]) != 1 {
		return Reply{}, newErr(ErrBadVersion, "version %d", binary.LittleEndian.Uint16(msg[4:]))
	}
	return DecodeReply(msg, Limits{})
}

// Reply versions: a queue wait makes a version 2 reply that new edges read;
// without one the reply is byte for byte version 1, which old edges read and
// new edges decode as queue wait 0.
func TestReplyVersions(t *testing.T) {
	old := goodReply(2)
	v1, err := AppendReply(nil, &old, Limits{}, 1920, 1080)
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint16(v1[4:]); v != 1 {
		t.Fatalf("a reply without queue wait is version %d, want 1", v)
	}
	if got, err := decodeReplyV1(v1); err != nil || got.QueueUS != 0 {
		t.Fatalf("an old edge reads a reply without queue wait: %+v %v", got, err)
	}
	if got, err := DecodeReply(v1, Limits{}); err != nil || got.QueueUS != 0 || !reflect.DeepEqual(got, old) {
		t.Fatalf("version 1 decodes with queue wait 0: %+v %v", got, err)
	}

	queued := goodReply(2)
	queued.QueueUS, queued.TotalUS = 40_000, queued.DecodeUS+queued.InferUS+40_000
	v2, err := AppendReply(nil, &queued, Limits{}, 1920, 1080)
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint16(v2[4:]); v != ReplyVersion || len(v2) != len(v1)+4 {
		t.Fatalf("reply with queue wait: version %d, %d bytes (version 1: %d), want version %d and 4 bytes more", v, len(v2), len(v1), ReplyVersion)
	}
	got, err := DecodeReply(v2, Limits{})
	if err != nil || got.QueueUS != 40_000 || !reflect.DeepEqual(got, queued) {
		t.Fatalf("version 2 round trip: %+v %v", got, err)
	}
	// Old edges refuse version 2 (which is why workers send it only to
	// edges that ask for it, see ReplyVersionHeader).
	if _, err := decodeReplyV1(v2); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("old decoder on version 2: %v", err)
	}

	// Version 2 with queue wait 0 is not canonical; version 3 is unknown;
	// the queue wait counts in the total.
	zero := append([]byte(nil), v2...)
	copy(zero[28:32], []byte{0, 0, 0, 0})
	_, err = DecodeReply(zero, Limits{})
	wantErr(t, err, ErrInvalid, CodeBadRequest, "queue wait 0")
	v3 := append([]byte(nil), v2...)
	v3[4] = 3
	_, err = DecodeReply(v3, Limits{})
	wantErr(t, err, ErrBadVersion, CodeBadVersion, "version 3", "1..2")
	over := queued
	over.TotalUS--
	_, err = AppendReply(nil, &over, Limits{}, 1920, 1080)
	wantErr(t, err, ErrInvalid, CodeBadRequest, "queue 40000 µs exceed total")
	for n := range len(v2) {
		if _, err := DecodeReply(v2[:n], Limits{}); !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix of %d/%d bytes: %v, want ErrTruncated", n, len(v2), err)
		}
	}
	// Requests stay version 1.
	req := goodRequest(t)
	msg := appendRequest(nil, &req)
	msg[4] = 2
	_, err = DecodeRequest(msg, Limits{})
	wantErr(t, err, ErrBadVersion, CodeBadVersion, "version 2, this side speaks 1")
}
