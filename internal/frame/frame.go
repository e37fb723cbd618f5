// Package frame describes a raw video frame as GStreamer hands it over: one mapped
// byte slice, a pixel format, and per-plane offsets and strides. Code that reads or
// writes pixels (preprocessing, drawing, tracking) works on a Frame, so it never
// needs GStreamer itself and never copies the buffer.
package frame

import "fmt"

// Format is a raw video pixel format, named as in GStreamer caps.
type Format uint8

const (
	FormatUnknown Format = iota
	RGB                  // packed 24-bit R,G,B
	BGR                  // packed 24-bit B,G,R
	RGBx                 // packed 32-bit R,G,B,pad
	BGRx                 // packed 32-bit B,G,R,pad
	XRGB                 // packed 32-bit pad,R,G,B ("xRGB")
	XBGR                 // packed 32-bit pad,B,G,R ("xBGR")
	RGBA                 // packed 32-bit R,G,B,A
	BGRA                 // packed 32-bit B,G,R,A
	ARGB                 // packed 32-bit A,R,G,B
	ABGR                 // packed 32-bit A,B,G,R
	I420                 // planar Y, U (w/2 x h/2), V (w/2 x h/2)
	NV12                 // planar Y, interleaved UV (w/2 x h/2)
)

var formatNames = [...]string{"unknown", "RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "ARGB", "ABGR", "I420", "NV12"}

// String is the GStreamer caps name of f.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", f)
}

// ParseFormat maps a GStreamer caps format name to a Format.
func ParseFormat(name string) (Format, error) {
	for i, n := range formatNames[1:] {
		if n == name {
			return Format(i + 1), nil
		}
	}
	return FormatUnknown, fmt.Errorf("unsupported video format %q (supported: %s)", name, CapsFormatList)
}

// Formats lists every supported format, in caps-list order.
func Formats() []Format {
	all := make([]Format, 0, len(formatNames)-1)
	for f := RGB; f <= NV12; f++ {
		all = append(all, f)
	}
	return all
}

// CapsFormatList is the caps "format" list of every supported format.
const CapsFormatList = "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, I420, NV12 }"

// Packed reports whether f is a single-plane RGB-family format.
func (f Format) Packed() bool { return f >= RGB && f <= ABGR }

// PixelStride is the bytes per pixel of a packed format (0 for planar ones).
func (f Format) PixelStride() int {
	switch f {
	case RGB, BGR:
		return 3
	case RGBx, BGRx, XRGB, XBGR, RGBA, BGRA, ARGB, ABGR:
		return 4
	}
	return 0
}

// RGBOffsets gives the byte offsets of R, G and B inside one pixel of a packed format.
func (f Format) RGBOffsets() (r, g, b int) {
	switch f {
	case RGB, RGBx, RGBA:
		return 0, 1, 2
	case BGR, BGRx, BGRA:
		return 2, 1, 0
	case XRGB, ARGB:
		return 1, 2, 3
	case XBGR, ABGR:
		return 3, 2, 1
	}
	return 0, 0, 0
}

// Frame is one mapped video frame. Data is borrowed: valid only while the
// GStreamer buffer stays mapped, never retained.
type Frame struct {
	Format        Format
	Width, Height int
	Data          []byte
	// Offset and Stride per plane (plane 0 only for packed formats;
	// I420: Y, U, V; NV12: Y, UV), as in GstVideoInfo.
	Offset [3]int
	Stride [3]int
}

// Validate checks that the planes described by f fit in Data.
func (f *Frame) Validate() error {
	if f.Width <= 0 || f.Height <= 0 {
		return fmt.Errorf("frame size %dx%d is not positive", f.Width, f.Height)
	}
	need := 0
	switch {
	case f.Format.Packed():
		if f.Stride[0] < f.Width*f.Format.PixelStride() {
			return fmt.Errorf("%s stride %d is smaller than width %d", f.Format, f.Stride[0], f.Width)
		}
		need = f.Offset[0] + f.Stride[0]*(f.Height-1) + f.Width*f.Format.PixelStride()
	case f.Format == I420:
		cw, ch := (f.Width+1)/2, (f.Height+1)/2
		need = max(f.Offset[0]+f.Stride[0]*(f.Height-1)+f.Width,
			f.Offset[1]+f.Stride[1]*(ch-1)+cw,
			f.Offset[2]+f.Stride[2]*(ch-1)+cw)
	case f.Format == NV12:
		cw, ch := (f.Width+1)/2, (f.Height+1)/2
		need = max(f.Offset[0]+f.Stride[0]*(f.Height-1)+f.Width,
			f.Offset[1]+f.Stride[1]*(ch-1)+2*cw)
	default:
		return fmt.Errorf("unsupported video format %s", f.Format)
	}
	if need > len(f.Data) {
		return fmt.Errorf("%s %dx%d frame needs %d bytes, buffer has %d", f.Format, f.Width, f.Height, need, len(f.Data))
	}
	return nil
}

// NewPacked describes a tightly packed frame over data (used by tests and tools).
func NewPacked(format Format, w, h int, data []byte) Frame {
	return Frame{Format: format, Width: w, Height: h, Data: data, Stride: [3]int{w * format.PixelStride()}}
}

// Alloc makes a new frame of the given format with GStreamer's default layout
// (rows padded to 4 bytes), for tests, tools and offline evaluation.
func Alloc(format Format, w, h int) Frame {
	f := Frame{Format: format, Width: w, Height: h}
	align4 := func(n int) int { return (n + 3) &^ 3 }
	cw, ch := (w+1)/2, (h+1)/2
	switch {
	case format.Packed():
		f.Stride[0] = align4(w * format.PixelStride())
		f.Data = make([]byte, f.Stride[0]*h)
	case format == I420:
		f.Stride = [3]int{align4(w), align4(cw), align4(cw)}
		f.Offset[1] = f.Stride[0] * align2(h)
		f.Offset[2] = f.Offset[1] + f.Stride[1]*ch
		f.Data = make([]byte, f.Offset[2]+f.Stride[2]*ch)
	case format == NV12:
		f.Stride = [3]int{align4(w), align4(2 * cw)}
		f.Offset[1] = f.Stride[0] * align2(h)
		f.Data = make([]byte, f.Offset[1]+f.Stride[1]*ch)
	}
	return f
}

func align2(n int) int { return (n + 1) &^ 1 }
