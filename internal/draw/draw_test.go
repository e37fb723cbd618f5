package draw

import (
	"fmt"
	"math"
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
)

// padded is an odd-sized frame laid out the awkward way a decoder might:
// odd plane offsets, row padding that is not a multiple of the pixel size,
// and junk before, between and after the planes.
func padded(fm frame.Format, w, h int) frame.Frame {
	f := frame.Frame{Format: fm, Width: w, Height: h}
	cw, ch := (w+1)/2, (h+1)/2
	f.Offset[0] = 37
	end := 0
	switch {
	case fm.Packed():
		f.Stride[0] = w*fm.PixelStride() + 13
		end = f.Offset[0] + f.Stride[0]*h
	case fm == frame.I420:
		f.Stride = [3]int{w + 13, cw + 5, cw + 9}
		f.Offset[1] = f.Offset[0] + f.Stride[0]*h + 7
		f.Offset[2] = f.Offset[1] + f.Stride[1]*ch + 3
		end = f.Offset[2] + f.Stride[2]*ch
	case fm == frame.NV12:
		f.Stride = [3]int{w + 13, 2*cw + 6}
		f.Offset[1] = f.Offset[0] + f.Stride[0]*h + 7
		end = f.Offset[1] + f.Stride[1]*ch
	}
	f.Data = make([]byte, end+29)
	return f
}

type layout struct {
	name string
	f    frame.Frame
}

func layouts(fm frame.Format) []layout {
	return []layout{
		{"alloc320x240", frame.Alloc(fm, 320, 240)},
		{"alloc321x241", frame.Alloc(fm, 321, 241)},
		{"padded321x241", padded(fm, 321, 241)},
	}
}

// Byte locations, computed here independently of the package's fill code.
func pixelBytes(f *frame.Frame, x, y int) (off, n int) {
	if f.Format.Packed() {
		ps := f.Format.PixelStride()
		return f.Offset[0] + y*f.Stride[0] + x*ps, ps
	}
	return f.Offset[0] + y*f.Stride[0] + x, 1
}

// chromaBytes lists the byte offsets of chroma sample (cx, cy).
func chromaBytes(f *frame.Frame, cx, cy int) []int {
	if f.Format == frame.I420 {
		return []int{f.Offset[1] + cy*f.Stride[1] + cx, f.Offset[2] + cy*f.Stride[2] + cx}
	}
	o := f.Offset[1] + cy*f.Stride[1] + 2*cx
	return []int{o, o + 1}
}

// junk marks bytes that are not part of the image (padding, gaps between planes).
const junk = 0xA5

// background fills f: junk everywhere, then the image area with a dark grey
// unlike every palette colour (0x11 in x/A bytes, so writes to them show).
func background(f *frame.Frame) {
	for i := range f.Data {
		f.Data[i] = junk
	}
	for y := 0; y < f.Height; y++ {
		for x := 0; x < f.Width; x++ {
			o, n := pixelBytes(f, x, y)
			for k := range n {
				f.Data[o+k] = 0x30
			}
			if n == 4 {
				ro, g, b := f.Format.RGBOffsets()
				f.Data[o+6-ro-g-b] = 0x11
			}
		}
	}
	if !f.Format.Packed() {
		for cy := 0; cy < (f.Height+1)/2; cy++ {
			for cx := 0; cx < (f.Width+1)/2; cx++ {
				for _, o := range chromaBytes(f, cx, cy) {
					f.Data[o] = 0x70
				}
			}
		}
	}
}

type rect struct{ x0, y0, x1, y1 int } // [x0,x1) x [y0,y1)

func (r rect) grow(m int) rect { return rect{r.x0 - m, r.y0 - m, r.x1 + m, r.y1 + m} }
func (r rect) has(x, y int) bool {
	return x >= r.x0 && x < r.x1 && y >= r.y0 && y < r.y1
}

// mayChange marks every byte of Data that belongs to a pixel (or chroma
// sample touching a pixel) for which allow is true; all other bytes —
// including padding and junk between planes — must stay as they were.
func mayChange(f *frame.Frame, allow func(x, y int) bool) []bool {
	m := make([]bool, len(f.Data))
	for y := 0; y < f.Height; y++ {
		for x := 0; x < f.Width; x++ {
			if !allow(x, y) {
				continue
			}
			o, n := pixelBytes(f, x, y)
			for k := range n {
				m[o+k] = true
			}
			if !f.Format.Packed() {
				for _, o := range chromaBytes(f, x/2, y/2) {
					m[o] = true
				}
			}
		}
	}
	return m
}

