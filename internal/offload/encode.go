package offload

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"sync/atomic"

	"github.com/gst-react/gst-react/internal/frame"
)

// job is one frame on its way to the cloud. The streaming thread fills the
// header and buf (a tight copy of the frame's planes: the mapped frame is only
// valid during Process) and hands it to the sender, which returns it to the
// pool once the request is published. buf grows to the frame size once and is
// reused afterwards.
type job struct {
	frameNum, seq, gen uint64
	pts                int64
	format             frame.Format
	w, h               int
	buf                []byte
	msg                []byte // the encoded request, reused
	// queued is when the frame was handed to the sender (UnixNano; 0
	// while the job is free), for the adaptive policy's stall signal.
	queued atomic.Int64
}

// grow returns b with length n, reallocating only when capacity is short.
func grow[T any](b []T, n int) []T {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]T, n)
}

// copyFrame copies f (already validated) into j.buf without its row padding:
// packed formats as w*bpp-byte rows; I420 as Y, U, V planes; NV12 as Y and UV.
// This is the only per-offload work on the streaming thread: a memcpy of
// about 3 MB for 1080p I420.
func (j *job) copyFrame(f *frame.Frame) {
	j.format, j.w, j.h = f.Format, f.Width, f.Height
	w, h := f.Width, f.Height
	cw, ch := (w+1)/2, (h+1)/2
	switch {
	case f.Format.Packed():
		rb := w * f.Format.PixelStride()
		j.buf = grow(j.buf, rb*h)
		copyPlane(j.buf, rb, f.Data[f.Offset[0]:], f.Stride[0], rb, h)
	case f.Format == frame.I420:
		j.buf = grow(j.buf, w*h+2*cw*ch)
		copyPlane(j.buf, w, f.Data[f.Offset[0]:], f.Stride[0], w, h)
		copyPlane(j.buf[w*h:], cw, f.Data[f.Offset[1]:], f.Stride[1], cw, ch)
		copyPlane(j.buf[w*h+cw*ch:], cw, f.Data[f.Offset[2]:], f.Stride[2], cw, ch)
	case f.Format == frame.NV12:
		j.buf = grow(j.buf, w*h+2*cw*ch)
		copyPlane(j.buf, w, f.Data[f.Offset[0]:], f.Stride[0], w, h)
		copyPlane(j.buf[w*h:], 2*cw, f.Data[f.Offset[1]:], f.Stride[1], 2*cw, ch)
	}
}

func copyPlane(dst []byte, dstStride int, src []byte, srcStride, rowBytes, rows int) {
	if dstStride == srcStride {
		n := srcStride*(rows-1) + rowBytes
		copy(dst[:n], src[:n])
		return
	}
	for y := 0; y < rows; y++ {
		copy(dst[y*dstStride:y*dstStride+rowBytes], src[y*srcStride:y*srcStride+rowBytes])
	}
}

// encoder turns jobs into JPEGs. One exists per Engine, used only by the
// sender goroutine, so its scratch buffers are shared by all jobs.
type encoder struct {
	quality   int
	maxWidth  int
	fullRange bool

	planes []byte // full-size YCbCr when the job's buffer cannot be used as is
	small  []byte // downscaled YCbCr
	tmp    []uint32
	axY    [2]axis // x, y for luma
	axC    [2]axis // x, y for chroma
	out    bytes.Buffer
}

// encode converts j to a 4:2:0 image.YCbCr (aliasing j.buf for I420),
// downscales it to at most maxWidth columns and JPEG-encodes it. The result
// aliases e.out and is valid until the next call. It may modify j.buf.
func (e *encoder) encode(j *job) (data []byte, jw, jh int, err error) {
	img := e.toYCbCr(j)
	if e.maxWidth > 0 && j.w > e.maxWidth {
		dw := e.maxWidth
		dh := max(1, int(math.Round(float64(j.h)*float64(dw)/float64(j.w))))
		img = e.downscale(img, dw, dh)
	}
	e.out.Reset()
	if err := jpeg.Encode(&e.out, img, &jpeg.Options{Quality: e.quality}); err != nil {
		return nil, 0, 0, fmt.Errorf("JPEG encoding of a %dx%d frame failed: %w", j.w, j.h, err)
	}
	b := img.Bounds()
	return e.out.Bytes(), b.Dx(), b.Dy(), nil
}

