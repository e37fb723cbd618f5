package tracker

import (
	"encoding/binary"
	"fmt"

	"github.com/gst-react/gst-react/internal/frame"
)

// Gray is an 8-bit luma image, row-major with stride W.
type Gray struct {
	W, H int
	Pix  []uint8
}

// resize sets the size, reusing Pix when its capacity allows (zero allocations
// in steady state, since the element keeps one Gray per pyramid level).
func (g *Gray) resize(w, h int) {
	g.W, g.H = w, h
	if n := w * h; cap(g.Pix) >= n {
		g.Pix = g.Pix[:n]
	} else {
		g.Pix = make([]uint8, n)
	}
}

// From converts f to luma, downscaled by the integer factor scale (box average;
// 1, 2 and 4 are the fast paths, any factor >= 1 works). The result is
// (f.Width/scale) x (f.Height/scale); a remainder of rows or columns is dropped.
// I420 and NV12 use the Y plane as is (limited range); packed RGB formats use
// Y = (77R + 150G + 29B) / 256 (BT.601 weights, full range). Tracking only
// compares a frame with frames of the same stream, so the range difference is
// harmless. f is only read while From runs; it is never retained.
func (g *Gray) From(f *frame.Frame, scale int) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if scale < 1 {
		scale = 1
	}
	w, h := f.Width/scale, f.Height/scale
	if w < 1 || h < 1 {
		return fmt.Errorf("tracker: %dx%d frame is smaller than scale %d", f.Width, f.Height, scale)
	}
	g.resize(w, h)
	switch {
	case f.Format.Packed():
		g.fromPacked(f, scale)
	case f.Format == frame.I420 || f.Format == frame.NV12:
		g.fromLuma(f.Data[f.Offset[0]:], f.Stride[0], scale)
	default:
		return fmt.Errorf("tracker: unsupported video format %s", f.Format)
	}
	return nil
}

// log2 returns k when n == 1<<k, else -1.
func log2(n int) int {
	for k := 0; k < 31; k++ {
		if n == 1<<k {
			return k
		}
	}
	return -1
}

func (g *Gray) fromLuma(src []byte, stride, s int) {
	w := g.W
	switch s {
	case 1:
		for y := 0; y < g.H; y++ {
			copy(g.Pix[y*w:(y+1)*w], src[y*stride:y*stride+w])
		}
		return
	case 2:
		for y := 0; y < g.H; y++ {
			avg2x2Row(g.Pix[y*w:(y+1)*w], src[2*y*stride:2*y*stride+2*w], src[(2*y+1)*stride:(2*y+1)*stride+2*w])
		}
		return
	}
	n := uint32(s * s)
	sh := log2(s * s)
	for y := 0; y < g.H; y++ {
		out := g.Pix[y*w : (y+1)*w]
		for x := range out {
			var a uint32
			for dy := 0; dy < s; dy++ {
				row := src[(y*s+dy)*stride+x*s : (y*s+dy)*stride+x*s+s]
				for _, v := range row {
					a += uint32(v)
				}
			}
			if sh >= 0 {
				out[x] = uint8((a + n/2) >> sh)
			} else {
				out[x] = uint8((a + n/2) / n)
			}
		}
	}
}

// Integer BT.601 luma weights; they sum to 256 so white stays 255.
const (
	wR = 77
	wG = 150
	wB = 29
)

