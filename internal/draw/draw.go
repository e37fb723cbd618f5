// Package draw paints detection boxes and labels straight into a mapped video
// frame, in the frame's own pixel format. It is the core of the reactoverlay
// element, which calls it on every frame of live video, so it never copies or
// converts the frame and allocates nothing per frame.
//
// Legend — the outline tells a viewer where a box came from:
//
//	edge     solid outline: the edge detector saw the object on this frame
//	tracked  dashed outline: the tracker carried the box forward
//	cloud    solid outline plus thick filled corner brackets: from the cloud detector
//
// Every box has its class colour (ClassColor), the same on every frame. Its
// label, "<class> <score>" plus " #<track id>" when tracked (for example
// "person 0.87 #12"; a cloud track reads "#c5"), sits on a filled box in the class colour just above the
// box's top-left corner, or inside the box when there is no room above, and
// slides left rather than run off the right edge of the frame. The 5x8 font
// is built in and covers printable ASCII.
//
// Geometry: a Rect is rounded to whole pixels and its outline grows inward from
// the rectangle's edges, so a box never touches pixels outside its Rect (X2 and
// Y2 are exclusive). Everything is clipped to the frame: boxes partly or wholly
// outside, negative, NaN or huge coordinates are safe. A frame whose planes do
// not fit its Data is left untouched.
//
// Formats: packed RGB formats get the exact colour; 4-byte formats also get
// 0xFF in their x/A byte so the overlay stays opaque downstream. I420 and NV12
// get BT.601 limited-range Y for every covered pixel and U/V for every chroma
// sample any covered pixel falls in (so colour may bleed one pixel at odd edges).
//
// A Painter reuses a label buffer, so it is not safe for concurrent use:
// keep one per streaming thread.
package draw

import (
	"math"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
)

// Color is an sRGB colour.
type Color struct{ R, G, B uint8 }

// palette is bright and saturated so boxes stand out on typical scenes;
// neighbouring class indexes get clearly different hues.
var palette = [...]Color{
	{0xFF, 0x38, 0x38}, // red
	{0xFF, 0x9D, 0x1F}, // orange
	{0xFF, 0xE8, 0x1F}, // yellow
	{0x9D, 0xFF, 0x1F}, // lime
	{0x1F, 0xFF, 0x5A}, // green
	{0x1F, 0xFF, 0xD2}, // aqua
	{0x1F, 0xC8, 0xFF}, // sky blue
	{0x5C, 0x8C, 0xFF}, // blue
	{0xA0, 0x7A, 0xFF}, // violet
	{0xE0, 0x4D, 0xFF}, // magenta
	{0xFF, 0x4F, 0xA8}, // pink
	{0xFF, 0x7A, 0x6B}, // salmon
	{0xFF, 0xC4, 0x6B}, // peach
	{0xC6, 0xFF, 0x6B}, // pale lime
	{0x6B, 0xFF, 0xA0}, // mint
	{0x6B, 0xE5, 0xFF}, // pale cyan
	{0x9F, 0xB4, 0xFF}, // periwinkle
	{0xD2, 0x9F, 0xFF}, // lavender
	{0xFF, 0x8F, 0xE0}, // light pink
	{0xFF, 0xFF, 0xFF}, // white
}

// ClassColor is the fixed colour of a class index; the 20 palette colours
// repeat every 20 classes (negative indexes are valid too).
func ClassColor(class int) Color {
	i := class % len(palette)
	if i < 0 {
		i += len(palette)
	}
	return palette[i]
}

// textColorOn picks black or white label text, whichever reads better on bg.
func textColorOn(bg Color) Color {
	if 299*int(bg.R)+587*int(bg.G)+114*int(bg.B) >= 140_000 {
		return Color{}
	}
	return Color{0xFF, 0xFF, 0xFF}
}

// Style is how a box outline is drawn.
type Style uint8

const (
	Solid   Style = iota // continuous outline (edge detections)
	Dashed               // dashes with gaps; corners always drawn (tracked boxes)
	Corners              // solid outline plus thick filled corner brackets (cloud detections)
)

var styleNames = [...]string{"solid", "dashed", "corners"}

func (s Style) String() string {
	if int(s) < len(styleNames) {
		return styleNames[s]
	}
	return "style(?)"
}