// checkUnchanged fails for every byte outside the allowed set that differs from before.
func checkUnchanged(t *testing.T, f *frame.Frame, before []byte, allowed []bool) {
	t.Helper()
	bad := 0
	for i := range f.Data {
		if (allowed == nil || !allowed[i]) && f.Data[i] != before[i] {
			if bad < 5 {
				t.Errorf("byte %d (%s) changed %#x -> %#x", i, where(f, i), before[i], f.Data[i])
			}
			bad++
		}
	}
	if bad > 5 {
		t.Errorf("... %d bytes changed that should not have", bad)
	}
}

// where names the pixel or padding a byte offset belongs to, for messages.
func where(f *frame.Frame, i int) string {
	for y := 0; y < f.Height; y++ {
		for x := 0; x < f.Width; x++ {
			if o, n := pixelBytes(f, x, y); i >= o && i < o+n {
				return fmt.Sprintf("pixel %d,%d", x, y)
			}
		}
	}
	if !f.Format.Packed() {
		for cy := 0; cy < (f.Height+1)/2; cy++ {
			for cx := 0; cx < (f.Width+1)/2; cx++ {
				for _, o := range chromaBytes(f, cx, cy) {
					if o == i {
						return fmt.Sprintf("chroma %d,%d", cx, cy)
					}
				}
			}
		}
	}
	return "padding"
}

func changed(f *frame.Frame, before []byte, x, y int) bool {
	o, n := pixelBytes(f, x, y)
	for k := range n {
		if f.Data[o+k] != before[o+k] {
			return true
		}
	}
	return false
}

func snapshot(f *frame.Frame) []byte { return append([]byte(nil), f.Data...) }

// expectedLabel restates the label rules from the spec: "<label> <score
// with 2 decimals>" plus " #<id>", on a (6n+3)s x 10s box whose bottom
// touches the box top, or inside the box when there is no room above,
// shifted left to stay in the frame.
func expectedLabel(f *frame.Frame, b rect, text string, scale int) rect {
	w, h := (6*len(text)+3)*scale, 10*scale
	x, y := b.x0, b.y0-h
	if y < 0 {
		y = max(b.y0, 0)
	}
	if x+w > f.Width {
		x = f.Width - w
	}
	x = max(x, 0)
	return rect{x, y, x + w, y + h}
}

