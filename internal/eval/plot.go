package eval

import (
	"cmp"
	"fmt"
	"image/png"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gst-react/gst-react/internal/chart"
	"github.com/gst-react/gst-react/internal/draw"
)

// Plot geometry: one row per sequence under a title, a legend at the bottom.
const (
	PlotWidth   = 1400
	plotTitleH  = 44
	plotRowH    = 440
	plotLegendH = 40
	chartRight  = 780 // the line chart takes x in [0, chartRight), heatmaps the rest
)

// PlotSize is the size of the PNG WritePlot draws for this many sequences.
func PlotSize(sequences int) (w, h int) {
	return PlotWidth, plotTitleH + max(1, sequences)*plotRowH + plotLegendH
}

var (
	colBG      = draw.Color{R: 255, G: 255, B: 255}
	colText    = draw.Color{R: 20, G: 20, B: 20}
	colGrid    = draw.Color{R: 225, G: 225, B: 225}
	colAxis    = draw.Color{R: 90, G: 90, B: 90}
	colSepK    = draw.Color{R: 200, G: 200, B: 200}
	colSepL    = draw.Color{R: 120, G: 120, B: 120}
	colMissing = draw.Color{R: 235, G: 235, B: 235}
	modeColor  = [3]draw.Color{
		{R: 0x1f, G: 0x77, B: 0xb4}, // edge-only: blue
		{R: 0xff, G: 0x7f, B: 0x0e}, // cloud-only: orange
		{R: 0x2c, G: 0xa0, B: 0x2c}, // fused: green
	}
	modeName = [3]string{"edge-only", "cloud-only", "fused"}
	viridis  = []draw.Color{{R: 68, G: 1, B: 84}, {R: 59, G: 82, B: 139}, {R: 33, G: 145, B: 140}, {R: 94, G: 201, B: 98}, {R: 253, G: 231, B: 37}}
)

// canvas is the shared PNG canvas (internal/chart) under the names the plot
// code below uses.
type canvas struct{ *chart.Canvas }

func newCanvas(w, h int) *canvas { return &canvas{chart.NewCanvas(w, h, colBG)} }

func (c *canvas) fill(x0, y0, x1, y1 int, col draw.Color) { c.Fill(x0, y0, x1, y1, col) }
func (c *canvas) dot(x, y, t int, col draw.Color)         { c.Dot(x, y, t, col) }
func (c *canvas) line(x0, y0, x1, y1, t, dash int, col draw.Color) {
	c.Line(x0, y0, x1, y1, t, dash, col)
}
func (c *canvas) text(x, y int, s string, fg, bg draw.Color, scale int) {
	c.Text(x, y, s, fg, bg, scale)
}
func (c *canvas) textCentered(cx, y int, s string, fg, bg draw.Color, scale int) {
	c.TextCentered(cx, y, s, fg, bg, scale)
}
func (c *canvas) textRight(rx, y int, s string, fg, bg draw.Color, scale int) {
	c.TextRight(rx, y, s, fg, bg, scale)
}

var textW, textH = chart.TextWidth, chart.TextHeight