// StyleFor is the outline style of a detection source (see the package legend);
// unknown sources are Solid.
func StyleFor(src detection.Source) Style {
	switch src {
	case detection.SourceTracked:
		return Dashed
	case detection.SourceCloud:
		return Corners
	}
	return Solid
}

// Painter draws onto frames. Make it with NewPainter and keep it for the
// stream: it holds the font as rectangles and a reused label buffer.
type Painter struct {
	// LabelScale is the font scale Detection uses for labels; 0 picks 2 for
	// frames at least 720 rows tall and 1 below that.
	LabelScale int

	glyphs [numGlyphs]glyph
	label  []byte // Detection's label text, reused so labels never allocate
}

// NewPainter makes a Painter with its glyph tables built.
func NewPainter() *Painter {
	p := &Painter{label: make([]byte, 0, 128)}
	buildGlyphs(&p.glyphs)
	return p
}

// maxThickness bounds line widths so derived sizes cannot overflow; anything
// this thick fills any reasonable box anyway.
const maxThickness = 1 << 10

// coordLimit bounds pixel coordinates for the same reason.
const coordLimit = 1 << 24

func clampThickness(t int) int { return min(max(t, 1), maxThickness) }

// pix rounds a coordinate to a pixel edge; ok is false for NaN.
func pix(v float32) (int, bool) {
	if v != v {
		return 0, false
	}
	v = min(max(v, -coordLimit), coordLimit)
	return int(math.Floor(float64(v) + 0.5)), true
}

// box is a Rect in whole pixels, [x0,x1) x [y0,y1); ok is false when it is
// empty or misses the frame, so there is nothing to draw.
func box(f *frame.Frame, r detection.Rect) (x0, y0, x1, y1 int, ok bool) {
	var o1, o2, o3, o4 bool
	x0, o1 = pix(r.X1)
	y0, o2 = pix(r.Y1)
	x1, o3 = pix(r.X2)
	y1, o4 = pix(r.Y2)
	ok = o1 && o2 && o3 && o4 && x0 < x1 && y0 < y1 &&
		x1 > 0 && y1 > 0 && x0 < f.Width && y0 < f.Height
	return
}

// Rect draws the outline of r in colour c and the given style, thickness
// pixels wide, growing inward from r's edges, clipped to the frame.
func (p *Painter) Rect(f *frame.Frame, r detection.Rect, c Color, style Style, thickness int) {
	if !usable(f) {
		return
	}
	x0, y0, x1, y1, ok := box(f, r)
	if !ok {
		return
	}
	pn := makePen(f.Format, c)
	outline(f, &pn, x0, y0, x1, y1, style, clampThickness(thickness))
}

// Dash pattern, in multiples of the line thickness so dashes stay legible on
// thick lines: long enough to read as dashes, gaps wide enough to see.
func dashLen(t int) int { return 3*t + 5 }
func gapLen(t int) int  { return 2*t + 3 }

func outline(f *frame.Frame, pn *pen, x0, y0, x1, y1 int, style Style, t int) {
	// Strokes never cross the opposite edge of a box thinner than 2t.
	tx, ty := min(t, x1-x0), min(t, y1-y0)
	if style == Dashed {
		d, g := dashLen(t), gapLen(t)
		n, spare := dashCount(x1-x0, d, g)
		for i := range n {
			a, b := dashAt(i, n, x1-x0, d, g, spare)
			fill(f, pn, x0+a, y0, x0+b, y0+ty)
			fill(f, pn, x0+a, y1-ty, x0+b, y1)
		}
		n, spare = dashCount(y1-y0, d, g)
		for i := range n {
			a, b := dashAt(i, n, y1-y0, d, g, spare)
			fill(f, pn, x0, y0+a, x0+tx, y0+b)
			fill(f, pn, x1-tx, y0+a, x1, y0+b)
		}
		return
	}
	fill(f, pn, x0, y0, x1, y0+ty)
	fill(f, pn, x0, y1-ty, x1, y1)
	fill(f, pn, x0, y0+ty, x0+tx, y1-ty)
	fill(f, pn, x1-tx, y0+ty, x1, y1-ty)
	if style == Corners {
		// Brackets 3x the line width, a quarter of the short side long
		// (at least 3x their width): unmistakable even on small boxes.
		m := min(x1-x0, y1-y0)
		ct := max(min(3*t, m/2), 1)
		cl := max(min(max(m/4, 3*ct), m/2), ct)
		fill(f, pn, x0, y0, x0+cl, y0+ct) // top-left
		fill(f, pn, x0, y0, x0+ct, y0+cl)
		fill(f, pn, x1-cl, y0, x1, y0+ct) // top-right
		fill(f, pn, x1-ct, y0, x1, y0+cl)
		fill(f, pn, x0, y1-ct, x0+cl, y1) // bottom-left
		fill(f, pn, x0, y1-cl, x0+ct, y1)
		fill(f, pn, x1-cl, y1-ct, x1, y1) // bottom-right
		fill(f, pn, x1-ct, y1-cl, x1, y1)
	}
}