// TestDetectionChangesOnlyNearBox is the acceptance test: for every format
// and layout, every source style and a few placements, the pixels on the
// box edges change and nothing else changes except the label — checked over
// every byte of the buffer, padding and all planes included.
func TestDetectionChangesOnlyNearBox(t *testing.T) {
	// near is the slack around box and label: chroma subsampling may reach one
	// pixel further. This is stricter than the acceptance criterion
	// (thickness + label height + margin), so it implies it.
	const near = 2
	p := NewPainter()
	placements := []struct {
		name string
		box  rect
	}{
		{"middle", rect{41, 51, 201, 181}},
		{"top edge", rect{10, 3, 120, 90}}, // no room above: label inside
		{"right edge", rect{250, 100, 400, 200}},
		{"bottom-left corner", rect{-20, 150, 60, 300}},
	}
	for _, fm := range frame.Formats() {
		for _, l := range layouts(fm) {
			for _, src := range []detection.Source{detection.SourceEdge, detection.SourceTracked, detection.SourceCloud} {
				for _, pl := range placements {
					for _, th := range []int{1, 3} {
						name := fmt.Sprintf("%s/%s/%s/%s/t%d", fm, l.name, src, pl.name, th)
						f := l.f
						background(&f)
						before := snapshot(&f)
						d := detection.Detection{
							Box:   detection.Rect{X1: float32(pl.box.x0), Y1: float32(pl.box.y0), X2: float32(pl.box.x1), Y2: float32(pl.box.y1)},
							Class: 0, Score: 0.87, Source: src, TrackID: 12,
						}
						p.Detection(&f, &d, "person", th)

						lab := expectedLabel(&f, pl.box, "person 0.87 #12", 1)
						allowed := mayChange(&f, func(x, y int) bool {
							return pl.box.grow(near).has(x, y) || lab.grow(near).has(x, y)
						})
						checkUnchanged(t, &f, before, allowed)

						// Box edges, where visible and not under the label.
						b := pl.box
						onEdge, hit := 0, 0
						for y := max(b.y0, 0); y < min(b.y1, f.Height); y++ {
							for x := max(b.x0, 0); x < min(b.x1, f.Width); x++ {
								if (x != b.x0 && x != b.x1-1 && y != b.y0 && y != b.y1-1) || lab.has(x, y) {
									continue
								}
								onEdge++
								if changed(&f, before, x, y) {
									hit++
								}
								// Solid edges also carry the colour's chroma, in
								// every sample an edge pixel falls in.
								if !fm.Packed() && src != detection.SourceTracked {
									wu, wv := chroma601(ClassColor(d.Class))
									cb := chromaBytes(&f, x/2, y/2)
									if u, v := f.Data[cb[0]], f.Data[cb[1]]; !within(u, wu, 2) || !within(v, wv, 2) {
										t.Fatalf("%s: chroma at pixel %d,%d = %d,%d, want %.0f,%.0f", name, x, y, u, v, wu, wv)
									}
								}
							}
						}
						switch {
						case onEdge == 0:
							t.Fatalf("%s: test box has no visible edge", name)
						case src != detection.SourceTracked && hit != onEdge:
							t.Errorf("%s: %d of %d edge pixels changed, want all", name, hit, onEdge)
						case src == detection.SourceTracked && (hit == onEdge || hit < onEdge/2):
							t.Errorf("%s: dashed outline changed %d of %d edge pixels, want most but not all", name, hit, onEdge)
						}
						// The label background is painted (its padding corner is never a glyph pixel).
						if !changed(&f, before, lab.x0, lab.y0) || !changed(&f, before, lab.x1-1, lab.y1-1) {
							t.Errorf("%s: label box corners at %v not painted", name, lab)
						}
						if t.Failed() {
							t.FailNow()
						}
					}
				}
			}
		}
	}
}

// luma601 is BT.601 limited-range luma from the defining formula.
func luma601(c Color) float64 {
	return 16 + (65.481*float64(c.R)+128.553*float64(c.G)+24.966*float64(c.B))/255
}

func chroma601(c Color) (u, v float64) {
	r, g, b := float64(c.R), float64(c.G), float64(c.B)
	return 128 + (-37.797*r-74.203*g+112*b)/255, 128 + (112*r-93.786*g-18.214*b)/255
}

func within(got uint8, want float64, tol float64) bool { return math.Abs(float64(got)-want) <= tol }

func TestEdgeColour(t *testing.T) {
	p := NewPainter()
	for _, fm := range frame.Formats() {
		for class := range 25 {
			c := ClassColor(class)
			f := padded(fm, 321, 241)
			background(&f)
			// Thick enough that chroma samples lie wholly inside the top stroke.
			p.Rect(&f, detection.Rect{X1: 40, Y1: 50, X2: 200, Y2: 180}, c, Solid, 4)
			for _, xy := range [][2]int{{40, 50}, {199, 179}, {120, 51}, {41, 120}} {
				o, n := pixelBytes(&f, xy[0], xy[1])
				if fm.Packed() {
					ro, g, b := fm.RGBOffsets()
					got := Color{f.Data[o+ro], f.Data[o+g], f.Data[o+b]}
					if got != c {
						t.Fatalf("%s class %d: pixel %v = %v, want %v", fm, class, xy, got, c)
					}
					if n == 4 && f.Data[o+6-ro-g-b] != 0xFF {
						t.Fatalf("%s: x/alpha byte = %#x, want 0xff", fm, f.Data[o+6-ro-g-b])
					}
					continue
				}
				if y := f.Data[o]; !within(y, luma601(c), 2) {
					t.Fatalf("%s class %d %v: Y = %d, want %.1f±2", fm, class, c, y, luma601(c))
				}
			}
			if !fm.Packed() {
				wu, wv := chroma601(c)
				cb := chromaBytes(&f, 60, 26) // pixels 120-121 x 52-53: inside the top stroke
				if u, v := f.Data[cb[0]], f.Data[cb[1]]; !within(u, wu, 2) || !within(v, wv, 2) {
					t.Fatalf("%s class %d %v: U,V = %d,%d, want %.1f,%.1f ±2", fm, class, c, u, v, wu, wv)
				}
			}
		}
	}
}