func (g *Gray) fromPacked(f *frame.Frame, s int) {
	ps := f.Format.PixelStride()
	ro, gO, bo := f.Format.RGBOffsets()
	stride := f.Stride[0]
	src := f.Data[f.Offset[0]:]
	w := g.W
	if s == 2 && ps == 4 {
		// The common element path (1920x1080 xRGB-family -> 960x540): summing
		// the channels of the 2x2 block first needs one weighting per output pixel.
		// Offsets are < 4 here; masking them lets the compiler drop the
		// bounds checks on the 12 loads per output pixel.
		ro, gO, bo = ro&3, gO&3, bo&3
		for y := 0; y < g.H; y++ {
			r0 := src[2*y*stride : 2*y*stride+8*w]
			r1 := src[(2*y+1)*stride : (2*y+1)*stride+8*w]
			out := g.Pix[y*w : (y+1)*w]
			for x := range out {
				a := r0[8*x : 8*x+8 : 8*x+8]
				b := r1[8*x : 8*x+8 : 8*x+8]
				sr := uint32(a[ro&3]) + uint32(a[4+ro&3]) + uint32(b[ro&3]) + uint32(b[4+ro&3])
				sg := uint32(a[gO&3]) + uint32(a[4+gO&3]) + uint32(b[gO&3]) + uint32(b[4+gO&3])
				sb := uint32(a[bo&3]) + uint32(a[4+bo&3]) + uint32(b[bo&3]) + uint32(b[4+bo&3])
				out[x] = uint8((wR*sr + wG*sg + wB*sb + 512) >> 10)
			}
		}
		return
	}
	if s == 1 {
		for y := 0; y < g.H; y++ {
			row := src[y*stride : y*stride+w*ps]
			out := g.Pix[y*w : (y+1)*w]
			for x := range out {
				p := row[x*ps : x*ps+ps]
				out[x] = uint8((wR*uint32(p[ro]) + wG*uint32(p[gO]) + wB*uint32(p[bo]) + 128) >> 8)
			}
		}
		return
	}
	n := uint32(s * s * 256)
	sh := log2(s * s * 256)
	for y := 0; y < g.H; y++ {
		out := g.Pix[y*w : (y+1)*w]
		for x := range out {
			var sr, sg, sb uint32
			for dy := 0; dy < s; dy++ {
				off := (y*s+dy)*stride + x*s*ps
				row := src[off : off+s*ps]
				for i := 0; i < len(row); i += ps {
					sr += uint32(row[i+ro])
					sg += uint32(row[i+gO])
					sb += uint32(row[i+bo])
				}
			}
			v := wR*sr + wG*sg + wB*sb
			if sh >= 0 {
				out[x] = uint8((v + n/2) >> sh)
			} else {
				out[x] = uint8((v + n/2) / n)
			}
		}
	}
}

// Pyramid is a stack of grey images, each half the size of the one before
// (2x2 box average), with level 0 at 1/Scale of the video frame. The element
// builds one per frame and shares it between every object and both Tracks
// instances; Tracks copies what it needs to keep.
type Pyramid struct {
	Levels []Gray
	// Scale is frame pixels per level-0 pixel: boxes (in frame pixels) are
	// divided by it to reach level 0.
	Scale int
}

// minLevelSide stops the pyramid before a level becomes too small to hold a
// tracking window.
const minLevelSide = 16

// Build converts f to grey at 1/scale (see Gray.From) and builds up to levels
// levels (fewer when the image gets smaller than 16 px). Buffers are reused.
// On error p is left empty.
func (p *Pyramid) Build(f *frame.Frame, scale, levels int) error {
	p.setLevels(levels)
	if scale < 1 {
		scale = 1
	}
	if err := p.Levels[0].From(f, scale); err != nil {
		p.Levels = p.Levels[:0] // Empty: Tracks.Step drops its tracks rather than misread
		return err
	}
	p.Scale = scale
	p.buildUp(levels)
	return nil
}

// SetGray makes a pyramid from an existing grey image (copied), whose pixels are
// scale frame pixels wide. Tests and offline tools use it.
func (p *Pyramid) SetGray(g *Gray, scale, levels int) {
	p.setLevels(levels)
	if scale < 1 {
		scale = 1
	}
	p.Levels[0].resize(g.W, g.H)
	copy(p.Levels[0].Pix, g.Pix)
	p.Scale = scale
	p.buildUp(levels)
}

