// Package preprocess turns a raw video frame, in whatever format GStreamer
// negotiated, into the float32 NCHW tensor a YOLO-family detector expects, in
// one pass and without an intermediate RGB copy: the per-frame cost of
// videoconvert + videoscale + a second conversion loop would otherwise be paid
// on every detected frame.
//
// The letterbox follows the YOLOX reference preprocessing (cv2.resize with
// INTER_LINEAR into the top-left corner, pad 114, channels B,G,R, values
// 0..255), so boxes map back with a single uniform scale and no offset.
package preprocess

import (
	"github.com/gst-react/gst-react/internal/detection"
)

// PadValue fills the part of the model input not covered by the scaled frame
// (YOLOX trains with 114 grey padding).
const PadValue = 114

// Transform describes how frame pixels map to model-input pixels: the frame is
// scaled uniformly by Scale and placed at the top-left corner, so
// model = frame*Scale and there is no offset.
//
// The zero Transform is the identity.
type Transform struct {
	// Scale is model pixels per frame pixel: min(dstW/srcW, dstH/srcH).
	Scale float32
	// Width and Height are the size of the scaled frame inside the model input
	// (floor(src*Scale), as YOLOX computes it); the rest is padding.
	Width, Height int
}

// NewTransform is the letterbox transform of a srcW x srcH frame into a
// dstW x dstH model input. Sizes must be positive.
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

func (t Transform) scale() float32 {
	if t.Scale <= 0 {
		return 1
	}
	return t.Scale
}

// ToFrame maps a box in model-input pixels back to frame pixels and clamps it
// to the frame [0,frameW]x[0,frameH].
func (t Transform) ToFrame(r detection.Rect, frameW, frameH int) detection.Rect {
	inv := 1 / t.scale()
	return detection.Rect{
		X1: r.X1 * inv, Y1: r.Y1 * inv,
		X2: r.X2 * inv, Y2: r.Y2 * inv,
	}.Clamp(float32(frameW), float32(frameH))
}

// ToModel maps a box in frame pixels to model-input pixels (no clamping); it is
// the inverse of ToFrame for boxes inside the frame.
func (t Transform) ToModel(r detection.Rect) detection.Rect {
	s := t.scale()
	return detection.Rect{X1: r.X1 * s, Y1: r.Y1 * s, X2: r.X2 * s, Y2: r.Y2 * s}
}
