package chart

import (
	"errors"
	"image/png"
	"io"
	"math"
	"strconv"
)

// Series is one line of a LineChart: a y value per x of the chart (NaN: no
// point there).
type Series struct {
	Name string
	Y    []float64
}

// Marker is a horizontal dashed line across the chart, e.g. an SLO.
type Marker struct {
	Name string
	Y    float64
}

// LineChart plots series over shared x values.
type LineChart struct {
	Title, XLabel, YLabel string
	X                     []float64 // ascending
	// LogX spaces x logarithmically (base 2 ticks at the x values), for
	// doubling steps such as 1, 2, 4, 8 edges.
	LogX    bool
	Series  []Series
	Markers []Marker
	Note    string // one line under the legend
}

// WritePNG draws the chart as a w x h PNG.
func (lc *LineChart) WritePNG(out io.Writer, w, h int) error {
	if len(lc.X) == 0 || len(lc.Series) == 0 {
		return errors.New("chart: nothing to plot")
	}
	for _, s := range lc.Series {
		if len(s.Y) != len(lc.X) {
			return errors.New("chart: series " + s.Name + " has " + strconv.Itoa(len(s.Y)) + " values for " + strconv.Itoa(len(lc.X)) + " x values")
		}
	}
	c := NewCanvas(w, h, White)
	c.Text(12, 8, lc.Title, Ink, White, 2)
	L, R, T, B := 70, w-24, 44, h-84
	maxY := 0.0
	for _, s := range lc.Series {
		for _, v := range s.Y {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				maxY = max(maxY, v)
			}
		}
	}
	for _, m := range lc.Markers {
		maxY = max(maxY, m.Y)
	}
	maxY = max(maxY, 1e-9) * 1.08
	step := NiceStep(maxY, 8)
	top := math.Ceil(maxY/step-1e-9) * step
	ypix := func(v float64) int { return B - int(math.Round(min(v, top)/top*float64(B-T))) }
	for i := 0; float64(i)*step <= top+1e-9; i++ {
		v := float64(i) * step
		y := ypix(v)
		c.Line(L, y, R, y, 1, 0, Grid)
		c.TextRight(L-4, y-TextHeight(1)/2, strconv.FormatFloat(v, 'g', 6, 64), Ink, White, 1)
	}
	xv := func(x float64) float64 {
		if lc.LogX {
			return math.Log2(max(x, 1e-9))
		}
		return x
	}
	x0, x1 := xv(lc.X[0]), xv(lc.X[len(lc.X)-1])
	if x1 == x0 {
		x0, x1 = x0-1, x1+1
	}
	pad := 0.04 * (x1 - x0)
	x0, x1 = x0-pad, x1+pad
	xpix := func(x float64) int { return L + int(math.Round((xv(x)-x0)/(x1-x0)*float64(R-L))) }
	for _, x := range lc.X {
		px := xpix(x)
		c.Line(px, T, px, B, 1, 0, Grid)
		c.TextCentered(px, B+6, strconv.FormatFloat(x, 'g', 6, 64), Ink, White, 1)
	}
	c.TextCentered((L+R)/2, B+22, lc.XLabel, Ink, White, 1)
	c.Text(8, T-16, lc.YLabel, Ink, White, 1)
	c.Line(L, T, L, B, 1, 0, Axis)
	c.Line(L, B, R, B, 1, 0, Axis)
	for _, m := range lc.Markers {
		y := ypix(m.Y)
		c.Line(L, y, R, y, 2, 6, Axis)
		c.TextRight(R-4, y-TextHeight(1)-3, m.Name, Ink, White, 1)
	}
	for i, s := range lc.Series {
		col := Palette[i%len(Palette)]
		prev := -1
		for j, v := range s.Y {
			if math.IsNaN(v) {
				prev = -1
				continue
			}
			if prev >= 0 {
				c.Line(xpix(lc.X[prev]), ypix(s.Y[prev]), xpix(lc.X[j]), ypix(v), 2, 0, col)
			}
			prev = j
		}
		for j, v := range s.Y {
			if !math.IsNaN(v) {
				c.Dot(xpix(lc.X[j]), ypix(v), 6, col)
			}
		}
	}
	ly, x := h-44, 16
	for i, s := range lc.Series {
		col := Palette[i%len(Palette)]
		c.Line(x, ly+8, x+28, ly+8, 3, 0, col)
		c.Dot(x+14, ly+8, 7, col)
		c.Text(x+34, ly, s.Name, Ink, White, 2)
		x += 34 + TextWidth(s.Name, 2) + 24
	}
	if lc.Note != "" {
		c.Text(16, h-18, lc.Note, Ink, White, 1)
	}
	return png.Encode(out, c.Image())
}

// NiceStep is a grid step of 1, 2, 2.5 or 5 times a power of ten that cuts
// span into at most about n divisions.
func NiceStep(span float64, n int) float64 {
	if !(span > 0) || n < 1 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}