// CopyFrom makes p a copy of q, reusing p's buffers.
func (p *Pyramid) CopyFrom(q *Pyramid) {
	if len(q.Levels) == 0 {
		p.Levels = p.Levels[:0]
		return
	}
	p.setLevels(len(q.Levels))
	for i := range q.Levels {
		p.Levels[i].resize(q.Levels[i].W, q.Levels[i].H)
		copy(p.Levels[i].Pix, q.Levels[i].Pix)
	}
	p.Scale = q.Scale
}

// Empty reports whether p holds no image yet.
func (p *Pyramid) Empty() bool { return len(p.Levels) == 0 || p.Levels[0].W == 0 }

// sameGeometry reports whether two pyramids can be tracked between.
func sameGeometry(a, b *Pyramid) bool {
	if a == nil || b == nil || a.Empty() || b.Empty() || a.Scale != b.Scale {
		return false
	}
	return a.Levels[0].W == b.Levels[0].W && a.Levels[0].H == b.Levels[0].H
}

func (p *Pyramid) setLevels(n int) {
	if n < 1 {
		n = 1
	}
	if cap(p.Levels) >= n {
		p.Levels = p.Levels[:n]
	} else {
		p.Levels = append(p.Levels[:cap(p.Levels)], make([]Gray, n-cap(p.Levels))...)
	}
}

func (p *Pyramid) buildUp(levels int) {
	n := 1
	for n < levels {
		src := &p.Levels[n-1]
		if src.W/2 < minLevelSide || src.H/2 < minLevelSide {
			break
		}
		halve(&p.Levels[n], src)
		n++
	}
	p.Levels = p.Levels[:n]
}

// halve is a 2x2 box average. Pixel i of the result covers source pixels 2i and
// 2i+1, so edge coordinates simply halve from level to level.
func halve(dst, src *Gray) {
	w, h := src.W/2, src.H/2
	dst.resize(w, h)
	sw := src.W
	for y := 0; y < h; y++ {
		avg2x2Row(dst.Pix[y*w:(y+1)*w], src.Pix[2*y*sw:2*y*sw+2*w], src.Pix[(2*y+1)*sw:(2*y+1)*sw+2*w])
	}
}

// avg2x2Row sets out[x] to the rounded mean of r0[2x], r0[2x+1], r1[2x] and
// r1[2x+1]. Eight outputs at a time in 16-bit lanes of a uint64 (SWAR): the
// pyramid and the planar luma paths spend most of their time here.
func avg2x2Row(out, r0, r1 []uint8) {
	const lanes = 0x00FF00FF00FF00FF
	const round = 0x0002000200020002
	le := binary.LittleEndian
	n := len(out)
	r0, r1 = r0[:2*n], r1[:2*n]
	x := 0
	for ; x+8 <= n; x += 8 {
		a0, a1 := le.Uint64(r0[2*x:]), le.Uint64(r0[2*x+8:])
		b0, b1 := le.Uint64(r1[2*x:]), le.Uint64(r1[2*x+8:])
		// Pair sums of adjacent bytes, one per 16-bit lane (<= 1020, no carry).
		lo := (a0 & lanes) + (a0 >> 8 & lanes) + (b0 & lanes) + (b0 >> 8 & lanes) + round
		hi := (a1 & lanes) + (a1 >> 8 & lanes) + (b1 & lanes) + (b1 >> 8 & lanes) + round
		lo = lo >> 2 & lanes // bits shifted in from the next lane land above bit 7
		hi = hi >> 2 & lanes
		le.PutUint64(out[x:], pack4(lo)|pack4(hi)<<32)
	}
	for ; x < n; x++ {
		a := uint32(r0[2*x]) + uint32(r0[2*x+1]) + uint32(r1[2*x]) + uint32(r1[2*x+1])
		out[x] = uint8((a + 2) >> 2)
	}
}

// pack4 gathers the low bytes of the four 16-bit lanes of v into 32 bits.
func pack4(v uint64) uint64 {
	v |= v >> 8 // bytes 0,1 = lanes 0,1; bytes 4,5 = lanes 2,3
	return v&0xFFFF | (v>>16)&0xFFFF0000
}
