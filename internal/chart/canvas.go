// Package chart draws simple charts into PNG images with the standard
// library only: an RGBA canvas with filled rectangles, lines (solid or
// dashed) and text in the overlay's built-in 5x8 font (internal/draw), and a
// line chart of series over a numeric x axis. `gstreact eval --plot` and
// `gstreact loadtest --plot` draw with it. Output is deterministic.
package chart

import (
	"image"

	"github.com/gst-react/gst-react/internal/draw"
	"github.com/gst-react/gst-react/internal/frame"
)

// Colours shared by the charts.
var (
	White = draw.Color{R: 255, G: 255, B: 255}
	Ink   = draw.Color{R: 20, G: 20, B: 20}
	Grid  = draw.Color{R: 225, G: 225, B: 225}
	Axis  = draw.Color{R: 90, G: 90, B: 90}
	// Palette is the colour of each series, in order (matplotlib's first four).
	Palette = []draw.Color{
		{R: 0x1f, G: 0x77, B: 0xb4}, // blue
		{R: 0xff, G: 0x7f, B: 0x0e}, // orange
		{R: 0x2c, G: 0xa0, B: 0x2c}, // green
		{R: 0xd6, G: 0x27, B: 0x28}, // red
	}
)

// Canvas draws on an RGBA image; text goes through a frame view of the same
// pixels, so the overlay's painter writes it.
type Canvas struct {
	img *image.RGBA
	fr  frame.Frame
	p   *draw.Painter
}

// NewCanvas is a w x h canvas filled with bg.
func NewCanvas(w, h int, bg draw.Color) *Canvas {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	c := &Canvas{img: img, p: draw.NewPainter(),
		fr: frame.Frame{Format: frame.RGBA, Width: w, Height: h, Data: img.Pix, Stride: [3]int{img.Stride}}}
	c.Fill(0, 0, w, h, bg)
	return c
}

// Image is what was drawn, for png.Encode.
func (c *Canvas) Image() *image.RGBA { return c.img }

// Fill paints the rectangle [x0,x1) x [y0,y1), clipped to the canvas.
func (c *Canvas) Fill(x0, y0, x1, y1 int, col draw.Color) {
	r := image.Rect(x0, y0, x1, y1).Intersect(c.img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := c.img.Pix[y*c.img.Stride:]
		for x := r.Min.X; x < r.Max.X; x++ {
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = col.R, col.G, col.B, 255
		}
	}
}

// Dot paints a t x t square centred on (x, y).
func (c *Canvas) Dot(x, y, t int, col draw.Color) {
	c.Fill(x-t/2, y-t/2, x-t/2+t, y-t/2+t, col)
}

// Line draws a Bresenham line with a square brush t pixels wide; dash > 0
// leaves gaps (dash pixels on, dash off).
func (c *Canvas) Line(x0, y0, x1, y1, t, dash int, col draw.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for i := 0; ; i++ {
		if dash <= 0 || (i/dash)%2 == 0 {
			c.Dot(x0, y0, t, col)
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// TextWidth and TextHeight are the size of s in the built-in font at scale.
func TextWidth(s string, scale int) int { w, _ := draw.TextSize(s, scale); return w }
func TextHeight(scale int) int          { return draw.LabelHeight(scale) }

// Text draws s with its box's top-left at (x, y) on background bg.
func (c *Canvas) Text(x, y int, s string, fg, bg draw.Color, scale int) {
	c.p.Text(&c.fr, x, y, s, fg, bg, scale)
}

// TextCentered draws s centred on column cx.
func (c *Canvas) TextCentered(cx, y int, s string, fg, bg draw.Color, scale int) {
	c.Text(cx-TextWidth(s, scale)/2, y, s, fg, bg, scale)
}

// TextRight draws s ending at column rx.
func (c *Canvas) TextRight(rx, y int, s string, fg, bg draw.Color, scale int) {
	c.Text(rx-TextWidth(s, scale), y, s, fg, bg, scale)
}