func ycbcr420(buf []byte, w, h int) *image.YCbCr {
	cw, ch := (w+1)/2, (h+1)/2
	return &image.YCbCr{
		Y: buf[:w*h], Cb: buf[w*h : w*h+cw*ch], Cr: buf[w*h+cw*ch : w*h+2*cw*ch],
		YStride: w, CStride: cw, SubsampleRatio: image.YCbCrSubsampleRatio420,
		Rect: image.Rect(0, 0, w, h),
	}
}

// Limited ("video", 16..235 / 16..240) to full (JFIF) range.
var lumaLUT, chromaLUT [256]uint8

func init() {
	for v := range 256 {
		lumaLUT[v] = clamp8(math.Round(float64(v-16) * 255 / 219))
		chromaLUT[v] = clamp8(math.Round(128 + float64(v-128)*255/224))
	}
}

func clamp8(v float64) uint8 { return uint8(min(max(v, 0), 255)) }

func applyLUT(p []byte, lut *[256]uint8) {
	for i, v := range p {
		p[i] = lut[v]
	}
}

// toYCbCr views or converts j as JPEG's full-range 4:2:0 YCbCr. I420 needs no
// copy; NV12 chroma is de-interleaved; packed RGB is converted (BT.601, as JFIF).
func (e *encoder) toYCbCr(j *job) *image.YCbCr {
	w, h := j.w, j.h
	cw, ch := (w+1)/2, (h+1)/2
	switch {
	case j.format == frame.I420:
		img := ycbcr420(j.buf, w, h)
		if !e.fullRange {
			applyLUT(j.buf[:w*h], &lumaLUT)
			applyLUT(j.buf[w*h:w*h+2*cw*ch], &chromaLUT)
		}
		return img
	case j.format == frame.NV12:
		e.planes = grow(e.planes, w*h+2*cw*ch)
		img := ycbcr420(e.planes, w, h)
		copy(img.Y, j.buf[:w*h])
		uv := j.buf[w*h : w*h+2*cw*ch]
		for i := range img.Cb {
			img.Cb[i], img.Cr[i] = uv[2*i], uv[2*i+1]
		}
		if !e.fullRange {
			applyLUT(img.Y, &lumaLUT)
			applyLUT(e.planes[w*h:], &chromaLUT)
		}
		return img
	default:
		e.planes = grow(e.planes, w*h+2*cw*ch)
		img := ycbcr420(e.planes, w, h)
		packedToYCbCr(img, j.buf, j.format)
		return img
	}
}

// packedToYCbCr converts tightly packed RGB-family pixels with the JFIF
// (full-range BT.601) matrix, as image/color does; chroma is the mean of each
// 2x2 block.
func packedToYCbCr(img *image.YCbCr, src []byte, f frame.Format) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	ps := f.PixelStride()
	ro, gO, bo := f.RGBOffsets()
	cw, ch := (w+1)/2, (h+1)/2
	for cy := 0; cy < ch; cy++ {
		for cx := 0; cx < cw; cx++ {
			var sr, sg, sb, n int32
			for y := 2 * cy; y < min(2*cy+2, h); y++ {
				for x := 2 * cx; x < min(2*cx+2, w); x++ {
					p := src[(y*w+x)*ps : (y*w+x)*ps+ps]
					r, g, b := int32(p[ro]), int32(p[gO]), int32(p[bo])
					img.Y[y*w+x] = uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 16)
					sr, sg, sb, n = sr+r, sg+g, sb+b, n+1
				}
			}
			img.Cb[cy*cw+cx] = chroma(-11056*sr-21712*sg+32768*sb, n)
			img.Cr[cy*cw+cx] = chroma(32768*sr-27440*sg-5328*sb, n)
		}
	}
}

// chroma is 128 + v/(n·65536), rounded and clamped.
func chroma(v, n int32) uint8 {
	d := n << 16
	if v >= 0 {
		v = (v + d/2) / d
	} else {
		v = -((-v + d/2) / d)
	}
	return uint8(min(max(128+v, 0), 255))
}

