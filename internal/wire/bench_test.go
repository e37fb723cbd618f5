package wire

import "testing"

// benchRequest is a 1920×1080 frame sent as a 480×270 JPEG of noise, ~100 KB.
func benchRequest(b *testing.B) Request {
	j := makeJPEG(b, 480, 270)
	return Request{StreamID: "cam-01", Frame: 1, PTS: 1, SentAt: 1, Width: 1920, Height: 1080, JPEGWidth: 480, JPEGHeight: 270, JPEG: j}
}

func BenchmarkEncodeRequest(b *testing.B) {
	r := benchRequest(b)
	buf := make([]byte, 0, r.EncodedLen())
	b.SetBytes(int64(r.EncodedLen()))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendRequest(buf[:0], &r, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	r := benchRequest(b)
	msg, err := AppendRequest(nil, &r, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest(msg, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeReply50(b *testing.B) {
	r := goodReply(50)
	buf := make([]byte, 0, r.EncodedLen())
	b.SetBytes(int64(r.EncodedLen()))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendReply(buf[:0], &r, Limits{}, 1920, 1080); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeReply50(b *testing.B) {
	r := goodReply(50)
	msg, err := AppendReply(nil, &r, Limits{}, 1920, 1080)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeReply(msg, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
