package yolo

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/preprocess"
)

// Defaults applied by NewDecoder to zero Config fields.
const (
	DefaultScoreThreshold = 0.3
	DefaultNMSThreshold   = 0.45
	DefaultMaxDetections  = 300
)

// Config describes a detector head and how to filter its output.
type Config struct {
	// InputW and InputH are the model input size (multiples of 32).
	InputW, InputH int
	Layout         Layout
	NumClasses     int
	// ScoreThreshold keeps candidates with score >= it; 0 means 0.3.
	ScoreThreshold float32
	// NMSThreshold suppresses a box whose IoU with a better box of the same
	// class exceeds it; 0 means 0.45, 1 disables suppression.
	NMSThreshold float32
	// MaxDetections caps the result, best first; 0 means 300.
	MaxDetections int
	// Classes restricts the output to these class indices; empty keeps all.
	Classes []int
}

// candidate is a box above threshold in model-input pixels.
type candidate struct {
	box   detection.Rect
	score float32
	class int32
	idx   int32 // anchor index: breaks score ties so the output is deterministic
}

// Decoder decodes one model's output. It keeps scratch buffers between calls
// so that Decode does not allocate; it is not safe for concurrent use.
type Decoder struct {
	cfg     Config
	anchors int   // N
	width   int   // values per anchor: 5+C (YOLOX) or 4+C (YOLOv8)
	classes []int // allowed class indices, nil = all

	cands []candidate
	kept  []candidate
	best  []float32 // YOLOv8: best class score per anchor
	bestC []int32   // YOLOv8: its class
}

// NewDecoder validates cfg, fills in defaults and sizes the scratch buffers.
func NewDecoder(cfg Config) (*Decoder, error) {
	if err := checkInputSize(cfg.InputW, cfg.InputH); err != nil {
		return nil, err
	}
	if cfg.Layout != LayoutYOLOX && cfg.Layout != LayoutYOLOv8 {
		return nil, fmt.Errorf("head layout %s is not set or not supported (want yolox or yolov8; DetectLayout finds it from the output shape)", cfg.Layout)
	}
	if cfg.NumClasses < 1 {
		return nil, fmt.Errorf("number of classes %d must be at least 1", cfg.NumClasses)
	}
	if cfg.ScoreThreshold == 0 {
		cfg.ScoreThreshold = DefaultScoreThreshold
	}
	if !(cfg.ScoreThreshold > 0 && cfg.ScoreThreshold <= 1) {
		return nil, fmt.Errorf("score threshold %v must be in (0, 1]", cfg.ScoreThreshold)
	}
	if cfg.NMSThreshold == 0 {
		cfg.NMSThreshold = DefaultNMSThreshold
	}
	if !(cfg.NMSThreshold > 0 && cfg.NMSThreshold <= 1) {
		return nil, fmt.Errorf("NMS IoU threshold %v must be in (0, 1]", cfg.NMSThreshold)
	}
	if cfg.MaxDetections == 0 {
		cfg.MaxDetections = DefaultMaxDetections
	}
	if cfg.MaxDetections < 0 {
		return nil, fmt.Errorf("max detections %d must not be negative", cfg.MaxDetections)
	}
	d := &Decoder{anchors: NumAnchors(cfg.InputW, cfg.InputH)}
	if len(cfg.Classes) > 0 {
		seen := make([]bool, cfg.NumClasses)
		for _, c := range cfg.Classes {
			if c < 0 || c >= cfg.NumClasses {
				return nil, fmt.Errorf("class filter has class %d, but the model has classes 0..%d", c, cfg.NumClasses-1)
			}
			if !seen[c] {
				seen[c] = true
				d.classes = append(d.classes, c)
			}
		}
		slices.Sort(d.classes)
		cfg.Classes = slices.Clone(d.classes)
	}
	d.cfg = cfg
	if cfg.Layout == LayoutYOLOX {
		d.width = 5 + cfg.NumClasses
	} else {
		d.width = 4 + cfg.NumClasses
		d.best = make([]float32, d.anchors)
		d.bestC = make([]int32, d.anchors)
	}
	d.cands = make([]candidate, 0, 1024)
	d.kept = make([]candidate, 0, min(cfg.MaxDetections, d.anchors))
	return d, nil
}

// Config is the configuration in use, defaults filled in.
func (d *Decoder) Config() Config {
	c := d.cfg
	c.Classes = slices.Clone(c.Classes)
	return c
}

// OutputLen is the number of float32 values Decode expects: the element count
// of the model output tensor.
func (d *Decoder) OutputLen() int { return d.anchors * d.width }

// ErrOutputLen is wrapped by the error Decode panics with when the output has
// the wrong number of values.
var ErrOutputLen = errors.New("yolo: model output has the wrong number of values")

// Decode turns one model output into detections in frame pixels: candidates
// at or above the score threshold, class-aware NMS, best first, at most
// MaxDetections, mapped through tr and clamped to frameW x frameH. Boxes that
// lie entirely in the letterbox padding are dropped. The result is appended
// to dst[:0]; pass the previous result back to avoid allocating.
//
// out must hold exactly OutputLen values; anything else means the decoder was
// configured for another model, and Decode panics rather than return nothing.
func (d *Decoder) Decode(out []float32, tr preprocess.Transform, frameW, frameH int, dst []detection.Detection) []detection.Detection {
	if len(out) != d.OutputLen() {
		panic(fmt.Errorf("%w: got %d, want %d (%s head, %d classes, %dx%d input)",
			ErrOutputLen, len(out), d.OutputLen(), d.cfg.Layout, d.cfg.NumClasses, d.cfg.InputW, d.cfg.InputH))
	}
	if d.cfg.Layout == LayoutYOLOX {
		d.candidatesYOLOX(out)
	} else {
		d.candidatesV8(out)
	}
	return d.nms(tr, frameW, frameH, dst[:0])
}

