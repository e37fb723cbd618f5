package eval

import (
	"cmp"
	"fmt"
	"image/png"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/gst-react/gst-react/internal/chart"
	"github.com/gst-react/gst-react/internal/draw"
)

// TunePlotWidth and TunePlotHeight are the size of WriteTunePlot's PNG.
const (
	TunePlotWidth  = 1000
	TunePlotHeight = 640
)

var (
	colOut     = draw.Color{R: 170, G: 170, B: 170} // outside the budget
	colIn      = draw.Color{R: 0x2c, G: 0xa0, B: 0x2c}
	colPareto  = draw.Color{R: 0x1f, G: 0x77, B: 0xb4}
	colChosen  = draw.Color{R: 0xd6, G: 0x27, B: 0x28}
	colBudgetL = draw.Color{R: 0xff, G: 0x7f, B: 0x0e}
)

// WriteTunePlot draws tune's candidates as a PNG of TunePlotWidth x
// TunePlotHeight: fused mAP@0.5 against uplink, one dot per candidate
// (green within the budget, grey outside), a blue ring around the points on
// the Pareto front of all costs, the accuracy-against-uplink front as a
// staircase (the best accuracy for at most that uplink), the uplink budget
// as a dashed line, and chosen (nil: none fits) in red with its k and m.
// Deterministic output.
func WriteTunePlot(w io.Writer, cs []Candidate, chosen *Candidate, b Budget, title string) error {
	if len(cs) == 0 {
		return fmt.Errorf("tune: nothing to plot")
	}
	W, H := TunePlotWidth, TunePlotHeight
	c := chart.NewCanvas(W, H, chart.White)
	c.Text(12, 8, title, chart.Ink, chart.White, 2)
	L, R, T, B := 70, W-24, 52, H-84

	maxX, maxY := 0.0, 0.0
	for _, p := range cs {
		maxX, maxY = max(maxX, p.UplinkKbps), max(maxY, 100*p.MAP50)
	}
	if b.MaxUplinkKbps > 0 {
		maxX = max(maxX, b.MaxUplinkKbps)
	}
	maxX, maxY = max(maxX, 1e-9)*1.05, max(maxY, 1e-9)*1.08
	xStep, yStep := chart.NiceStep(maxX, 10), chart.NiceStep(maxY, 8)
	right, top := math.Ceil(maxX/xStep-1e-9)*xStep, math.Ceil(maxY/yStep-1e-9)*yStep
	xpix := func(v float64) int { return L + int(math.Round(min(v, right)/right*float64(R-L))) }
	ypix := func(v float64) int { return B - int(math.Round(min(v, top)/top*float64(B-T))) }
	label := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for i := 0; float64(i)*yStep <= top+1e-9; i++ {
		v := float64(i) * yStep
		c.Line(L, ypix(v), R, ypix(v), 1, 0, chart.Grid)
		c.TextRight(L-4, ypix(v)-chart.TextHeight(1)/2, label(v), chart.Ink, chart.White, 1)
	}
	for i := 0; float64(i)*xStep <= right+1e-9; i++ {
		v := float64(i) * xStep
		c.Line(xpix(v), T, xpix(v), B, 1, 0, chart.Grid)
		c.TextCentered(xpix(v), B+6, label(v), chart.Ink, chart.White, 1)
	}
	c.TextCentered((L+R)/2, B+22, "uplink (kbit/s)", chart.Ink, chart.White, 1)
	c.Text(8, T-14, "fused mAP@0.5 (%)", chart.Ink, chart.White, 1)
	c.Line(L, T, L, B, 1, 0, chart.Axis)
	c.Line(L, B, R, B, 1, 0, chart.Axis)
	if b.MaxUplinkKbps > 0 {
		x := xpix(b.MaxUplinkKbps)
		c.Line(x, T, x, B, 2, 6, colBudgetL)
		text := "budget " + label(b.MaxUplinkKbps) + " kbit/s"
		if tx := x + 4; tx+chart.TextWidth(text, 1) < W {
			c.Text(tx, T+2, text, colBudgetL, chart.White, 1)
		} else {
			c.TextRight(x-4, T+2, text, colBudgetL, chart.White, 1)
		}
	}

	// The staircase: walking up in uplink, each point more accurate than
	// every cheaper one is on the accuracy-against-uplink front.
	byUplink := slices.Clone(cs)
	slices.SortStableFunc(byUplink, func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(a.UplinkKbps, b.UplinkKbps), -cmp.Compare(a.MAP50, b.MAP50))
	})
	best, px, py := -1.0, -1, -1
	for _, p := range byUplink {
		if p.MAP50 <= best {
			continue
		}
		x, y := xpix(p.UplinkKbps), ypix(100*p.MAP50)
		if px >= 0 {
			c.Line(px, py, x, py, 2, 0, chart.Ink)
			c.Line(x, py, x, y, 2, 0, chart.Ink)
		}
		best, px, py = p.MAP50, x, y
	}
	if px >= 0 {
		c.Line(px, py, R, py, 2, 0, chart.Ink)
	}
	for _, p := range cs {
		x, y := xpix(p.UplinkKbps), ypix(100*p.MAP50)
		if p.Pareto {
			c.Dot(x, y, 12, colPareto)
			c.Dot(x, y, 8, chart.White)
		}
		col := colOut
		if p.InBudget {
			col = colIn
		}
		c.Dot(x, y, 6, col)
	}
	if chosen != nil {
		x, y := xpix(chosen.UplinkKbps), ypix(100*chosen.MAP50)
		c.Dot(x, y, 14, colChosen)
		text := fmt.Sprintf("chosen k=%d m=%d", chosen.K, chosen.M)
		if chosen.ChangeThreshold != DefaultCloudConfig().ChangeThreshold {
			text += fmt.Sprintf(" change %g", chosen.ChangeThreshold)
		}
		tx := min(x+10, R-chart.TextWidth(text, 2))
		c.Text(tx, max(T, y-chart.TextHeight(2)-8), text, colChosen, chart.White, 2)
	}

	ly, x := H-44, 16
	for _, e := range []struct {
		name string
		col  draw.Color
		ring bool
	}{{"in budget", colIn, false}, {"over budget", colOut, false}, {"Pareto (all costs)", colPareto, true}, {"chosen", colChosen, false}} {
		if e.ring {
			c.Dot(x+8, ly+8, 12, e.col)
			c.Dot(x+8, ly+8, 8, chart.White)
		} else {
			c.Dot(x+8, ly+8, 10, e.col)
		}
		c.Text(x+20, ly, e.name, chart.Ink, chart.White, 2)
		x += 20 + chart.TextWidth(e.name, 2) + 24
	}
	c.Line(x, ly+8, x+28, ly+8, 2, 0, chart.Ink)
	c.Text(x+34, ly, "best per uplink", chart.Ink, chart.White, 2)
	return png.Encode(w, c.Image())
}
