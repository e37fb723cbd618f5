package wire

import (
	"bytes"
	"errors"
	"testing"
)

// checkDecodeErr: every decode failure is a *Error with a code a worker can
// reply with, and ErrorReply turns it into a reply that encodes.
func checkDecodeErr(t *testing.T, err error) {
	var e *Error
	if !errors.As(err, &e) || !e.Code.Valid() || e.Code == CodeOK || e.Code == CodeInternal || e.Err == nil {
		t.Fatalf("decode error %T %v is not a proper *wire.Error", err, err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	r := goodRequest(f)
	f.Add(appendRequest(nil, &r))
	r.StreamID, r.PTS, r.TimeoutMS = "x", NoPTS, 0
	r.JPEG, r.JPEGWidth, r.JPEGHeight = makeJPEG(f, 1, 1), 1, 1
	f.Add(appendRequest(nil, &r))
	f.Add([]byte("RCTQ\x02\x00"))
	f.Add([]byte("RCTR\x01\x00"))
	f.Add([]byte("RCTR\x02\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		req, err := DecodeRequest(msg, Limits{})
		if err != nil {
			checkDecodeErr(t, err)
			rep := ErrorReply(&req, err)
			if _, err := AppendReply(nil, &rep, Limits{}, 0, 0); err != nil {
				t.Fatalf("ErrorReply for %v does not encode: %v", err, err)
			}
			return
		}
		again, err := AppendRequest(nil, &req, Limits{})
		if err != nil {
			t.Fatalf("decoded request does not re-encode: %v", err)
		}
		if !bytes.Equal(again, msg) {
			t.Fatalf("re-encoding differs:\n in % X\nout % X", msg, again)
		}
	})
}

func FuzzDecodeReply(f *testing.F) {
	for _, n := range []int{0, 1, 4} {
		r := goodReply(n)
		f.Add(appendReply(nil, &r))
	}
	e := Reply{Status: CodeDecodeFailed, Message: "jpeg: bad Huffman code", TotalUS: 9}
	f.Add(appendReply(nil, &e))
	// Version 2: a queue wait, on an answer and on an expired request.
	q := goodReply(2)
	q.QueueUS, q.TotalUS = 7000, q.TotalUS+7000
	f.Add(appendReply(nil, &q))
	e = Reply{StreamID: "s", Frame: 3, Status: CodeDeadlineExceeded, Message: "expired", QueueUS: 900, TotalUS: 950}
	f.Add(appendReply(nil, &e))
	f.Add([]byte("RCTR\x01\x00"))
	f.Add([]byte("RCTR\x02\x00"))
	f.Add([]byte("RCTR\x03\x00"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		rep, err := DecodeReply(msg, Limits{})
		if err != nil {
			checkDecodeErr(t, err)
			return
		}
		again, err := AppendReply(nil, &rep, Limits{}, 0, 0)
		if err != nil {
			t.Fatalf("decoded reply does not re-encode: %v", err)
		}
		if !bytes.Equal(again, msg) {
			t.Fatalf("re-encoding differs:\n in % X\nout % X", msg, again)
		}
		_ = AppendDetections(nil, rep.Boxes)
	})
}

func FuzzJPEGDims(f *testing.F) {
	f.Add(makeJPEG(f, 17, 9))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x08, 8, 0, 1, 0, 1, 1, 0xFF, 0xDA, 0x00, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, h, err := JPEGDims(b)
		if err == nil && (w <= 0 || h <= 0 || w > 65535 || h > 65535) {
			t.Fatalf("JPEGDims = %d, %d with no error", w, h)
		}
		if err != nil && !errors.Is(err, ErrBadJPEG) {
			t.Fatalf("JPEGDims error %v is not ErrBadJPEG", err)
		}
	})
}
