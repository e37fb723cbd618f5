// Package yolo turns the raw output tensor of a YOLO-family detector into
// detections in frame pixels: candidate selection, class-aware NMS and the
// mapping back through the letterbox. It knows tensor layouts, not ONNX
// Runtime, so it can be tested and benchmarked without a model.
//
// Two head layouts are supported, both anchor-free over strides 8, 16 and 32:
// the raw YOLOX head (exported with decode_in_inference=False) and the
// YOLOv8/v11 head as exported by Ultralytics.
package yolo

import (
	"fmt"
	"math"
	"strings"
)

// Layout is the arrangement of a detector head's output tensor.
type Layout uint8

const (
	// LayoutUnknown is the zero Layout; NewDecoder rejects it.
	LayoutUnknown Layout = iota
	// LayoutYOLOX is [1, N, 5+C]: per anchor dx, dy, log w, log h (grid units),
	// objectness and C class scores (both already sigmoided).
	LayoutYOLOX
	// LayoutYOLOv8 is [1, 4+C, N], channel-major: cx, cy, w, h in input pixels,
	// then C class scores; there is no objectness.
	LayoutYOLOv8
)

var layoutNames = [...]string{"unknown", "yolox", "yolov8"}

// String is the name ParseLayout accepts: "yolox" or "yolov8".
func (l Layout) String() string {
	if int(l) < len(layoutNames) {
		return layoutNames[l]
	}
	return fmt.Sprintf("layout(%d)", l)
}

// ParseLayout maps "yolox" or "yolov8" (any case) to a Layout, for element
// properties and command-line flags.
func ParseLayout(name string) (Layout, error) {
	switch strings.ToLower(name) {
	case "yolox":
		return LayoutYOLOX, nil
	case "yolov8", "v8", "ultralytics":
		return LayoutYOLOv8, nil
	}
	return LayoutUnknown, fmt.Errorf("unknown detector head layout %q (want yolox or yolov8)", name)
}

// strides are the feature-map strides of both heads, in output order.
var strides = [...]int{8, 16, 32}

// NumAnchors is the number of grid cells (one prediction each) of an
// anchor-free head over strides 8, 16, 32 for an inputW x inputH input:
// 3549 for 416x416, 8400 for 640x640.
func NumAnchors(inputW, inputH int) int {
	n := 0
	for _, s := range strides {
		n += (inputW / s) * (inputH / s)
	}
	return n
}

func checkInputSize(w, h int) error {
	if w <= 0 || h <= 0 || w%32 != 0 || h%32 != 0 {
		return fmt.Errorf("model input size %dx%d must be positive multiples of 32 (the largest head stride)", w, h)
	}
	return nil
}

// DetectLayout decides the head layout and class count from a model's output
// shape and its input size. The error explains what was expected, since a
// mismatch almost always means a wrong input size or an unsupported export.
//
// Dimensions <= 0 are dynamic, as ONNX Runtime reports them: a dynamic batch
// is taken as 1, and a dynamic anchor dimension is trusted if the other one
// gives the per-anchor width (Decode still checks the real output length).
func DetectLayout(shape []int64, inputW, inputH int) (Layout, int, error) {
	if err := checkInputSize(inputW, inputH); err != nil {
		return LayoutUnknown, 0, err
	}
	if len(shape) != 3 {
		return LayoutUnknown, 0, fmt.Errorf("output shape %v is not a 3-D [1, rows, values] detector head", shape)
	}
	if shape[0] > 1 {
		return LayoutUnknown, 0, fmt.Errorf("output shape %v has batch %d; only batch 1 is supported", shape, shape[0])
	}
	n := int64(NumAnchors(inputW, inputH))
	rows, cols := shape[1], shape[2]
	switch {
	case rows <= 0 && cols <= 0:
		return LayoutUnknown, 0, fmt.Errorf("output shape %v is fully dynamic; the layout cannot be told from it", shape)
	case rows <= 0 && cols >= 6:
		rows = n
	case cols <= 0 && rows >= 5:
		cols = n
	}
	switch {
	case rows == n && cols >= 6:
		return LayoutYOLOX, int(cols - 5), nil
	case cols == n && rows >= 5:
		return LayoutYOLOv8, int(rows - 4), nil
	case rows == n || cols == n:
		return LayoutUnknown, 0, fmt.Errorf("output shape %v has %d anchors for a %dx%d input but no class scores", shape, n, inputW, inputH)
	}
	// Anchors are normally the larger dimension; name the layout the shape resembles.
	if rows >= cols {
		return LayoutUnknown, 0, fmt.Errorf("output shape %v does not match a YOLOX head for a %dx%d input (expects %d rows)%s",
			shape, inputW, inputH, n, hint(rows, n))
	}
	return LayoutUnknown, 0, fmt.Errorf("output shape %v does not match a YOLOv8 head for a %dx%d input (expects %d columns)%s",
		shape, inputW, inputH, n, hint(cols, n))
}

// hint guesses why an anchor count is off: a square input of another size, or
// an anchor-based head (3 anchors per cell) that this package cannot decode.
func hint(got, want int64) string {
	if got == 3*want {
		return "; 3 predictions per cell looks like an anchor-based YOLOv5/v7 head, which is not supported"
	}
	// 21 cells per 32x32 block: 16 + 4 + 1.
	if got%21 == 0 {
		side := int(math.Round(math.Sqrt(float64(got / 21))))
		if int64(side*side*21) == got {
			return fmt.Sprintf("; it would match a %dx%d input", 32*side, 32*side)
		}
	}
	return ""
}