func TestYUVRange(t *testing.T) {
	for _, c := range []Color{{}, {255, 255, 255}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {0, 255, 255}, {255, 0, 255}} {
		y, u, v := YUV(c)
		wu, wv := chroma601(c)
		if !within(y, luma601(c), 1) || !within(u, wu, 1) || !within(v, wv, 1) {
			t.Errorf("YUV(%v) = %d,%d,%d, want %.1f,%.1f,%.1f", c, y, u, v, luma601(c), wu, wv)
		}
	}
}

// TestStylesDiffer: solid fills an edge, dashed leaves gaps along it, and the
// cloud style paints corner brackets inside the box that solid does not.
func TestStylesDiffer(t *testing.T) {
	p := NewPainter()
	const th = 2
	draw := func(s Style) (frame.Frame, []byte) {
		f := frame.Alloc(frame.BGRx, 200, 200)
		background(&f)
		before := snapshot(&f)
		p.Rect(&f, detection.Rect{X1: 20, Y1: 20, X2: 180, Y2: 180}, ClassColor(3), s, th)
		return f, before
	}
	edgeHits := func(f *frame.Frame, before []byte) (top, left int) {
		for i := 20; i < 180; i++ {
			if changed(f, before, i, 20) {
				top++
			}
			if changed(f, before, 20, i) {
				left++
			}
		}
		return
	}
	sf, sb := draw(Solid)
	df, db := draw(Dashed)
	cf, cb := draw(Corners)
	if top, left := edgeHits(&sf, sb); top != 160 || left != 160 {
		t.Errorf("solid: %d/%d top and left edge pixels drawn, want 160/160", top, left)
	}
	if top, left := edgeHits(&df, db); top >= 140 || left >= 140 || top < 80 || left < 80 {
		t.Errorf("dashed: %d/%d top and left edge pixels drawn, want dashes with gaps", top, left)
	}
	gaps := 0
	for x := 21; x < 180; x++ {
		if changed(&df, db, x-1, 20) && !changed(&df, db, x, 20) {
			gaps++
		}
	}
	if gaps < 5 {
		t.Errorf("dashed: %d gaps along the top edge, want several", gaps)
	}
	for _, c := range [][2]int{{20, 20}, {179, 20}, {20, 179}, {179, 179}} {
		if !changed(&df, db, c[0], c[1]) {
			t.Errorf("dashed: corner %v not drawn", c)
		}
	}
	if top, left := edgeHits(&cf, cb); top != 160 || left != 160 {
		t.Errorf("corners: %d/%d top and left edge pixels drawn, want 160/160", top, left)
	}
	for _, in := range [][2]int{{20 + th + 1, 20 + th + 1}, {179 - th - 1, 179 - th - 1}, {20 + th + 1, 179 - th - 1}, {179 - th - 1, 20 + th + 1}} {
		if !changed(&cf, cb, in[0], in[1]) || changed(&sf, sb, in[0], in[1]) {
			t.Errorf("corner marker pixel %v: cloud style should paint it and solid should not", in)
		}
	}
	if changed(&cf, cb, 100, 20+th+1) || changed(&cf, cb, 100, 100) {
		t.Error("corners style painted the middle of an edge's inside or the box interior")
	}
	if StyleFor(detection.SourceEdge) != Solid || StyleFor(detection.SourceTracked) != Dashed ||
		StyleFor(detection.SourceCloud) != Corners || StyleFor(detection.Source(9)) != Solid {
		t.Error("StyleFor does not map edge/tracked/cloud to solid/dashed/corners")
	}
}