// downscale resamples img to dw x dh (area average) into e.small.
func (e *encoder) downscale(img *image.YCbCr, dw, dh int) *image.YCbCr {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	cw, ch := (w+1)/2, (h+1)/2
	dcw, dch := (dw+1)/2, (dh+1)/2
	e.small = grow(e.small, dw*dh+2*dcw*dch)
	out := ycbcr420(e.small, dw, dh)
	e.axY[0].setup(w, dw)
	e.axY[1].setup(h, dh)
	e.axC[0].setup(cw, dcw)
	e.axC[1].setup(ch, dch)
	e.tmp = resamplePlane(out.Y, img.Y, img.YStride, &e.axY[0], &e.axY[1], e.tmp)
	e.tmp = resamplePlane(out.Cb, img.Cb, img.CStride, &e.axC[0], &e.axC[1], e.tmp)
	e.tmp = resamplePlane(out.Cr, img.Cr, img.CStride, &e.axC[0], &e.axC[1], e.tmp)
	return out
}

// axis holds the area-average weights of a 1-D downscale from src to dst
// samples: output i covers source [i·s, (i+1)·s), s = src/dst, and each source
// sample weighs its overlap. Weights are 12-bit fixed point summing to 4096.
type axis struct {
	src, dst int
	first    []int32  // first source sample of each output
	count    []int32  // source samples of each output
	off      []int32  // offset of each output's weights in w
	w        []uint16 // weights
}

const weightBits = 12

func (a *axis) setup(src, dst int) {
	if a.src == src && a.dst == dst {
		return
	}
	a.src, a.dst = src, dst
	a.first, a.count, a.off = grow(a.first, dst), grow(a.count, dst), grow(a.off, dst)
	a.w = a.w[:0]
	s := float64(src) / float64(dst)
	for i := range dst {
		lo, hi := float64(i)*s, float64(i+1)*s
		i0 := int(math.Floor(lo))
		i1 := min(int(math.Ceil(hi-1e-9)), src)
		a.first[i], a.count[i], a.off[i] = int32(i0), int32(i1-i0), int32(len(a.w))
		sum, big := 0, len(a.w)
		for k := i0; k < i1; k++ {
			ov := min(hi, float64(k+1)) - max(lo, float64(k))
			wt := int(math.Round(ov / s * (1 << weightBits)))
			a.w = append(a.w, uint16(wt))
			sum += wt
			if wt > int(a.w[big]) {
				big = len(a.w) - 1
			}
		}
		a.w[big] = uint16(int(a.w[big]) + (1<<weightBits - sum)) // exact unit gain
	}
}

// resamplePlane downscales src (stride srcStride, ax.src x ay.src) into dst
// (tight, ax.dst x ay.dst): horizontal pass into tmp, then vertical.
func resamplePlane(dst, src []byte, srcStride int, ax, ay *axis, tmp []uint32) []uint32 {
	dw, sh := ax.dst, ay.src
	tmp = grow(tmp, dw*sh+dw)
	for y := range sh {
		row := src[y*srcStride : y*srcStride+ax.src]
		out := tmp[y*dw : (y+1)*dw]
		for x := range out {
			f, n, o := ax.first[x], ax.count[x], ax.off[x]
			ws := ax.w[o : o+n]
			px := row[f : f+n]
			var acc uint32
			for k, wt := range ws {
				acc += uint32(wt) * uint32(px[k])
			}
			out[x] = acc
		}
	}
	// Vertical pass row by row (cache friendly): acc accumulates whole rows.
	const round = 1 << (2*weightBits - 1) // sums stay below 2^32: 4096·4096·255 + round
	acc := tmp[dw*sh:]
	for y := range ay.dst {
		f, n, o := int(ay.first[y]), ay.count[y], ay.off[y]
		clear(acc)
		for k, wt := range ay.w[o : o+n] {
			trow := tmp[(f+k)*dw : (f+k+1)*dw]
			for x, v := range trow {
				acc[x] += uint32(wt) * v
			}
		}
		out := dst[y*dw : (y+1)*dw]
		for x, v := range acc {
			out[x] = uint8((v + round) >> (2 * weightBits))
		}
	}
	return tmp
}
