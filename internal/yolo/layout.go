// Package yolo turns the raw output tensors of a one-stage detector into
// detections in frame pixels: candidate selection, class-aware NMS and the
// mapping back through the preprocessing. It knows tensor layouts, not ONNX
// Runtime, so it can be tested and benchmarked without a model.
//
// Supported heads (see Layout): the raw YOLOX head, YOLOv8/v11 and YOLOv5 as
// Ultralytics exports them, the GFL/DFL heads of PicoDet and NanoDet (one
// score and one distance output per level), DETR-style NMS-free outputs
// (RT-DETR, D-FINE) and end-to-end exports with NMS inside (YOLOv10, YOLO26).
package yolo

import (
	"fmt"
	"math"
	"strings"

	"github.com/gst-react/gst-react/internal/preprocess"
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
	// LayoutYOLOv5 is [1, 3N, 5+C]: three anchors per cell, each cx, cy, w, h
	// in input pixels, objectness and C class scores (all sigmoided; score =
	// obj x class).
	LayoutYOLOv5
	// LayoutPicoDet is a GFL head: per level (strides 8, 16, 32, 64) a score
	// output [1, HW, C] (sigmoided) and a distance output [1, HW, 4(R+1)] of
	// DFL logits (left, top, right, bottom x R+1 bins); cell centres at
	// (col+0.5)*stride.
	LayoutPicoDet
	// LayoutNanoDet is the same GFL head over strides 8, 16, 32 with NanoDet's
	// centres at col*stride + (stride-1)/2.
	LayoutNanoDet
	// LayoutDETR is NMS-free: boxes [1, Q, 4] (cx, cy, w, h normalised to the
	// input) and scores [1, Q, C] (probabilities, or logits when the output's
	// name says so), one object per query (RT-DETR, D-FINE).
	LayoutDETR
	// LayoutEndToEnd is [1, K, 6] with NMS inside the graph: x1, y1, x2, y2 in
	// input pixels, score, class (YOLOv10, YOLO26 end-to-end exports).
	LayoutEndToEnd
)

var layoutNames = [...]string{"unknown", "yolox", "yolov8", "yolov5", "picodet", "nanodet", "detr", "e2e"}

// Layouts lists the supported layouts' names, for help texts and errors.
const Layouts = "yolox [1,N,5+C], yolov8 [1,4+C,N], yolov5 [1,3N,5+C], picodet/nanodet (GFL: per stride a [1,HW,C] score and a [1,HW,4(R+1)] DFL output), detr (boxes [1,Q,4] + scores [1,Q,C]), e2e [1,K,6]"

// String is the name ParseLayout accepts.
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
	case "yolov8", "v8", "yolo11", "ultralytics":
		return LayoutYOLOv8, nil
	case "yolov5", "v5":
		return LayoutYOLOv5, nil
	case "picodet", "gfl":
		return LayoutPicoDet, nil
	case "nanodet":
		return LayoutNanoDet, nil
	case "detr", "rt-detr", "rtdetr", "d-fine":
		return LayoutDETR, nil
	case "e2e", "end2end", "end-to-end", "yolov10", "yolo26":
		return LayoutEndToEnd, nil
	}
	return LayoutUnknown, fmt.Errorf("unknown detector head layout %q (want one of: %s)", name, strings.Join(layoutNames[1:], ", "))
}

// gfl reports whether l is one of the GFL/DFL layouts.
func (l Layout) gfl() bool { return l == LayoutPicoDet || l == LayoutNanoDet }

// gridded reports whether l's rows follow the stride 8/16/32 grids, so the
// input must be a multiple of 32.
func (l Layout) gridded() bool {
	return l == LayoutYOLOX || l == LayoutYOLOv8 || l == LayoutYOLOv5
}

// DefaultClasses is the class count assumed where a head's shape does not
// carry one (end-to-end outputs): COCO's 80.
const DefaultClasses = 80

// maxEndToEnd bounds the rows of an end-to-end output (its top-K), so that a
// mis-sized YOLOX head with one class is not taken for one.
const maxEndToEnd = 1000

// strides are the feature-map strides of the YOLO heads, in output order.
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
	case rows == 3*n && cols >= 6:
		return LayoutYOLOv5, int(cols - 5), nil
	case cols == 6 && rows > 0 && rows <= maxEndToEnd:
		// x1, y1, x2, y2, score, class: the class count is not in the shape.
		return LayoutEndToEnd, DefaultClasses, nil
	}
	// Anchors are normally the larger dimension; name the layout the shape resembles.
	if rows >= cols {
		return LayoutUnknown, 0, fmt.Errorf("output shape %v does not match a YOLOX head for a %dx%d input (expects %d rows)%s",
			shape, inputW, inputH, n, hint(rows, n))
	}
	return LayoutUnknown, 0, fmt.Errorf("output shape %v does not match a YOLOv8 head for a %dx%d input (expects %d columns)%s",
		shape, inputW, inputH, n, hint(cols, n))
}

// hint guesses why an anchor count is off: a square input of another size.
func hint(got, want int64) string {
	// 21 cells per 32x32 block: 16 + 4 + 1.
	if got%21 == 0 {
		side := int(math.Round(math.Sqrt(float64(got / 21))))
		if int64(side*side*21) == got {
			return fmt.Sprintf("; it would match a %dx%d input", 32*side, 32*side)
		}
	}
	return ""
}

// ReferencePreprocess is the preprocessing each family's reference code
// applies, the default for a model of that layout; a model exported
// otherwise declares its own (models/manifest.json) or is given an override.
func ReferencePreprocess(l Layout) preprocess.Spec {
	s := preprocess.DefaultSpec() // YOLOX: top-left letterbox, pad 114, BGR, 0..255
	switch l {
	case LayoutYOLOv8, LayoutYOLOv5, LayoutEndToEnd: // Ultralytics
		s.Resize, s.RGB, s.Scale = preprocess.ResizeCentred, true, 1.0/255
	case LayoutPicoDet: // PaddleDetection: plain resize, ImageNet mean/std
		s.Resize, s.Pad, s.RGB, s.Scale = preprocess.ResizeStretch, 0, true, 1.0/255
		s.Mean, s.Std = [3]float32{0.485, 0.456, 0.406}, [3]float32{0.229, 0.224, 0.225}
	case LayoutNanoDet: // OpenCV Zoo's NanoDet: BGR, centred, pad 0, mean/std in 0..255
		s.Resize, s.Pad = preprocess.ResizeCentred, 0
		s.Mean, s.Std = [3]float32{103.53, 116.28, 123.675}, [3]float32{57.375, 57.12, 58.395}
	case LayoutDETR: // RT-DETR, D-FINE: plain resize to 0..1
		s.Resize, s.Pad, s.RGB, s.Scale = preprocess.ResizeStretch, 0, true, 1.0/255
	}
	return s
}