// TestClipping: boxes and text partly or wholly outside the frame, negative,
// inverted, degenerate, huge or NaN coordinates never panic, never write
// outside the image, and draw nothing when they miss the frame.
func TestClipping(t *testing.T) {
	p := NewPainter()
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	cases := []struct {
		r      detection.Rect
		inside bool // some of its outline is visible
		covers bool // no visible outline, but it covers the frame: Detection still labels it
	}{
		{detection.Rect{X1: -50, Y1: -30, X2: 100, Y2: 80}, true, false},
		{detection.Rect{X1: 250, Y1: 200, X2: 400, Y2: 300}, true, false},
		{detection.Rect{X1: -1e9, Y1: -1e9, X2: 1e9, Y2: 1e9}, false, true}, // edges all off-frame
		{detection.Rect{X1: -inf, Y1: 10, X2: inf, Y2: 20}, true, false},
		{detection.Rect{X1: -100, Y1: -100, X2: -10, Y2: -10}, false, false},
		{detection.Rect{X1: 400, Y1: 10, X2: 500, Y2: 50}, false, false},
		{detection.Rect{X1: 10, Y1: 300, X2: 50, Y2: 400}, false, false},
		{detection.Rect{X1: 0, Y1: -20, X2: 321, Y2: 0}, false, false},
		{detection.Rect{X1: 100, Y1: 100, X2: 50, Y2: 150}, false, false},  // inverted
		{detection.Rect{X1: 100, Y1: 100, X2: 100, Y2: 150}, false, false}, // zero width
		{detection.Rect{X1: 100.2, Y1: 100, X2: 100.4, Y2: 150}, false, false},
		{detection.Rect{X1: nan, Y1: 0, X2: 10, Y2: 10}, false, false},
		{detection.Rect{X1: 320, Y1: 240, X2: 1000, Y2: 1000}, true, false}, // one pixel in the corner
		{detection.Rect{X1: 5, Y1: 5, X2: 6, Y2: 6}, true, false},           // single pixel
	}
	for _, fm := range frame.Formats() {
		f := padded(fm, 321, 241)
		background(&f)
		before := snapshot(&f)
		inImage := mayChange(&f, func(x, y int) bool { return true })
		for i, c := range cases {
			for _, s := range []Style{Solid, Dashed, Corners, Style(7)} {
				copy(f.Data, before)
				p.Rect(&f, c.r, ClassColor(i), s, 5)
				if c.inside {
					checkUnchanged(t, &f, before, inImage)
				} else {
					checkUnchanged(t, &f, before, nil)
				}
			}
			for _, src := range []detection.Source{detection.SourceEdge, detection.SourceTracked, detection.SourceCloud} {
				copy(f.Data, before)
				p.Detection(&f, &detection.Detection{Box: c.r, Class: i, Score: 0.5, Source: src, TrackID: i}, "a fairly long label that will not fit", 9)
				if c.inside || c.covers {
					checkUnchanged(t, &f, before, inImage)
				} else {
					checkUnchanged(t, &f, before, nil)
				}
			}
			if t.Failed() {
				t.Fatalf("%s: case %d %+v", fm, i, c.r)
			}
		}
		// The visible part of a partly outside box is drawn.
		copy(f.Data, before)
		p.Rect(&f, detection.Rect{X1: -50, Y1: -30, X2: 100, Y2: 80}, ClassColor(1), Solid, 1)
		for y := 0; y < 80; y++ {
			if !changed(&f, before, 99, y) {
				t.Fatalf("%s: right edge of a clipped box not drawn at y=%d", fm, y)
			}
		}
		// Text hanging off every side, and at absurd positions.
		for _, xy := range [][2]int{{-7, -3}, {310, 230}, {-1000, 5}, {5, 1000}, {math.MinInt, math.MinInt}, {math.MaxInt, math.MaxInt}, {math.MinInt, 0}, {0, math.MaxInt}} {
			copy(f.Data, before)
			p.Text(&f, xy[0], xy[1], "Clip me: 0.99 #7\x00\xff", Color{0, 0, 0}, Color{255, 255, 255}, 2)
			checkUnchanged(t, &f, before, inImage)
		}
		copy(f.Data, before)
		p.Text(&f, -1000, 5, "far left", Color{}, Color{255, 255, 255}, 1)
		p.Text(&f, 5, 1000, "far below", Color{}, Color{255, 255, 255}, 1)
		checkUnchanged(t, &f, before, nil)
		copy(f.Data, before)
		p.Text(&f, -20, 0, "XXXXXXXXXX", Color{}, Color{255, 255, 255}, 1)
		if !changed(&f, before, 0, 0) || !changed(&f, before, 30, 9) || changed(&f, before, 0, 10) {
			t.Errorf("%s: text clipped at the left edge drawn wrongly", fm)
		}
	}
}