// WritePlot draws the results as a PNG of PlotSize(number of sequences):
// per sequence, a line chart of mAP@0.5 of the three modes over the grid
// points (grouped by latency, then k, then m) and, per latency, an
// iso-accuracy map of fused mAP@0.5 over (k, m): cells coloured by value
// with iso-lines. With several fusion settings only the first one is drawn.
// Standard library only (image/png); deterministic output.
func WritePlot(w io.Writer, results []Result) error {
	if len(results) == 0 {
		return fmt.Errorf("eval: nothing to plot")
	}
	fp := results[0].FusionParams
	var seqs []string
	bySeq := map[string][]Result{}
	for _, r := range results {
		if r.FusionParams != fp {
			continue
		}
		// One row per sequence and reference; a cloud row's scores are
		// agreement with the cloud model, and its title says so.
		row := r.Sequence
		if r.Reference == ReferenceCloud {
			row += " vs cloud"
		}
		if _, ok := bySeq[row]; !ok {
			seqs = append(seqs, row)
		}
		bySeq[row] = append(bySeq[row], r)
	}
	W, H := PlotSize(len(seqs))
	c := newCanvas(W, H)
	c.text(12, 8, "gstreact eval: mAP@0.5 of REACT edge-only, cloud-only and fused output", colText, colBG, 2)
	for i, s := range seqs {
		y0 := plotTitleH + i*plotRowH
		c.line(0, y0, W-1, y0, 1, 0, colGrid)
		rs := slices.Clone(bySeq[s])
		slices.SortStableFunc(rs, func(a, b Result) int {
			return cmp.Or(cmp.Compare(a.LatencyMS, b.LatencyMS), cmp.Compare(a.K, b.K), cmp.Compare(a.M, b.M))
		})
		c.chart(0, y0, chartRight, y0+plotRowH, s, rs)
		c.heatmaps(chartRight, y0, W, y0+plotRowH, rs)
	}
	// Legend.
	ly := H - plotLegendH + 10
	x := 16
	for m := range 3 {
		c.line(x, ly+8, x+28, ly+8, 3, 0, modeColor[m])
		c.dot(x+14, ly+8, 7, modeColor[m])
		c.text(x+34, ly, modeName[m], colText, colBG, 2)
		x += 34 + textW(modeName[m], 2) + 24
	}
	note := fmt.Sprintf("fusion: %s | maps: one colour scale per row, black iso-lines join equal fused mAP@0.5 | rows without \"vs cloud\": person class vs ground truth; \"vs cloud\": agreement with the cloud model, not truth", fp)
	c.text(x+10, ly+4, note, colText, colBG, 1)
	return png.Encode(w, c.Image())
}

// niceStep picks a grid step giving about n divisions of span.
func niceStep(span float64, n int) float64 {
	for _, s := range []float64{0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5} {
		if span/s <= float64(n) {
			return s
		}
	}
	return 1
}

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) }

// chart draws the line chart of one sequence's results (sorted by latency,
// k, m) in the box (x0,y0)-(x1,y1).
func (c *canvas) chart(x0, y0, x1, y1 int, name string, rs []Result) {
	c.text(x0+12, y0+8, name+": mAP@0.5 (%) at each grid point", colText, colBG, 2)
	L, R, T, B := x0+56, x1-20, y0+40, y1-86
	maxV := 0.0
	for _, r := range rs {
		maxV = max(maxV, r.EdgeOnly.MAP50, r.CloudOnly.MAP50, r.Fused.MAP50)
	}
	step := niceStep(maxV*1.05, 8)
	top := math.Max(step, math.Ceil(maxV*1.05/step-1e-9)*step)
	ypix := func(v float64) int { return B - int(math.Round(v/top*float64(B-T))) }
	for i := 0; float64(i)*step <= top+1e-9; i++ {
		v := float64(i) * step
		y := ypix(v)
		c.line(L, y, R, y, 1, 0, colGrid)
		c.textRight(L-4, y-textH(1)/2, strconv.FormatFloat(math.Round(v*1e5)/1e3, 'f', -1, 64), colText, colBG, 1)
	}
	n := len(rs)
	xpix := func(i int) int { return L + int(math.Round((float64(i)+0.5)*float64(R-L)/float64(n))) }
	spacing := float64(R-L) / float64(n)
	// Group separators and labels: k groups inside latency groups.
	groupLabels := func(row int, same func(a, b Result) bool, label func(r Result) []string, sep draw.Color, sepBottom int) {
		for i := 0; i < n; {
			j := i
			for j+1 < n && same(rs[i], rs[j+1]) {
				j++
			}
			left := L + int(math.Round(float64(i)*spacing))
			right := L + int(math.Round(float64(j+1)*spacing))
			if i > 0 {
				c.line(left, T, left, sepBottom, 1, 0, sep)
			}
			for _, s := range label(rs[i]) {
				if textW(s, 1) <= right-left {
					c.textCentered((left+right)/2, B+6+row*17, s, colText, colBG, 1)
					break
				}
			}
			i = j + 1
		}
	}
	groupLabels(1, func(a, b Result) bool { return a.LatencyMS == b.LatencyMS && a.K == b.K },
		func(r Result) []string { return []string{"k=" + strconv.Itoa(r.K), strconv.Itoa(r.K)} }, colSepK, B+6+17)
	groupLabels(2, func(a, b Result) bool { return a.LatencyMS == b.LatencyMS },
		func(r Result) []string {
			return []string{"latency " + FormatLatency(r.LatencyMS), "L=" + FormatLatency(r.LatencyMS), FormatLatency(r.LatencyMS)}
		}, colSepL, B+6+2*17+12)
	fits := true
	var mvals []string
	for _, r := range rs {
		s := strconv.Itoa(r.M)
		fits = fits && float64(textW(s, 1)) <= spacing
		if !slices.Contains(mvals, s) {
			mvals = append(mvals, s)
		}
	}
	if fits {
		for i, r := range rs {
			c.textCentered(xpix(i), B+6, strconv.Itoa(r.M), colText, colBG, 1)
		}
		c.text(x0+4, B+6, "m", colText, colBG, 1)
	} else {
		c.textCentered((L+R)/2, B+6, "within each k group, left to right: m = "+strings.Join(mvals, ", "), colText, colBG, 1)
	}
	c.line(L, T, L, B, 1, 0, colAxis)
	c.line(L, B, R, B, 1, 0, colAxis)
	// Lines join the points of one (latency, k) group, where only m varies.
	for m := range 3 {
		val := func(r Result) float64 { return [3]float64{r.EdgeOnly.MAP50, r.CloudOnly.MAP50, r.Fused.MAP50}[m] }
		for i := range rs {
			if i > 0 && rs[i].LatencyMS == rs[i-1].LatencyMS && rs[i].K == rs[i-1].K {
				c.line(xpix(i-1), ypix(val(rs[i-1])), xpix(i), ypix(val(rs[i])), 2, 0, modeColor[m])
			}
		}
		for i, r := range rs {
			c.dot(xpix(i), ypix(val(r)), 5, modeColor[m])
		}
	}
}

