package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image/jpeg"
	"os"
	"testing"
)

// sofOffset returns the offset of the first SOF marker (its 0xFF byte).
func sofOffset(t testing.TB, b []byte) int {
	t.Helper()
	for _, m := range []byte{0xC0, 0xC1, 0xC2} {
		if i := bytes.Index(b, []byte{0xFF, m, 0x00, 0x11}); i >= 0 { // 3-component SOF is 17 bytes
			return i
		}
	}
	t.Fatal("no SOF in test JPEG")
	return 0
}

// setSOF rewrites the dimensions in b's SOF, as a decompression bomb would.
func setSOF(t testing.TB, b []byte, w, h int) {
	i := sofOffset(t, b)
	binary.BigEndian.PutUint16(b[i+5:], uint16(h))
	binary.BigEndian.PutUint16(b[i+7:], uint16(w))
}

func TestJPEGDims(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {17, 9}, {64, 36}, {640, 480}, {1023, 767}} {
		b := makeJPEG(t, sz[0], sz[1])
		w, h, err := JPEGDims(b)
		if err != nil || w != sz[0] || h != sz[1] {
			t.Errorf("JPEGDims(%dx%d JPEG) = %d, %d, %v", sz[0], sz[1], w, h, err)
		}
		// The decoder agrees.
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != w || cfg.Height != h {
			t.Errorf("image/jpeg says %dx%d (%v)", cfg.Width, cfg.Height, err)
		}
	}
}

func TestJPEGDimsRealFrame(t *testing.T) {
	// From the package directory, the repo root is ../..; shared/ sits beside it.
	b, err := os.ReadFile("../../../shared/assets/video/MOT17-04-FRCNN-mini/img1/000001.jpg")
	if err != nil {
		t.Skip("MOT17 sample frame not available:", err)
	}
	w, h, err := JPEGDims(b)
	if err != nil || w != 1920 || h != 1080 {
		t.Fatalf("JPEGDims(MOT17-04 000001.jpg) = %d, %d, %v; want 1920, 1080", w, h, err)
	}
	r := Request{StreamID: "mot17-04", Width: 1920, Height: 1080, JPEGWidth: 1920, JPEGHeight: 1080, JPEG: b}
	msg, err := AppendRequest(nil, &r, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeRequest(msg, Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestJPEGDimsOtherSOF(t *testing.T) {
	// Progressive (SOF2) and extended (SOF1) JPEGs carry dimensions the same way.
	for _, m := range []byte{0xC1, 0xC2} {
		b := append([]byte(nil), makeJPEG(t, 17, 9)...)
		b[sofOffset(t, b)+1] = m
		if w, h, err := JPEGDims(b); err != nil || w != 17 || h != 9 {
			t.Errorf("SOF %02X: %d, %d, %v", m, w, h, err)
		}
	}
}

func TestJPEGDimsCorrupt(t *testing.T) {
	good := makeJPEG(t, 64, 36)
	sof := sofOffset(t, good)
	sos := bytes.Index(good, []byte{0xFF, 0xDA})
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := map[string][]byte{
		"empty":       nil,
		"one byte":    {0xFF},
		"no SOI":      []byte("\x89PNG\r\n\x1a\n"),
		"only SOI":    {0xFF, 0xD8},
		"EOI":         {0xFF, 0xD8, 0xFF, 0xD9},
		"junk":        {0xFF, 0xD8, 0x12, 0x34},
		"double SOI":  {0xFF, 0xD8, 0xFF, 0xD8},
		"stuffed":     {0xFF, 0xD8, 0xFF, 0x00},
		"fill at end": {0xFF, 0xD8, 0xFF, 0xFF},
		"length 1":    {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01},
		"length long": {0xFF, 0xD8, 0xFF, 0xE0, 0x01, 0x00, 0x00},
		"zero width":  mod(func(b []byte) []byte { b[sof+7], b[sof+8] = 0, 0; return b }),
		"zero height": mod(func(b []byte) []byte { b[sof+5], b[sof+6] = 0, 0; return b }),
		"short SOF":   {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x05, 8, 0, 1, 0xFF, 0xDA, 0x00, 0x02},
		"no SOF":      mod(func(b []byte) []byte { b[sof+1] = 0xE5; return b }), // SOF turned into an APP segment
		"two SOFs":    mod(func(b []byte) []byte { return append(b[:sos:sos], good[sof:]...) }),
	}
	for name, b := range cases {
		if w, h, err := JPEGDims(b); !errors.Is(err, ErrBadJPEG) || CodeOf(err) != CodeDecodeFailed {
			t.Errorf("%s: JPEGDims = %d, %d, %v; want ErrBadJPEG", name, w, h, err)
		}
	}
	// Every prefix that ends before the first scan fails cleanly.
	for n := range sos + 4 {
		if _, _, err := JPEGDims(good[:n]); err == nil {
			t.Fatalf("JPEGDims accepted a %d-byte prefix", n)
		}
	}
	// After the scan header, the image data is not read: a truncated body is the
	// decoder's problem, not a dimension problem.
	if _, _, err := JPEGDims(good[:sos+len(good)/2-sos/2]); err != nil {
		t.Fatal(err)
	}
	// Fill bytes before a marker are allowed.
	filled := append([]byte{0xFF, 0xD8, 0xFF, 0xFF, 0xFF}, good[3:]...)
	if w, h, err := JPEGDims(filled); err != nil || w != 64 || h != 36 {
		t.Fatal(w, h, err)
	}
}
