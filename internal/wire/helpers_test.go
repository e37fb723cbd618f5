package wire

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
)

// makeJPEG encodes a w×h image of noise (noise so the size is realistic, not a
// few hundred bytes of flat colour). Results are cached: encoding is slow.
func makeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	key := [2]int{w, h}
	jpegCacheMu.Lock()
	defer jpegCacheMu.Unlock()
	if b, ok := jpegCache[key]; ok {
		return b
	}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for i := range img.Y {
		img.Y[i] = uint8(r.IntN(256))
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(r.IntN(256)), uint8(r.IntN(256))
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	jpegCache[key] = buf.Bytes()
	return buf.Bytes()
}

var (
	jpegCacheMu sync.Mutex
	jpegCache   = map[[2]int][]byte{}
)

// goodRequest is a valid request: a 1920×1080 frame sent as a 64×36 JPEG.
func goodRequest(t testing.TB) Request {
	return Request{
		StreamID: "cam-01.lobby_A", Frame: 12345, PTS: 411_666_666, SentAt: 1_700_000_000_123_456_789,
		TimeoutMS: 500, Width: 1920, Height: 1080, JPEGWidth: 64, JPEGHeight: 36, JPEG: makeJPEG(t, 64, 36),
	}
}

func goodReply(n int) Reply {
	r := Reply{StreamID: "cam-01.lobby_A", Frame: 12345, DecodeUS: 1500, InferUS: 21000, TotalUS: 23000, WorkerID: "gpu-node-3.w7"}
	for i := range n {
		f := float32(i % 900)
		r.Boxes = append(r.Boxes, Box{Rect: detection.Rect{X1: f, Y1: f / 2, X2: f + 100.5, Y2: f/2 + 200.25}, Score: float32(i%100) / 99, Class: uint16(i % 80)})
	}
	return r
}