// TestBadFrames: frames whose planes do not fit their buffer are left alone.
func TestBadFrames(t *testing.T) {
	p := NewPainter()
	d := detection.Detection{Box: detection.Rect{X1: 1, Y1: 1, X2: 30, Y2: 30}, Score: 1}
	good := frame.Alloc(frame.I420, 64, 48)
	bad := []frame.Frame{
		{},
		{Format: frame.FormatUnknown, Width: 10, Height: 10, Data: make([]byte, 1000), Stride: [3]int{40}},
		{Format: frame.BGRx, Width: 10, Height: 10, Data: make([]byte, 399), Stride: [3]int{40}},
		{Format: frame.BGRx, Width: 10, Height: 10, Data: make([]byte, 400), Stride: [3]int{39}},
		{Format: frame.BGRx, Width: 10, Height: 10, Data: make([]byte, 400), Stride: [3]int{40}, Offset: [3]int{-4}},
		{Format: frame.BGRx, Width: 10, Height: 10, Data: make([]byte, 400), Stride: [3]int{math.MaxInt}},
		{Format: frame.RGB, Width: -5, Height: 10, Data: make([]byte, 400), Stride: [3]int{30}},
		{Format: frame.RGB, Width: math.MaxInt / 2, Height: 10, Data: make([]byte, 400), Stride: [3]int{30}},
		{Format: frame.I420, Width: 64, Height: 48, Data: good.Data[:len(good.Data)-1], Offset: good.Offset, Stride: good.Stride},
		{Format: frame.NV12, Width: 64, Height: 48, Data: good.Data, Offset: good.Offset, Stride: good.Stride}, // UV plane too short
	}
	for i := range bad {
		f := &bad[i]
		before := snapshot(f)
		p.Rect(f, d.Box, Color{255, 0, 0}, Solid, 2)
		p.Text(f, 0, 0, "x", Color{}, Color{255, 0, 0}, 1)
		p.Detection(f, &d, "x", 2)
		checkUnchanged(t, f, before, nil)
	}
	p.Detection(nil, &d, "x", 2)
	p.Detection(&good, nil, "x", 2)
	p.Rect(nil, d.Box, Color{}, Solid, 1)
	p.Text(nil, 0, 0, "x", Color{}, Color{}, 1)
}

func TestFont(t *testing.T) {
	seen := map[[glyphH]uint8]rune{}
	for c := rune(firstGlyph); c <= lastGlyph; c++ {
		g := font5x8[c-firstGlyph]
		empty := true
		for _, row := range g {
			if row >= 1<<glyphW {
				t.Errorf("glyph %q has bits outside its %d columns", c, glyphW)
			}
			if row != 0 {
				empty = false
			}
		}
		if empty != (c == ' ') {
			t.Errorf("glyph %q: empty = %v", c, empty)
		}
		if (c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') && g[glyphH-1] != 0 {
			t.Errorf("glyph %q uses the descender row", c)
		}
		if prev, dup := seen[g]; dup {
			t.Errorf("glyphs %q and %q are identical", prev, c)
		}
		seen[g] = c
	}
	// The rectangle form draws exactly the bitmap, each pixel once.
	p := NewPainter()
	for c := range rune(numGlyphs) {
		var got [glyphH]uint8
		g := &p.glyphs[c]
		for _, r := range g.rects[:g.n] {
			for y := r.y; y < r.y+r.h; y++ {
				for x := r.x; x < r.x+r.w; x++ {
					bit := uint8(1) << (glyphW - 1 - x)
					if got[y]&bit != 0 {
						t.Errorf("glyph %q: pixel %d,%d covered twice", c+firstGlyph, x, y)
					}
					got[y] |= bit
				}
			}
		}
		if got != font5x8[c] {
			t.Errorf("glyph %q: rectangles draw %x, want %x", c+firstGlyph, got, font5x8[c])
		}
	}
}

