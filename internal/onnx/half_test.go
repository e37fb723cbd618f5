package onnx

import (
	"math"
	"testing"
)

// Every float16 value survives float32 and back, and float32 values round to
// the nearest float16 (ties to even).
func TestHalfConversion(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := halfToFloat(h)
		if math.IsNaN(float64(f)) {
			if floatToHalf(f)&0x7c00 != 0x7c00 || floatToHalf(f)&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, floatToHalf(f))
			}
			continue
		}
		if back := floatToHalf(f); back != h {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, back)
		}
		if halfTable[h] != f && !math.IsNaN(float64(f)) {
			t.Fatalf("table[%#04x] = %v, want %v", h, halfTable[h], f)
		}
	}
	cases := []struct {
		f float32
		h uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {0.5, 0x3800}, {65504, 0x7bff}, {65520, 0x7c00}, {1e9, 0x7c00},
		{1 + 1.0/2048, 0x3c00},                 // tie: to even
		{1 + 3.0/2048, 0x3c02},                 // tie: to even (up)
		{5.960464477539063e-08, 0x0001},        // smallest subnormal
		{2.9802322387695312e-08, 0x0000},       // half of it: tie to even, zero
		{114.0 / 255, floatToHalf(0.44705883)}, // a typical input value
	}
	for _, c := range cases {
		if got := floatToHalf(c.f); got != c.h {
			t.Errorf("floatToHalf(%v) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	in := []float32{0.25, 1, 114.0 / 255}
	h := make([]uint16, 3)
	out := make([]float32, 3)
	floatsToHalves(h, in)
	halvesToFloats(out, h)
	for i := range in {
		if math.Abs(float64(out[i]-in[i])) > 1e-3 {
			t.Errorf("round trip %v -> %v", in[i], out[i])
		}
	}
	if a := testing.AllocsPerRun(10, func() { floatsToHalves(h, in); halvesToFloats(out, h) }); a != 0 {
		t.Errorf("conversion allocates %v", a)
	}
}
