package yolo

import (
	"fmt"
	"slices"
	"strings"
)

// Tensor is what DetectHead needs to know of one model output.
type Tensor struct {
	Name  string
	Shape []int64
}

func (t Tensor) String() string { return fmt.Sprintf("%q %v", t.Name, t.Shape) }

// DetectHead works out the head of a model from its outputs (in the model's
// order, with real shapes: an ONNX session resolves dynamic ones first) and
// its input size. It returns a Config with the head fields set and no
// thresholds. A model that matches no supported head gets an error listing
// what it has and what is supported.
//
// A GFL head (PicoDet, NanoDet) is told apart from a DETR head by its output
// count; its score and distance outputs are paired by their row counts, so
// their order does not matter. Four levels (strides to 64) are taken for
// PicoDet and three for NanoDet, whose centres differ by half a pixel; a
// declared format (ParseLayout) overrides the guess.
func DetectHead(outs []Tensor, inputW, inputH int) (Config, error) {
	cfg := Config{InputW: inputW, InputH: inputH}
	if inputW <= 0 || inputH <= 0 {
		return cfg, fmt.Errorf("model input size %dx%d must be positive", inputW, inputH)
	}
	var err error
	switch {
	case len(outs) == 1:
		cfg.Layout, cfg.NumClasses, err = DetectLayout(outs[0].Shape, inputW, inputH)
		if err == nil && cfg.Layout == LayoutEndToEnd {
			cfg.Rows = int(outs[0].Shape[1])
		}
	case len(outs) == 2:
		err = detectDETR(&cfg, outs)
	case len(outs) >= 4 && len(outs)%2 == 0:
		err = detectGFL(&cfg, outs)
	default:
		err = fmt.Errorf("%d outputs", len(outs))
	}
	if err != nil {
		return Config{}, unknownHead(outs, inputW, inputH, err)
	}
	return cfg, nil
}

// unknownHead is the start-up error for a model no decoder fits.
func unknownHead(outs []Tensor, w, h int, why error) error {
	found := make([]string, len(outs))
	for i, t := range outs {
		found[i] = t.String()
	}
	return fmt.Errorf("model outputs match no supported detector head (%v). Found %d output(s) for a %dx%d input: %s. Supported: %s. "+
		"Declare the format and preprocessing in models/manifest.json if the model is one of these",
		why, len(outs), w, h, strings.Join(found, ", "), Layouts)
}

// rowsCols checks a [1, rows, cols] shape (batch 1 or dynamic) and returns rows, cols.
func rowsCols(t Tensor) (int, int, bool) {
	s := t.Shape
	if len(s) != 3 || s[0] > 1 || s[1] <= 0 || s[2] <= 0 {
		return 0, 0, false
	}
	return int(s[1]), int(s[2]), true
}

// detectDETR accepts boxes [1,Q,4] and scores [1,Q,C] in either order.
func detectDETR(cfg *Config, outs []Tensor) error {
	q0, c0, ok0 := rowsCols(outs[0])
	q1, c1, ok1 := rowsCols(outs[1])
	if !ok0 || !ok1 || q0 != q1 {
		return fmt.Errorf("2 outputs but not DETR boxes [1,Q,4] + scores [1,Q,C] with the same Q")
	}
	boxes := -1
	switch {
	case c0 == 4 && c1 == 4: // four classes: the name decides
		boxes = 0
		if strings.Contains(strings.ToLower(outs[1].Name), "box") {
			boxes = 1
		}
	case c0 == 4:
		boxes = 0
	case c1 == 4:
		boxes = 1
	default:
		return fmt.Errorf("2 outputs but neither is DETR boxes [1,Q,4]")
	}
	cfg.Layout, cfg.Rows = LayoutDETR, q0
	cfg.Boxes, cfg.Scores = boxes, 1-boxes
	cfg.NumClasses = []int{c0, c1}[cfg.Scores]
	cfg.ScoreLogits = strings.Contains(strings.ToLower(outs[cfg.Scores].Name), "logit")
	return nil
}

// maxBins bounds the DFL bins per side (reg_max 16 is the largest in use).
const maxBins = 17

// detectGFL pairs score outputs [1,HW,C] with distance outputs [1,HW,4B]
// level by level and finds each level's stride from its cell count.
func detectGFL(cfg *Config, outs []Tensor) error {
	type out struct{ idx, rows, cols int }
	byCols := map[int][]out{}
	var colsSeen []int
	for i, t := range outs {
		r, c, ok := rowsCols(t)
		if !ok {
			return fmt.Errorf("output %s is not a fixed [1, cells, values] map", t)
		}
		if _, ok := byCols[c]; !ok {
			colsSeen = append(colsSeen, c)
		}
		byCols[c] = append(byCols[c], out{i, r, c})
	}
	if len(colsSeen) != 2 || len(byCols[colsSeen[0]]) != len(byCols[colsSeen[1]]) {
		return fmt.Errorf("%d outputs but not GFL pairs of one score map [1,HW,C] and one distance map [1,HW,4*bins] per level", len(outs))
	}
	// Distances are 4 x bins with at most maxBins; when both widths could be
	// (a 32-class model with 8 bins), the score maps come first, as every
	// exporter we know writes them.
	isDist := func(c int) bool { return c%4 == 0 && c/4 >= 2 && c/4 <= maxBins }
	scoreCols, distCols := colsSeen[0], colsSeen[1]
	if !isDist(distCols) && isDist(scoreCols) {
		scoreCols, distCols = distCols, scoreCols
	}
	if !isDist(distCols) {
		return fmt.Errorf("no output is a DFL distance map (4 x 2..%d bins per cell)", maxBins)
	}
	scores, dists := byCols[scoreCols], byCols[distCols]
	cfg.NumClasses, cfg.Bins = scoreCols, distCols/4
	for _, s := range scores {
		j := slices.IndexFunc(dists, func(d out) bool { return d.rows == s.rows })
		if j < 0 {
			return fmt.Errorf("score map %s has no distance map with %d cells", outs[s.idx], s.rows)
		}
		stride := 0
		for st := 4; st <= 256; st *= 2 {
			if gflCells(cfg.InputW, cfg.InputH, st) == s.rows {
				stride = st
				break
			}
		}
		if stride == 0 {
			return fmt.Errorf("score map %s has %d cells, which is no stride's grid over a %dx%d input", outs[s.idx], s.rows, cfg.InputW, cfg.InputH)
		}
		cfg.Levels = append(cfg.Levels, Level{Stride: stride, Scores: s.idx, Dists: dists[j].idx})
		dists = slices.Delete(dists, j, j+1)
	}
	slices.SortFunc(cfg.Levels, func(a, b Level) int { return a.Stride - b.Stride })
	for i := 1; i < len(cfg.Levels); i++ {
		if cfg.Levels[i].Stride == cfg.Levels[i-1].Stride {
			return fmt.Errorf("two levels have stride %d", cfg.Levels[i].Stride)
		}
	}
	cfg.Layout = LayoutNanoDet
	if len(cfg.Levels) >= 4 {
		cfg.Layout = LayoutPicoDet
	}
	return nil
}

// WithLayout switches a detected head to a declared layout of the same
// decoding family (picodet <-> nanodet differ only in their centres); any
// other mismatch is an error, since the outputs would be misread.
func (c Config) WithLayout(l Layout) (Config, error) {
	if l == LayoutUnknown || l == c.Layout {
		return c, nil
	}
	if l.gfl() && c.Layout.gfl() {
		c.Layout = l
		return c, nil
	}
	return c, fmt.Errorf("the model's outputs are a %s head, but its format is declared as %s", c.Layout, l)
}
