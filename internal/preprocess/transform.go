// Package preprocess turns a raw video frame, in whatever format GStreamer
// negotiated, into the float32 NCHW tensor a YOLO-family detector expects, in
// one pass and without an intermediate RGB copy: the per-frame cost of
// videoconvert + videoscale + a second conversion loop would otherwise be paid
// on every detected frame.
//
// By default the letterbox follows the YOLOX reference preprocessing
// (cv2.resize with INTER_LINEAR into the top-left corner, pad 114, channels
// B,G,R, values 0..255); a Spec describes other models' preprocessing (a
// centred letterbox or a stretch, another pad value, R,G,B, scale, mean/std)
// as data, so a new detector family needs no new loop.
package preprocess

import (
	"github.com/gst-react/gst-react/internal/detection"
)

// PadValue fills the part of the model input not covered by the scaled frame
// (YOLOX trains with 114 grey padding).
const PadValue = 114

// Transform describes how frame pixels map to model-input pixels:
// model = frame*scale + offset, per axis. The YOLOX letterbox is a uniform
// Scale with no offset; a centred letterbox adds OffX/OffY, and a stretch
// scales the axes apart (ScaleY).
//
// The zero Transform is the identity.
type Transform struct {
	// Scale is model pixels per frame pixel: min(dstW/srcW, dstH/srcH) for a
	// letterbox, dstW/srcW for a stretch.
	Scale float32
	// ScaleY is the vertical scale when it differs from Scale (a stretch);
	// 0 means Scale.
	ScaleY float32
	// OffX and OffY are where the frame's top-left corner lands in the model
	// input (a centred letterbox pads both sides); whole pixels.
	OffX, OffY int
	// Width and Height are the size of the scaled frame inside the model input
	// (floor(src*Scale), as YOLOX computes it); the rest is padding.
	Width, Height int
}

// NewTransform is the letterbox transform of a srcW x srcH frame into a
// dstW x dstH model input, the frame at the top-left. Sizes must be positive.
func NewTransform(srcW, srcH, dstW, dstH int) Transform {
	var t Transform
	// Integer cross-multiplication decides the limiting side and the scaled
	// size exactly; float maths could make 1080*416/1920 come out as 233.9999.
	if dstW*srcH <= dstH*srcW {
		t.Scale = float32(float64(dstW) / float64(srcW))
		t.Width, t.Height = dstW, srcH*dstW/srcW
	} else {
		t.Scale = float32(float64(dstH) / float64(srcH))
		t.Width, t.Height = srcW*dstH/srcH, dstH
	}
	t.Width, t.Height = max(t.Width, 1), max(t.Height, 1)
	return t
}

// NewTransformFor is the transform of a srcW x srcH frame into a dstW x dstH
// model input under the given resize mode.
func NewTransformFor(mode Resize, srcW, srcH, dstW, dstH int) Transform {
	switch mode {
	case ResizeCentred:
		t := NewTransform(srcW, srcH, dstW, dstH)
		// Half the slack on each side, the odd pixel at the end, as the
		// reference letterboxes (NanoDet, Ultralytics) round it.
		t.OffX, t.OffY = (dstW-t.Width)/2, (dstH-t.Height)/2
		return t
	case ResizeStretch:
		return Transform{
			Scale:  float32(float64(dstW) / float64(srcW)),
			ScaleY: float32(float64(dstH) / float64(srcH)),
			Width:  dstW, Height: dstH,
		}
	}
	return NewTransform(srcW, srcH, dstW, dstH)
}

func (t Transform) scales() (sx, sy float32) {
	sx = t.Scale
	if sx <= 0 {
		sx = 1
	}
	sy = t.ScaleY
	if sy <= 0 {
		sy = sx
	}
	return sx, sy
}

// ToFrame maps a box in model-input pixels back to frame pixels and clamps it
// to the frame [0,frameW]x[0,frameH].
func (t Transform) ToFrame(r detection.Rect, frameW, frameH int) detection.Rect {
	sx, sy := t.scales()
	ix, iy := 1/sx, 1/sy
	ox, oy := float32(t.OffX), float32(t.OffY)
	return detection.Rect{
		X1: (r.X1 - ox) * ix, Y1: (r.Y1 - oy) * iy,
		X2: (r.X2 - ox) * ix, Y2: (r.Y2 - oy) * iy,
	}.Clamp(float32(frameW), float32(frameH))
}

// ToModel maps a box in frame pixels to model-input pixels (no clamping); it is
// the inverse of ToFrame for boxes inside the frame.
func (t Transform) ToModel(r detection.Rect) detection.Rect {
	sx, sy := t.scales()
	ox, oy := float32(t.OffX), float32(t.OffY)
	return detection.Rect{X1: r.X1*sx + ox, Y1: r.Y1*sy + oy, X2: r.X2*sx + ox, Y2: r.Y2*sy + oy}
}