// heatmaps draws one iso-accuracy map of fused mAP@0.5 over (k, m) per
// latency in the box (x0,y0)-(x1,y1).
func (c *canvas) heatmaps(x0, y0, x1, y1 int, rs []Result) {
	var lats []float64
	var ks, ms []int
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		if !slices.Contains(lats, r.LatencyMS) {
			lats = append(lats, r.LatencyMS)
		}
		if !slices.Contains(ks, r.K) {
			ks = append(ks, r.K)
		}
		if !slices.Contains(ms, r.M) {
			ms = append(ms, r.M)
		}
		lo, hi = min(lo, r.Fused.MAP50), max(hi, r.Fused.MAP50)
	}
	slices.Sort(lats)
	slices.Sort(ks)
	slices.Sort(ms)
	c.text(x0+8, y0+8, "iso-accuracy: fused mAP@0.5 (%) over (k, m)", colText, colBG, 2)
	step := niceStep(hi-lo, 5)
	var levels []float64
	for i := math.Floor(lo/step) + 1; i*step < hi-1e-9; i++ {
		if v := i * step; v > lo+1e-9 {
			levels = append(levels, v)
		}
	}
	if len(levels) > 0 {
		c.text(x0+8, y1-22, fmt.Sprintf("iso-lines every %s points; colour from %s (dark) to %s (yellow)", pct(step), pct(lo), pct(hi)), colText, colBG, 1)
	}
	panelW := (x1 - x0 - 8) / len(lats)
	top, bottom := y0+64, y1-60
	for li, lat := range lats {
		px0 := x0 + 8 + li*panelW
		cell := min((panelW-46)/len(ks), (bottom-top)/len(ms), 90)
		if cell < 4 {
			continue
		}
		gx0, gy0 := px0+36, top
		c.textCentered(gx0+cell*len(ks)/2, top-22, "latency "+FormatLatency(lat), colText, colBG, 1)
		val := make([][]float64, len(ms)) // [row m][col k], NaN where missing
		for mi := range ms {
			val[mi] = make([]float64, len(ks))
			for ki := range ks {
				val[mi][ki] = math.NaN()
			}
		}
		for _, r := range rs {
			if r.LatencyMS == lat {
				val[slices.Index(ms, r.M)][slices.Index(ks, r.K)] = r.Fused.MAP50
			}
		}
		for mi := range ms {
			for ki := range ks {
				x, y := gx0+ki*cell, gy0+mi*cell
				v := val[mi][ki]
				bg := colMissing
				if !math.IsNaN(v) {
					bg = heat(v, lo, hi)
				}
				c.fill(x, y, x+cell, y+cell, bg)
			}
		}
		// Iso-lines through the cell centres (marching squares), under the values.
		// A white halo first, then the black line, so both show on any colour.
		for _, pen := range [2]struct {
			t   int
			col draw.Color
		}{{4, colBG}, {2, colText}} {
			for _, lv := range levels {
				for mi := 0; mi+1 < len(ms); mi++ {
					for ki := 0; ki+1 < len(ks); ki++ {
						c.isoSquare(val, mi, ki, lv, gx0+cell/2, gy0+cell/2, cell, pen.t, pen.col)
					}
				}
			}
		}
		for mi := range ms {
			for ki := range ks {
				x, y := gx0+ki*cell, gy0+mi*cell
				v := val[mi][ki]
				if math.IsNaN(v) || cell < textW("00.0", 1) {
					continue
				}
				bg := heat(v, lo, hi)
				fg := colText
				if int(bg.R)*299+int(bg.G)*587+int(bg.B)*114 < 128000 {
					fg = colBG
				}
				c.textCentered(x+cell/2, y+cell/2-textH(1)/2, pct(v), fg, bg, 1)
			}
		}
		for ki, k := range ks {
			c.textCentered(gx0+ki*cell+cell/2, gy0+len(ms)*cell+3, strconv.Itoa(k), colText, colBG, 1)
		}
		c.textCentered(gx0+len(ks)*cell/2, gy0+len(ms)*cell+18, "k", colText, colBG, 1)
		for mi, m := range ms {
			c.textRight(gx0-3, gy0+mi*cell+cell/2-textH(1)/2, strconv.Itoa(m), colText, colBG, 1)
		}
		c.text(gx0-30, gy0-12, "m", colText, colBG, 1)
	}
}