// dashCount lays dashes of length d along an edge of length l so that the
// first and last touch the corners (the box shape stays readable) and the
// gaps are at least g; spare is the length the gaps share beyond g.
// An edge too short for two dashes is one solid dash.
func dashCount(l, d, g int) (n, spare int) {
	if l < 2*d+g {
		return 1, 0
	}
	n = (l + g) / (d + g)
	return n, l - n*d - (n-1)*g
}

// dashAt is dash i of n as [a, b) along the edge.
func dashAt(i, n, l, d, g, spare int) (a, b int) {
	if n == 1 {
		return 0, l
	}
	a = i*(d+g) + i*spare/(n-1)
	return a, a + d
}

// Detection draws d's box in its class colour and source style, and its label
// ("<label> <score>" plus " #<TrackID>" when TrackID > 0, " #c<n>" for the
// cloud's n-th track) above the box, or
// inside it at the top when there is no room above. An empty label prints the
// class index instead. Nothing is drawn when the box misses the frame.
func (p *Painter) Detection(f *frame.Frame, d *detection.Detection, label string, thickness int) {
	if d == nil || !usable(f) {
		return
	}
	x0, y0, x1, y1, ok := box(f, d.Box)
	if !ok {
		return
	}
	c := ClassColor(d.Class)
	pn := makePen(f.Format, c)
	outline(f, &pn, x0, y0, x1, y1, StyleFor(d.Source), clampThickness(thickness))

	p.label = appendLabel(p.label[:0], d, label)
	s := p.labelScale(f)
	w, h := textSize(len(p.label), s)
	lx, ly := labelOrigin(f.Width, x0, y0, w, h)
	fg := makePen(f.Format, textColorOn(c))
	drawText(p, f, lx, ly, p.label, &fg, &pn, s)
}

func (p *Painter) labelScale(f *frame.Frame) int {
	if p.LabelScale > 0 {
		return clampScale(p.LabelScale)
	}
	if f.Height >= 720 {
		return 2
	}
	return 1
}

// labelOrigin puts a w x h label on top of a box whose top-left pixel is
// (x0, y0): above it when it fits in the frame, else inside its top edge;
// shifted left rather than cut off at the right frame edge.
func labelOrigin(fw, x0, y0, w, h int) (x, y int) {
	y = y0 - h
	if y < 0 {
		y = max(y0, 0)
	}
	x = max(min(x0, fw-w), 0)
	return x, y
}

// appendLabel formats "<label> <score> #<id>" into b without fmt or strconv,
// so a reused buffer makes it allocation-free.
func appendLabel(b []byte, d *detection.Detection, label string) []byte {
	if label != "" {
		b = append(b, label...)
	} else {
		b = appendInt(b, d.Class)
	}
	b = append(b, ' ')
	b = appendScore(b, d.Score)
	switch {
	case d.TrackID >= detection.CloudTrackIDBase:
		b = append(b, " #c"...)
		b = appendInt(b, d.TrackID-detection.CloudTrackIDBase)
	case d.TrackID > 0:
		b = append(b, " #"...)
		b = appendInt(b, d.TrackID)
	}
	return b
}

// appendScore writes s clamped to [0,1] with two decimals ("0.87", "1.00").
func appendScore(b []byte, s float32) []byte {
	if !(s > 0) { // also NaN
		s = 0
	}
	v := int(min(s, 1)*100 + 0.5)
	return append(b, byte('0'+v/100), '.', byte('0'+v/10%10), byte('0'+v%10))
}

func appendInt(b []byte, v int) []byte {
	var tmp [20]byte
	i := len(tmp)
	u := uint64(v)
	if v < 0 {
		u = -u
	}
	for {
		i--
		tmp[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if v < 0 {
		b = append(b, '-')
	}
	return append(b, tmp[i:]...)
}
