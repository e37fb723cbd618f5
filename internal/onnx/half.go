package onnx

import (
	"math"
	"unsafe"
)

// halfTable maps every float16 bit pattern to its float32 value: a lookup is
// cheaper than decoding sign, exponent and mantissa for the millions of
// values a YOLOv5 output holds.
var halfTable = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = halfToFloat(uint16(i))
	}
	return &t
}()

// halfToFloat decodes an IEEE 754 binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | man<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: man * 2^-24.
	f := float32(man) * (1.0 / (1 << 24))
	if sign != 0 {
		return -f
	}
	return f
}

// floatToHalf rounds f to the nearest binary16 value (ties to even),
// saturating to infinity and flushing what is below the subnormals to zero.
func floatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf, NaN (kept quiet)
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp > 142: // >= 65536 after rounding range: overflow
		return sign | 0x7c00
	case exp < 102: // below half the smallest subnormal
		return sign
	case exp < 113: // subnormal
		man |= 0x800000
		shift := uint32(126 - exp)
		h := man >> shift
		rem := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp-112)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, up to infinity: still correct
	}
	return sign | uint16(h)
}

func floatsToHalves(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = floatToHalf(v)
	}
}

func halvesToFloats(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	t := halfTable
	for i, h := range src {
		dst[i] = t[h]
	}
}

// halfBytes views float16 memory as the bytes a CustomDataTensor takes.
func halfBytes(h []uint16) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(h))), 2*len(h))
}