// isoSquare draws the part of the level-lv iso-line inside the square whose
// corners are the centres of cells (mi,ki), (mi,ki+1), (mi+1,ki+1), (mi+1,ki).
func (c *canvas) isoSquare(val [][]float64, mi, ki int, lv float64, ox, oy, cell, t int, col draw.Color) {
	// Corners clockwise from top-left, as (x, y) in cell units.
	cx := [4]float64{0, 1, 1, 0}
	cy := [4]float64{0, 0, 1, 1}
	v := [4]float64{val[mi][ki], val[mi][ki+1], val[mi+1][ki+1], val[mi+1][ki]}
	for _, x := range v {
		if math.IsNaN(x) {
			return
		}
	}
	var px, py [4]float64
	var on [4]bool
	for e := range 4 {
		a, b := e, (e+1)%4
		if (v[a] >= lv) != (v[b] >= lv) {
			t := (lv - v[a]) / (v[b] - v[a])
			px[e], py[e] = cx[a]+t*(cx[b]-cx[a]), cy[a]+t*(cy[b]-cy[a])
			on[e] = true
		}
	}
	seg := func(a, b int) {
		p := func(e int) (int, int) {
			return ox + int(math.Round((float64(ki)+px[e])*float64(cell))), oy + int(math.Round((float64(mi)+py[e])*float64(cell)))
		}
		xa, ya := p(a)
		xb, yb := p(b)
		c.line(xa, ya, xb, yb, t, 0, col)
	}
	var es []int
	for e := range 4 {
		if on[e] {
			es = append(es, e)
		}
	}
	switch len(es) {
	case 2:
		seg(es[0], es[1])
	case 4: // saddle: decide by the centre value
		if ((v[0]+v[1]+v[2]+v[3])/4 >= lv) == (v[0] >= lv) {
			seg(0, 1) // cut off corner 1
			seg(2, 3) // and corner 3
		} else {
			seg(3, 0)
			seg(1, 2)
		}
	}
}

// heat maps v in [lo, hi] onto the viridis colour ramp.
func heat(v, lo, hi float64) draw.Color {
	t := 0.5
	if hi > lo {
		t = (v - lo) / (hi - lo)
	}
	t = min(max(t, 0), 1) * float64(len(viridis)-1)
	i := min(int(t), len(viridis)-2)
	f := t - float64(i)
	a, b := viridis[i], viridis[i+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + f*(float64(y)-float64(x)))) }
	return draw.Color{R: mix(a.R, b.R), G: mix(a.G, b.G), B: mix(a.B, b.B)}
}