// TestTextPixels renders every glyph between two others, at scale 1 and 2,
// at odd and even origins and clipped by the frame corner, and compares
// each pixel (and, for YUV, each chroma sample) with the bitmap: bit order,
// orientation, scaling and clipping are right, and nothing outside the label
// box changes.
func TestTextPixels(t *testing.T) {
	p := NewPainter()
	fg, bg := Color{255, 255, 255}, Color{0, 0, 255}
	fy, fu, fv := YUV(fg)
	by, bu, bv := YUV(bg)
	for _, fm := range []frame.Format{frame.RGB, frame.XBGR, frame.I420, frame.NV12} {
		for _, s := range []int{1, 2} {
			for _, org := range [][2]int{{3, 4}, {4, 3}, {-9, -5}} {
				for c := byte(firstGlyph); c <= lastGlyph; c++ {
					text := string([]byte{c, '%', c})
					ox, oy := org[0], org[1]
					f := padded(fm, 61, 31)
					background(&f)
					before := snapshot(&f)
					p.Text(&f, ox, oy, text, fg, bg, s)
					w, h := TextSize(text, s)
					if w != (6*len(text)+3)*s || h != 10*s || LabelHeight(s) != h {
						t.Fatalf("TextSize(%q, %d) = %dx%d", text, s, w, h)
					}
					name := fmt.Sprintf("%s %q scale %d at %v", fm, text, s, org)
					inBox := func(x, y int) bool { return x >= ox && x < ox+w && y >= oy && y < oy+h }
					ink := func(x, y int) bool {
						gx, gy := (x-ox)/s-padLeft, (y-oy)/s-padTop
						if !inBox(x, y) || gx < 0 || gy < 0 || gy >= glyphH || gx%advance >= glyphW || gx/advance >= len(text) {
							return false
						}
						return font5x8[text[gx/advance]-firstGlyph][gy]&(1<<(glyphW-1-gx%advance)) != 0
					}
					for y := 0; y < f.Height; y++ {
						for x := 0; x < f.Width; x++ {
							o, _ := pixelBytes(&f, x, y)
							var isFg, isBg bool
							if fm.Packed() {
								ro, _, _ := fm.RGBOffsets()
								isFg, isBg = f.Data[o+ro] == 255, f.Data[o+ro] == 0
							} else {
								isFg, isBg = f.Data[o] == fy, f.Data[o] == by
							}
							switch {
							case !inBox(x, y):
								if changed(&f, before, x, y) {
									t.Fatalf("%s: pixel %d,%d outside the label changed", name, x, y)
								}
							case ink(x, y) != isFg || ink(x, y) == isBg:
								t.Fatalf("%s: pixel %d,%d ink=%v but fg=%v bg=%v", name, x, y, ink(x, y), isFg, isBg)
							}
						}
					}
					if fm.Packed() {
						continue
					}
					for cy := 0; cy < (f.Height+1)/2; cy++ {
						for cx := 0; cx < (f.Width+1)/2; cx++ {
							in, inked := false, false
							for _, d := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
								x, y := 2*cx+d[0], 2*cy+d[1]
								in = in || inBox(x, y)
								inked = inked || ink(x, y)
							}
							cb := chromaBytes(&f, cx, cy)
							u, v := f.Data[cb[0]], f.Data[cb[1]]
							switch {
							case !in && (u != before[cb[0]] || v != before[cb[1]]):
								t.Fatalf("%s: chroma %d,%d outside the label changed", name, cx, cy)
							case in && inked && (u != fu || v != fv):
								t.Fatalf("%s: chroma %d,%d under ink is %d,%d, want fg %d,%d", name, cx, cy, u, v, fu, fv)
							case in && !inked && (u != bu || v != bv):
								t.Fatalf("%s: chroma %d,%d is %d,%d, want bg %d,%d", name, cx, cy, u, v, bu, bv)
							}
						}
					}
				}
			}
		}
	}
	if w, h := TextSize("", 1); w != 0 || h != 0 {
		t.Errorf("TextSize of empty text = %dx%d", w, h)
	}
}

