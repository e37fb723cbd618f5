package draw

import "github.com/gst-react/gst-react/internal/frame"

// Label box metrics in font pixels (multiplied by the scale): a glyph advances
// 6 columns (5 + 1 spacing); the box adds 2 columns left and 1 right (plus the
// last glyph's spacing) and 1 row above and below the 8-row glyph cell.
const (
	advance   = glyphW + 1
	padLeft   = 2
	padRight  = 1
	padTop    = 1
	padBottom = 1
	maxScale  = 8
)

// glyphRect is one filled rectangle of a glyph, in font pixels.
type glyphRect struct{ x, y, w, h uint8 }

// glyph is a glyph as a few rectangles: horizontal runs merged with identical
// runs in the rows below, so 'H' is 3 fills instead of 15 pixels. Drawing
// rectangles keeps the text cost per glyph small at any scale.
type glyph struct {
	n     uint8
	rects [glyphH * 3]glyphRect // a 5-bit row has at most 3 runs
}

func buildGlyphs(g *[numGlyphs]glyph) {
	for c := range font5x8 {
		rows := &font5x8[c]
		out := &g[c]
		var used [glyphH]uint8 // bits already covered by a merged rectangle
		for y := 0; y < glyphH; y++ {
			for x := 0; x < glyphW; {
				bit := uint8(1) << (glyphW - 1 - x)
				if rows[y]&bit == 0 || used[y]&bit != 0 {
					x++
					continue
				}
				// Horizontal run starting at x.
				var mask uint8
				w := 0
				for x+w < glyphW && rows[y]&(1<<(glyphW-1-x-w)) != 0 {
					mask |= 1 << (glyphW - 1 - x - w)
					w++
				}
				// Extend down while the next row has exactly this run.
				edges := func(r uint8) bool {
					left := x == 0 || r&(1<<(glyphW-x)) == 0
					right := x+w == glyphW || r&(1<<(glyphW-1-x-w)) == 0
					return r&mask == mask && left && right
				}
				h := 1
				for y+h < glyphH && edges(rows[y+h]) && used[y+h]&mask == 0 {
					used[y+h] |= mask
					h++
				}
				out.rects[out.n] = glyphRect{uint8(x), uint8(y), uint8(w), uint8(h)}
				out.n++
				x += w
			}
		}
	}
}

func clampScale(scale int) int { return min(max(scale, 1), maxScale) }

func textSize(n, scale int) (w, h int) {
	if n <= 0 {
		return 0, 0
	}
	s := clampScale(scale)
	return (padLeft + n*advance + padRight) * s, (padTop + glyphH + padBottom) * s
}

// TextSize is the size in pixels of the label box Text draws for text at scale
// (bytes count as characters; scale is clamped to 1..8). Empty text is 0x0.
func TextSize(text string, scale int) (w, h int) { return textSize(len(text), scale) }

// LabelHeight is the height in pixels of a label box at scale.
func LabelHeight(scale int) int {
	_, h := textSize(1, scale)
	return h
}

// Text draws text with its top-left label corner at (x, y): a filled bg box of
// TextSize, then the glyphs in fg, clipped to the frame. Bytes outside
// printable ASCII (32..126) are drawn as '?'. scale 1 suits SD video, 2 keeps
// labels readable on 1080p.
func (p *Painter) Text(f *frame.Frame, x, y int, text string, fg, bg Color, scale int) {
	if !usable(f) {
		return
	}
	fp, bp := makePen(f.Format, fg), makePen(f.Format, bg)
	drawText(p, f, x, y, text, &fp, &bp, clampScale(scale))
}

// drawText fills the label box, then each glyph's few rectangles over it. It
// is generic so Detection can draw its reused []byte label and Text a string
// without converting (which would allocate).
func drawText[S ~string | ~[]byte](p *Painter, f *frame.Frame, x, y int, text S, fg, bg *pen, s int) {
	w, h := textSize(len(text), s)
	if w == 0 || x >= f.Width || y >= f.Height || x <= -coordLimit || y <= -coordLimit || x+w <= 0 || y+h <= 0 {
		return
	}
	fill(f, bg, x, y, x+w, y+h)
	gx, gy := x+padLeft*s, y+padTop*s
	if skip := -gx / (advance * s); skip > 0 { // glyphs wholly left of the frame
		gx += skip * advance * s
		text = text[min(skip, len(text)):]
	}
	for i := 0; i < len(text) && gx < f.Width; i++ {
		c := text[i]
		if c < firstGlyph || c > lastGlyph {
			c = '?'
		}
		g := &p.glyphs[c-firstGlyph]
		for _, r := range g.rects[:g.n] {
			fill(f, fg, gx+int(r.x)*s, gy+int(r.y)*s, gx+int(r.x+r.w)*s, gy+int(r.y+r.h)*s)
		}
		gx += advance * s
	}
}
