package cloudworker

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/gst-react/gst-react/internal/frame"
)

// JPEG (JFIF) stores full-range BT.601 YCbCr (0..255), while frame.I420 is
// limited range (Y 16..235, Cb/Cr 16..240) as in GStreamer, which is what the
// detector's letterbox expects. Copying planes through these tables converts
// the range for free; without them the image would come out with crushed
// blacks and blown highlights.
var yLUT, cLUT = func() (y, c [256]byte) {
	for i := range 256 {
		y[i] = byte(math.Round(16 + float64(i)*219/255))
		c[i] = byte(math.Round(128 + float64(i-128)*224/255))
	}
	return
}()

// converter turns decoded JPEGs into frames, reusing its buffer between calls
// (one per slot: a 1080p frame is 3 MB as I420, 6 MB as RGB).
type converter struct {
	buf []byte
}

func (c *converter) grow(n int) []byte {
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	return c.buf[:n]
}

// toFrame converts img. 4:2:0 YCbCr, what nearly every encoder writes (and
// what the edge sends), becomes I420 by copying planes; everything else is
// converted to packed RGB. The frame borrows c's buffer until the next call.
func (c *converter) toFrame(img image.Image) (frame.Frame, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return frame.Frame{}, fmt.Errorf("decoded JPEG is %dx%d", w, h)
	}
	switch m := img.(type) {
	case *image.YCbCr:
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			return c.i420(m, w, h), nil
		}
		return c.rgbFromYCbCr(m, w, h), nil
	case *image.Gray:
		f, buf := c.rgb(w, h)
		for y := range h {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			dst := buf[y*f.Stride[0] : y*f.Stride[0]+3*w]
			for x, v := range src {
				dst[3*x], dst[3*x+1], dst[3*x+2] = v, v, v
			}
		}
		return f, nil
	default: // CMYK (Adobe JPEGs) and anything else: rare, so the generic path
		f, buf := c.rgb(w, h)
		for y := range h {
			row := buf[y*f.Stride[0]:]
			for x := range w {
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				row[3*x], row[3*x+1], row[3*x+2] = byte(r>>8), byte(g>>8), byte(bl>>8)
			}
		}
		return f, nil
	}
}

func (c *converter) i420(m *image.YCbCr, w, h int) frame.Frame {
	cw, ch := (w+1)/2, (h+1)/2
	ySize, cSize := w*h, cw*ch
	buf := c.grow(ySize + 2*cSize)
	f := frame.Frame{
		Format: frame.I420, Width: w, Height: h, Data: buf,
		Offset: [3]int{0, ySize, ySize + cSize},
		Stride: [3]int{w, cw, cw},
	}
	for y := range h {
		src := m.Y[m.YOffset(m.Rect.Min.X, m.Rect.Min.Y+y):][:w]
		dst := buf[y*w:][:w]
		for x, v := range src {
			dst[x] = yLUT[v]
		}
	}
	for y := range ch {
		o := m.COffset(m.Rect.Min.X, m.Rect.Min.Y+2*y)
		cb, cr := m.Cb[o:][:cw], m.Cr[o:][:cw]
		du, dv := buf[ySize+y*cw:][:cw], buf[ySize+cSize+y*cw:][:cw]
		for x := range cw {
			du[x], dv[x] = cLUT[cb[x]], cLUT[cr[x]]
		}
	}
	return f
}

func (c *converter) rgb(w, h int) (frame.Frame, []byte) {
	buf := c.grow(3 * w * h)
	return frame.NewPacked(frame.RGB, w, h, buf), buf
}

// rgbFromYCbCr handles 4:4:4, 4:2:2, 4:4:0, 4:1:1 and 4:1:0 with the JFIF
// (full-range BT.601) conversion image/color uses.
func (c *converter) rgbFromYCbCr(m *image.YCbCr, w, h int) frame.Frame {
	f, buf := c.rgb(w, h)
	for y := range h {
		py := m.Rect.Min.Y + y
		row := buf[y*f.Stride[0]:][:3*w]
		for x := range w {
			px := m.Rect.Min.X + x
			ci := m.COffset(px, py)
			r, g, b := color.YCbCrToRGB(m.Y[m.YOffset(px, py)], m.Cb[ci], m.Cr[ci])
			row[3*x], row[3*x+1], row[3*x+2] = r, g, b
		}
	}
	return f
}