func TestLabelText(t *testing.T) {
	cases := []struct {
		d     detection.Detection
		label string
		want  string
	}{
		{detection.Detection{Score: 0.87, TrackID: 12}, "person", "person 0.87 #12"},
		{detection.Detection{Score: 0.874999}, "car", "car 0.87"},
		{detection.Detection{Score: 0.875}, "car", "car 0.88"},
		{detection.Detection{Score: 1}, "car", "car 1.00"},
		{detection.Detection{Score: 3}, "car", "car 1.00"},
		{detection.Detection{Score: -1}, "car", "car 0.00"},
		{detection.Detection{Score: float32(math.NaN())}, "car", "car 0.00"},
		{detection.Detection{Score: 0.05, TrackID: 1234}, "dog", "dog 0.05 #1234"},
		{detection.Detection{Score: 0.5, TrackID: detection.CloudTrackIDBase + 7}, "car", "car 0.50 #c7"},
		{detection.Detection{Class: 17, Score: 0.5}, "", "17 0.50"},
		{detection.Detection{Class: -3, Score: 0.5, TrackID: -1}, "", "-3 0.50"},
		{detection.Detection{Class: math.MinInt, Score: 0.5}, "", fmt.Sprint(math.MinInt) + " 0.50"},
	}
	for _, c := range cases {
		if got := string(appendLabel(nil, &c.d, c.label)); got != c.want {
			t.Errorf("label for %+v %q = %q, want %q", c.d, c.label, got, c.want)
		}
	}
}

func TestClassColor(t *testing.T) {
	seen := map[Color]int{}
	for i := range len(palette) {
		c := ClassColor(i)
		if j, dup := seen[c]; dup {
			t.Errorf("classes %d and %d share colour %v", j, i, c)
		}
		seen[c] = i
		if max(c.R, c.G, c.B) < 0xC0 {
			t.Errorf("class %d colour %v is not bright", i, c)
		}
		if ClassColor(i+len(palette)) != c || ClassColor(i-len(palette)) != c {
			t.Errorf("class %d colour does not cycle", i)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	for _, fm := range []frame.Format{frame.BGRx, frame.RGB, frame.I420, frame.NV12} {
		f := frame.Alloc(fm, 640, 480)
		p := NewPainter()
		dets := testDetections(640, 480)
		allocs := testing.AllocsPerRun(20, func() {
			for i := range dets {
				p.Detection(&f, &dets[i], cocoNames[dets[i].Class%len(cocoNames)], 2)
			}
			p.Text(&f, 5, 5, "fps 29.97", Color{}, Color{255, 255, 255}, 2)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per frame, want 0", fm, allocs)
		}
	}
}

var cocoNames = []string{"person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light"}

// testDetections is 20 detections spread over a w x h frame, all sources,
// some tracked, one hanging off the edge.
func testDetections(w, h int) []detection.Detection {
	dets := make([]detection.Detection, 20)
	for i := range dets {
		x := float32(w) * float32(i%5) / 5
		y := float32(h) * float32(i/5) / 4
		dets[i] = detection.Detection{
			Box:     detection.Rect{X1: x + 10, Y1: y + 30, X2: x + float32(w)/6, Y2: y + float32(h)/5},
			Class:   i * 7 % 80,
			Score:   0.3 + float32(i)/40,
			Source:  detection.Source(i % 3),
			TrackID: i % 4 * 11,
		}
	}
	dets[19].Box = detection.Rect{X1: float32(w) - 50, Y1: float32(h) - 40, X2: float32(w) + 60, Y2: float32(h) + 80}
	return dets
}

// BenchmarkDetections draws 20 labelled detections on a 1080p frame, the
// per-frame work of reactoverlay on a busy scene.
func BenchmarkDetections(b *testing.B) {
	for _, fm := range []frame.Format{frame.BGRx, frame.I420} {
		b.Run(fm.String(), func(b *testing.B) {
			f := frame.Alloc(fm, 1920, 1080)
			p := NewPainter()
			dets := testDetections(1920, 1080)
			b.ReportAllocs()
			for b.Loop() {
				for i := range dets {
					p.Detection(&f, &dets[i], cocoNames[dets[i].Class%len(cocoNames)], 3)
				}
			}
		})
	}
}
