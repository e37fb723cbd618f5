package yolo

import (
	"math"

	"github.com/gst-react/gst-react/internal/detection"
)

// candidatesV5 scans YOLOv5's three anchors per cell like YOLOX's rows:
// objectness first, since it bounds the score and most rows fail it. Boxes
// are already decoded to input pixels, so the row order does not matter.
func (d *Decoder) candidatesV5(out []float32) {
	thr := d.cfg.ScoreThreshold
	width := d.width
	cands := d.cands[:0]
	for i := range d.anchors {
		row := out[i*width : (i+1)*width]
		obj := row[4]
		if !(obj >= thr) { // also rejects NaN
			continue
		}
		cls, best := bestClass(row[5:], d.classes)
		score := obj * best
		if !(score >= thr) {
			continue
		}
		cx, cy, w, h := row[0], row[1], row[2], row[3]
		cands = append(cands, candidate{
			box:   detection.Rect{X1: cx - w/2, Y1: cy - h/2, X2: cx + w/2, Y2: cy + h/2},
			score: score, class: int32(cls), idx: int32(i),
		})
	}
	d.cands = cands
}

// candidatesGFL decodes a GFL head level by level: a cell's best class score
// is its score (there is no objectness), and only cells that pass the
// threshold pay for the DFL softmax that turns their distance logits into a
// box.
func (d *Decoder) candidatesGFL(outs [][]float32) {
	thr := d.cfg.ScoreThreshold
	nc, bins := d.cfg.NumClasses, d.cfg.Bins
	nano := d.cfg.Layout == LayoutNanoDet
	cands := d.cands[:0]
	base := 0 // global cell index of the level's first cell: the tie-breaker
	for _, lv := range d.cfg.Levels {
		scores, dists := outs[lv.Scores], outs[lv.Dists]
		s := lv.Stride
		gw := (d.cfg.InputW + s - 1) / s
		cells := len(scores) / nc
		fs := float32(s)
		// Centre offset within the cell: PicoDet (col+0.5)*s; NanoDet's
		// reference decoder col*s + (s-1)/2.
		off := fs / 2
		if nano {
			off = (fs - 1) / 2
		}
		for i := range cells {
			cls, best := bestClass(scores[i*nc:(i+1)*nc], d.classes)
			if !(best >= thr) {
				continue
			}
			cx := float32(i%gw)*fs + off
			cy := float32(i/gw)*fs + off
			reg := dists[i*4*bins : (i+1)*4*bins]
			l := dflDistance(reg[0:bins]) * fs
			t := dflDistance(reg[bins:2*bins]) * fs
			r := dflDistance(reg[2*bins:3*bins]) * fs
			b := dflDistance(reg[3*bins:4*bins]) * fs
			cands = append(cands, candidate{
				box:   detection.Rect{X1: cx - l, Y1: cy - t, X2: cx + r, Y2: cy + b},
				score: best, class: int32(cls), idx: int32(base + i),
			})
		}
		base += cells
	}
	d.cands = cands
}

// dflDistance is the expected bin index of a softmax over logits: the
// distribution focal loss' distance, in strides.
func dflDistance(logits []float32) float32 {
	m := logits[0]
	for _, v := range logits[1:] {
		m = max(m, v)
	}
	var sum, acc float64
	for k, v := range logits {
		e := math.Exp(float64(v - m))
		sum += e
		acc += float64(k) * e
	}
	return float32(acc / sum)
}

// candidatesDETR takes each query's best class; boxes are normalised
// cx, cy, w, h. A sigmoid is monotonic, so logits are compared first and only
// the winner is converted.
func (d *Decoder) candidatesDETR(boxes, scores []float32) {
	thr := d.cfg.ScoreThreshold
	nc := d.cfg.NumClasses
	iw, ih := float32(d.cfg.InputW), float32(d.cfg.InputH)
	cands := d.cands[:0]
	for q := range d.anchors {
		cls, best := bestClass(scores[q*nc:(q+1)*nc], d.classes)
		if d.cfg.ScoreLogits {
			best = float32(1 / (1 + math.Exp(-float64(best))))
		}
		if !(best >= thr) {
			continue
		}
		b := boxes[q*4 : q*4+4]
		cx, cy, w, h := b[0]*iw, b[1]*ih, b[2]*iw, b[3]*ih
		cands = append(cands, candidate{
			box:   detection.Rect{X1: cx - w/2, Y1: cy - h/2, X2: cx + w/2, Y2: cy + h/2},
			score: best, class: int32(cls), idx: int32(q),
		})
	}
	d.cands = cands
}

// candidatesEndToEnd reads boxes that the graph already filtered: x1, y1, x2,
// y2 in input pixels, score, class. Unused rows are zero and fail the
// threshold.
func (d *Decoder) candidatesEndToEnd(out []float32) {
	thr := d.cfg.ScoreThreshold
	cands := d.cands[:0]
	for k := range d.anchors {
		r := out[k*6 : k*6+6]
		score := r[4]
		if !(score >= thr) {
			continue
		}
		cls := int(r[5])
		if cls < 0 || cls >= d.cfg.NumClasses || float32(cls) != r[5] || (d.allowed != nil && !d.allowed[cls]) {
			continue
		}
		cands = append(cands, candidate{
			box:   detection.Rect{X1: r[0], Y1: r[1], X2: r[2], Y2: r[3]},
			score: score, class: int32(cls), idx: int32(k),
		})
	}
	d.cands = cands
}
