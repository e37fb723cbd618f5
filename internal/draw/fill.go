package draw

import (
	"encoding/binary"

	"github.com/gst-react/gst-react/internal/frame"
)

// pen is a colour converted once per draw call into the frame's byte layout,
// so the per-pixel work is plain stores.
type pen struct {
	px      [4]byte // packed pixel in memory order
	ps      int     // bytes per packed pixel; 0 for planar formats
	y, u, v byte    // BT.601 limited range, for I420/NV12
}

func makePen(fm frame.Format, c Color) pen {
	var p pen
	if fm.Packed() {
		p.ps = fm.PixelStride()
		p.px = [4]byte{0xFF, 0xFF, 0xFF, 0xFF} // opaque alpha / pad byte
		ro, gofs, bo := fm.RGBOffsets()
		p.px[ro], p.px[gofs], p.px[bo] = c.R, c.G, c.B
		return p
	}
	p.y, p.u, p.v = YUV(c)
	return p
}

// YUV converts c to BT.601 limited-range Y, Cb, Cr (Y 16..235, Cb/Cr 16..240),
// the colour I420/NV12 frames get.
func YUV(c Color) (y, u, v uint8) {
	r, g, b := int(c.R), int(c.G), int(c.B)
	y = uint8((66*r+129*g+25*b+128)>>8 + 16)
	u = uint8((-38*r-74*g+112*b+128)>>8 + 128)
	v = uint8((112*r-94*g-18*b+128)>>8 + 128)
	return y, u, v
}

// usable reports whether every plane of f fits in f.Data, so fill (which
// clips to Width x Height) can never index outside it. It is checked once per
// public call and, unlike Frame.Validate, never allocates.
func usable(f *frame.Frame) bool {
	if f == nil || f.Width <= 0 || f.Height <= 0 || f.Width > len(f.Data) || f.Height > len(f.Data) {
		return false
	}
	w, h := f.Width, f.Height
	cw, ch := (w+1)/2, (h+1)/2
	switch {
	case f.Format.Packed():
		return plane(f, 0, w*f.Format.PixelStride(), h)
	case f.Format == frame.I420:
		return plane(f, 0, w, h) && plane(f, 1, cw, ch) && plane(f, 2, cw, ch)
	case f.Format == frame.NV12:
		return plane(f, 0, w, h) && plane(f, 1, 2*cw, ch)
	}
	return false
}

func plane(f *frame.Frame, i, rowBytes, rows int) bool {
	off, stride, n := f.Offset[i], f.Stride[i], len(f.Data)
	if off < 0 || off > n || stride < rowBytes || stride > n {
		return false // also keeps stride*rows below from overflowing
	}
	return off+stride*(rows-1)+rowBytes <= n
}

// fill paints [x0,x1) x [y0,y1), clipped to the frame. Every shape in this
// package is a handful of these calls.
func fill(f *frame.Frame, pn *pen, x0, y0, x1, y1 int) {
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, f.Width), min(y1, f.Height)
	if x0 >= x1 || y0 >= y1 {
		return
	}
	d := f.Data
	if ps := pn.ps; ps != 0 {
		o, n := f.Offset[0]+y0*f.Stride[0]+x0*ps, (x1-x0)*ps
		if ps == 4 {
			v := binary.LittleEndian.Uint32(pn.px[:])
			for range y1 - y0 {
				row := d[o : o+n]
				for i := 0; i+4 <= len(row); i += 4 {
					binary.LittleEndian.PutUint32(row[i:], v)
				}
				o += f.Stride[0]
			}
			return
		}
		for range y1 - y0 {
			repeat(d[o:o+n], pn.px[:ps])
			o += f.Stride[0]
		}
		return
	}
	fillBytes(d, f.Offset[0]+y0*f.Stride[0]+x0, f.Stride[0], x1-x0, y1-y0, pn.y)
	// Chroma samples cover 2x2 pixels: paint each one any painted pixel is in.
	cx0, cy0, cx1, cy1 := x0>>1, y0>>1, (x1+1)>>1, (y1+1)>>1
	if f.Format == frame.I420 {
		fillBytes(d, f.Offset[1]+cy0*f.Stride[1]+cx0, f.Stride[1], cx1-cx0, cy1-cy0, pn.u)
		fillBytes(d, f.Offset[2]+cy0*f.Stride[2]+cx0, f.Stride[2], cx1-cx0, cy1-cy0, pn.v)
		return
	}
	uv := [2]byte{pn.u, pn.v}
	o, n := f.Offset[1]+cy0*f.Stride[1]+2*cx0, 2*(cx1-cx0)
	for range cy1 - cy0 {
		repeat(d[o:o+n], uv[:])
		o += f.Stride[1]
	}
}

// fillBytes sets n bytes to b on each of rows rows starting at o.
func fillBytes(d []byte, o, stride, n, rows int, b byte) {
	for range rows {
		row := d[o : o+n]
		if n <= 32 {
			for i := range row {
				row[i] = b
			}
		} else {
			row[0] = b
			for k := 1; k < n; k *= 2 {
				copy(row[k:], row[:k])
			}
		}
		o += stride
	}
}

// repeat tiles pat over dst (whose length is a multiple of len(pat)) by
// doubling copies: few calls even for full-width rows.
func repeat(dst, pat []byte) {
	n := copy(dst, pat)
	for n < len(dst) {
		n += copy(dst[n:], dst[:n])
	}
}
