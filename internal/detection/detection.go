// Package detection holds the types every stage of gst-react agrees on: a box in
// frame pixels, where it came from, and the geometry (IoU) used to compare boxes.
// It imports neither GStreamer nor ONNX Runtime.
package detection

import "fmt"

// Rect is an axis-aligned box in frame pixels: (X1,Y1) top-left, (X2,Y2) bottom-right.
type Rect struct {
	X1, Y1, X2, Y2 float32
}

// W is the width of r (0 when empty).
func (r Rect) W() float32 { return max(0, r.X2-r.X1) }

// H is the height of r (0 when empty).
func (r Rect) H() float32 { return max(0, r.Y2-r.Y1) }

// Area is W*H.
func (r Rect) Area() float32 { return r.W() * r.H() }

// Empty reports whether r has no area.
func (r Rect) Empty() bool { return r.X2 <= r.X1 || r.Y2 <= r.Y1 }

// Clamp limits r to the frame [0,w]x[0,h].
func (r Rect) Clamp(w, h float32) Rect {
	return Rect{
		X1: min(max(r.X1, 0), w), Y1: min(max(r.Y1, 0), h),
		X2: min(max(r.X2, 0), w), Y2: min(max(r.Y2, 0), h),
	}
}

// IoU is the intersection over union of a and b, 0 when either is empty.
func IoU(a, b Rect) float32 {
	iw := min(a.X2, b.X2) - max(a.X1, b.X1)
	ih := min(a.Y2, b.Y2) - max(a.Y1, b.Y1)
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	union := a.Area() + b.Area() - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// Source says which part of REACT produced a box.
type Source uint8

const (
	// SourceEdge: the edge detector ran on this very frame.
	SourceEdge Source = iota
	// SourceTracked: a box carried forward by the tracker from an earlier frame.
	SourceTracked
	// SourceCloud: a box from the cloud detector (fast-forwarded to this frame).
	SourceCloud
)

var sourceNames = [...]string{"edge", "tracked", "cloud"}

// String is the name used in metadata and JSON: "edge", "tracked" or "cloud".
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return fmt.Sprintf("source(%d)", s)
}

// ParseSource is the inverse of Source.String.
func ParseSource(name string) (Source, error) {
	for i, n := range sourceNames {
		if n == name {
			return Source(i), nil
		}
	}
	return 0, fmt.Errorf("unknown detection source %q (want edge, tracked or cloud)", name)
}

// CloudTrackIDBase is where the cloud's track ids start: reactcloud's
// fast-forward tracker numbers its tracks from here, so a cloud box's TrackID
// never collides with the live tracker's (reacttrack counts from 1).
const CloudTrackIDBase = 1 << 20

// Detection is one object on one frame.
type Detection struct {
	Box     Rect
	Class   int     // index into the label list (COCO: 0 = person)
	Score   float32 // confidence in [0,1]
	Source  Source
	TrackID int // 0 = not tracked yet; ≥ CloudTrackIDBase: a cloud track
	Age     int // frames since the box was last confirmed by a detector
}