// candidatesYOLOX scans the rows in anchor order (stride 8, 16, 32; each grid
// row-major), testing objectness first: it bounds the score, and most rows
// fail it, so their class scores are never read.
func (d *Decoder) candidatesYOLOX(out []float32) {
	thr := d.cfg.ScoreThreshold
	width := d.width
	cands := d.cands[:0]
	i := 0
	for _, s := range strides {
		gw, gh := d.cfg.InputW/s, d.cfg.InputH/s
		fs := float32(s)
		for gy := range gh {
			for gx := range gw {
				base := i * width
				i++
				obj := out[base+4]
				if !(obj >= thr) { // also rejects NaN
					continue
				}
				row := out[base : base+width]
				cls, best := bestClass(row[5:], d.classes)
				score := obj * best
				if !(score >= thr) {
					continue
				}
				cx := (row[0] + float32(gx)) * fs
				cy := (row[1] + float32(gy)) * fs
				w := float32(math.Exp(float64(row[2]))) * fs
				h := float32(math.Exp(float64(row[3]))) * fs
				cands = append(cands, candidate{
					box:   detection.Rect{X1: cx - w/2, Y1: cy - h/2, X2: cx + w/2, Y2: cy + h/2},
					score: score, class: int32(cls), idx: int32(i - 1),
				})
			}
		}
	}
	d.cands = cands
}

// bestClass is the highest score among the allowed classes (all when allowed
// is nil) and its index.
func bestClass(scores []float32, allowed []int) (int, float32) {
	bc, bs := -1, float32(math.Inf(-1))
	if allowed == nil {
		for c, v := range scores {
			if v > bs {
				bc, bs = c, v
			}
		}
		return bc, bs
	}
	for _, c := range allowed {
		if v := scores[c]; v > bs {
			bc, bs = c, v
		}
	}
	return bc, bs
}

// candidatesV8 finds each anchor's best class one class plane at a time: the
// tensor is channel-major, so this reads memory sequentially where a
// per-anchor scan would stride across the whole tensor.
func (d *Decoder) candidatesV8(out []float32) {
	n := d.anchors
	thr := d.cfg.ScoreThreshold
	best, bestC := d.best[:n], d.bestC[:n]
	clear(best) // below any threshold, which is > 0
	// Only scores at or above the threshold matter, and they are rare, so the
	// first comparison is almost always false and well predicted.
	scan := func(c int) {
		plane := out[(4+c)*n : (5+c)*n]
		plane = plane[:len(best)]
		for j, v := range plane {
			if v >= thr && v > best[j] {
				best[j] = v
				bestC[j] = int32(c)
			}
		}
	}
	if d.classes == nil {
		for c := range d.cfg.NumClasses {
			scan(c)
		}
	} else {
		for _, c := range d.classes {
			scan(c)
		}
	}
	cxs, cys, ws, hs := out[:n], out[n:2*n], out[2*n:3*n], out[3*n:4*n]
	cands := d.cands[:0]
	for j, s := range best {
		if !(s >= thr) {
			continue
		}
		cx, cy, w, h := cxs[j], cys[j], ws[j], hs[j]
		cands = append(cands, candidate{
			box:   detection.Rect{X1: cx - w/2, Y1: cy - h/2, X2: cx + w/2, Y2: cy + h/2},
			score: s, class: bestC[j], idx: int32(j),
		})
	}
	d.cands = cands
}

// byScore orders candidates best first, ties by anchor index.
func byScore(a, b candidate) int {
	if a.score != b.score {
		if a.score > b.score {
			return -1
		}
		return 1
	}
	return cmp.Compare(a.idx, b.idx)
}

// nms is greedy class-aware NMS. Each candidate is compared only with boxes
// already kept (at most MaxDetections), so a flood of candidates costs
// O(n*MaxDetections), not O(n²).
func (d *Decoder) nms(tr preprocess.Transform, frameW, frameH int, dst []detection.Detection) []detection.Detection {
	slices.SortFunc(d.cands, byScore)
	nmsThr := d.cfg.NMSThreshold
	kept := d.kept[:0]
	for _, c := range d.cands {
		if len(kept) >= d.cfg.MaxDetections {
			break
		}
		suppressed := false
		for k := range kept {
			if kept[k].class == c.class && detection.IoU(kept[k].box, c.box) > nmsThr {
				suppressed = true
				break
			}
		}
		if suppressed {
			continue
		}
		box := tr.ToFrame(c.box, frameW, frameH)
		if box.Empty() {
			continue // entirely in the padding or degenerate
		}
		kept = append(kept, c)
		dst = append(dst, detection.Detection{
			Box: box, Class: int(c.class), Score: c.score, Source: detection.SourceEdge,
		})
	}
	d.kept = kept
	return dst
}
