package evalmetrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/mot"
)

// GT is one ground-truth box.
type GT struct {
	Class int
	Box   detection.Rect
	// Ignore marks a box that counts neither way: it is not in recall's
	// denominator, and a detection matched to it is neither TP nor FP. It
	// absorbs at most one detection, like a box outside pycocotools' area range.
	Ignore bool
	// Crowd marks an ignore region (implies Ignore) that absorbs any number of
	// detections; its overlap is intersection / detection area.
	Crowd bool
}

// Det is one detection.
type Det struct {
	Class int
	Box   detection.Rect
	Score float32
}

// Interpolation is how a precision/recall curve becomes one AP number.
type Interpolation uint8

const (
	// Interp101 is COCO's: mean monotone precision at recall 0, 0.01, …, 1.
	Interp101 Interpolation = iota
	// EveryPoint is VOC 2010+'s: area under the monotone precision envelope.
	EveryPoint
	// ElevenPoint is VOC 2007's: mean monotone precision at recall 0, 0.1, …, 1.
	ElevenPoint
)

var interpNames = [...]string{"coco-101", "every-point", "11-point"}

// String is a short name: "coco-101", "every-point" or "11-point".
func (m Interpolation) String() string {
	if int(m) < len(interpNames) {
		return interpNames[m]
	}
	return fmt.Sprintf("interpolation(%d)", m)
}

// linspace is numpy.linspace(start, stop, n): start + i*step, the last exactly stop.
func linspace(start, stop float64, n int) []float64 {
	out := make([]float64, n)
	step := (stop - start) / float64(n-1)
	for i := range out {
		out[i] = float64(i)*step + start
	}
	out[n-1] = stop
	return out
}

var (
	// As pycocotools: np.linspace(.5, .95, 10) and np.linspace(0, 1, 101); and
	// the 11 VOC recall points, which np.arange(0, 1.1, 0.1) makes the same way.
	cocoIoUs   = linspace(0.5, 0.95, 10)
	recThrs101 = linspace(0, 1, 101)
	recThrs11  = linspace(0, 1, 11)
)

// COCOIoUs returns the IoU thresholds COCO averages over (0.50:0.05:0.95).
func COCOIoUs() []float64 { return slices.Clone(cocoIoUs) }

// ClassResult is one class's accuracy.
type ClassResult struct {
	Class int
	// NumGT counts the ground truths that count (not ignored); 0 means the
	// class is left out of the means and its AP is 0.
	NumGT int
	// NumDet counts every detection of the class, ignored ones included.
	NumDet int
	// AP is the mean of PerIoU: AP@[.5:.95] for COCO, AP at the one threshold for VOC.
	AP float64
	// PerIoU is the AP at each of Result.IoUs.
	PerIoU []float64
	// TP, FP and Ignored count the detections at the first threshold (0.5 for COCO).
	TP, FP, Ignored int
	// Recall and Precision are TP/NumGT and TP/(TP+FP) over all detections
	// at the first threshold (0 when undefined).
	Recall, Precision float64
}

// Result is the accuracy over everything added so far.
type Result struct {
	Interpolation Interpolation
	// IoUs are the thresholds evaluated.
	IoUs []float64
	// Classes has one entry per class, in New's order (ascending id when New had none).
	Classes []ClassResult
	// NumClasses counts the classes with ground truth, the ones the means run over.
	NumClasses int
	// MAP is the mean over classes with ground truth of ClassResult.AP
	// (COCO: mAP@[.5:.95]; VOC: mAP at its threshold). 0 when no class has any.
	MAP float64
	// PerIoU is the mean over classes with ground truth of the AP at each of IoUs.
	PerIoU []float64
	// MAP50 and MAP75 are PerIoU at 0.5 and 0.75 where those were evaluated
	// (always for COCO), else 0.
	MAP50, MAP75 float64
}

// At is the mean AP at the IoU threshold iou, if it was evaluated.
func (r Result) At(iou float64) (float64, bool) {
	for i, t := range r.IoUs {
		if math.Abs(t-iou) < 1e-9 {
			return r.PerIoU[i], true
		}
	}
	return 0, false
}

// Class is the result for class id c, if the result has it.
func (r Result) Class(c int) (ClassResult, bool) {
	for _, cr := range r.Classes {
		if cr.Class == c {
			return cr, true
		}
	}
	return ClassResult{}, false
}

type gtRec struct {
	box    detection.Rect
	slot   int32
	ignore bool
	crowd  bool
}

type detRec struct {
	box   detection.Rect
	score float32
	slot  int32
}

type frameRec struct {
	gtEnd, detEnd int // each frame's boxes run from the previous frame's ends
}

// Accumulator collects ground truth and detections frame by frame. It stores
// 24 bytes per box of an evaluated class plus a few dozen per frame (its box
// ranges and its id, to refuse duplicates). It is not safe for concurrent use.
type Accumulator struct {
	// Inclusive selects the pixel-inclusive IoU of the PASCAL devkit and the
	// Padilla tool: a box's width is x2-x1+1, as are its overlaps. Off (the
	// default), boxes are continuous, width x2-x1, as in pycocotools and the rest
	// of gst-react. It applies to every later COCO, VOC or Evaluate call.
	Inclusive bool

	fixed   bool
	classes []int            // slot -> class id
	slots   map[int]int32    // class id -> slot
	ids     map[int]struct{} // image ids added
	frames  []frameRec
	gts     []gtRec
	dets    []detRec
	nGT     []int // per slot: ground truths that count
	nDet    []int // per slot: detections

	// Scratch for sortFrame.
	gtTmp  []gtRec
	detTmp []detRec
	cnt    []int
}

// New returns an empty Accumulator. With classes, only those class ids are
// evaluated (boxes of other classes are dropped by Add) and results list them in
// that order; without, every class seen in ground truth or detections is, in
// ascending id order.
func New(classes ...int) *Accumulator {
	a := &Accumulator{slots: map[int]int32{}, ids: map[int]struct{}{}, fixed: len(classes) > 0}
	for _, c := range classes {
		a.slotOf(c, true)
	}
	return a
}

func (a *Accumulator) slotOf(c int, register bool) (int32, bool) {
	if s, ok := a.slots[c]; ok {
		return s, true
	}
	if !register {
		return 0, false
	}
	s := int32(len(a.classes))
	a.slots[c] = s
	a.classes = append(a.classes, c)
	a.nGT = append(a.nGT, 0)
	a.nDet = append(a.nDet, 0)
	return s, true
}

// Frames is how many images were added.
func (a *Accumulator) Frames() int { return len(a.frames) }

// badRect reports a NaN or infinite corner (v-v is NaN for those, 0 otherwise).
func badRect(r detection.Rect) bool {
	return (r.X1-r.X1)+(r.Y1-r.Y1)+(r.X2-r.X2)+(r.Y2-r.Y2) != 0
}

// Add records one image: all of its ground truth and all of its detections
// (either may be empty). Each imageID may be added once. On error nothing is
// recorded. Add keeps no reference to gts or dets.
func (a *Accumulator) Add(imageID int, gts []GT, dets []Det) error {
	if _, dup := a.ids[imageID]; dup {
		return fmt.Errorf("evalmetrics: image %d added twice", imageID)
	}
	for i, g := range gts {
		if badRect(g.Box) {
			return fmt.Errorf("evalmetrics: image %d: ground truth %d has a non-finite box %v", imageID, i, g.Box)
		}
	}
	for i, d := range dets {
		if badRect(d.Box) || math.IsNaN(float64(d.Score)) {
			return fmt.Errorf("evalmetrics: image %d: detection %d has a non-finite box %v or score %v", imageID, i, d.Box, d.Score)
		}
	}
	a.ids[imageID] = struct{}{}
	register := !a.fixed
	g0 := len(a.gts)
	for _, g := range gts {
		s, ok := a.slotOf(g.Class, register)
		if !ok {
			continue
		}
		ign := g.Ignore || g.Crowd
		a.gts = append(a.gts, gtRec{box: g.Box, slot: s, ignore: ign, crowd: g.Crowd})
		if !ign {
			a.nGT[s]++
		}
	}
	d0 := len(a.dets)
	for _, d := range dets {
		s, ok := a.slotOf(d.Class, register)
		if !ok {
			continue
		}
		a.dets = append(a.dets, detRec{box: d.Box, score: d.Score, slot: s})
		a.nDet[s]++
	}
	a.sortFrame(a.gts[g0:], a.dets[d0:])
	a.frames = append(a.frames, frameRec{gtEnd: len(a.gts), detEnd: len(a.dets)})
	return nil
}

// sortFrame puts one frame's boxes in matching order, stably: ground truth by
// class, counted ones before ignored ones (pycocotools' order); detections by
// class, then descending score. A counting sort by key, then insertion sort
// of each class's (short) run of detections, with scratch kept for reuse.
func (a *Accumulator) sortFrame(gts []gtRec, dets []detRec) {
	gtKey := func(g *gtRec) int {
		k := 2 * int(g.slot)
		if g.ignore {
			k++
		}
		return k
	}
	if !slices.IsSortedFunc(gts, func(x, y gtRec) int { return cmp.Compare(gtKey(&x), gtKey(&y)) }) {
		cnt := a.countScratch(2 * len(a.classes))
		for i := range gts {
			cnt[gtKey(&gts[i])+1]++
		}
		for k := 1; k < len(cnt); k++ {
			cnt[k] += cnt[k-1]
		}
		a.gtTmp = slices.Grow(a.gtTmp[:0], len(gts))[:len(gts)]
		for i := range gts {
			k := gtKey(&gts[i])
			a.gtTmp[cnt[k]] = gts[i]
			cnt[k]++
		}
		copy(gts, a.gtTmp)
	}
	if !slices.IsSortedFunc(dets, func(x, y detRec) int { return cmp.Compare(x.slot, y.slot) }) {
		cnt := a.countScratch(len(a.classes))
		for i := range dets {
			cnt[dets[i].slot+1]++
		}
		for k := 1; k < len(cnt); k++ {
			cnt[k] += cnt[k-1]
		}
		a.detTmp = slices.Grow(a.detTmp[:0], len(dets))[:len(dets)]
		for i := range dets {
			s := dets[i].slot
			a.detTmp[cnt[s]] = dets[i]
			cnt[s]++
		}
		copy(dets, a.detTmp)
	}
	for i := 0; i < len(dets); {
		j := i + 1
		for j < len(dets) && dets[j].slot == dets[i].slot {
			j++
		}
		sortByScore(dets[i:j])
		i = j
	}
}

func (a *Accumulator) countScratch(n int) []int {
	a.cnt = slices.Grow(a.cnt[:0], n+1)[:n+1]
	clear(a.cnt)
	return a.cnt
}

// sortByScore sorts by descending score, stably.
func sortByScore(d []detRec) {
	if len(d) > 48 {
		slices.SortStableFunc(d, func(x, y detRec) int { return cmp.Compare(y.score, x.score) })
		return
	}
	for i := 1; i < len(d); i++ {
		if d[i].score <= d[i-1].score {
			continue
		}
		x := d[i]
		j := i
		for ; j > 0 && d[j-1].score < x.score; j-- {
			d[j] = d[j-1]
		}
		d[j] = x
	}
}

// boxIoU is the intersection over union of a and b in float64, 0 when they do
// not overlap. With crowd, the denominator is a's area alone (pycocotools'
// iscrowd rule, a being the detection). With inclusive, widths and heights
// count both end pixels (x2-x1+1), as in the PASCAL devkit.
func boxIoU(a, b detection.Rect, crowd, inclusive bool) float64 {
	one := 0.0
	if inclusive {
		one = 1
	}
	ax1, ay1, ax2, ay2 := float64(a.X1), float64(a.Y1), float64(a.X2), float64(a.Y2)
	bx1, by1, bx2, by2 := float64(b.X1), float64(b.Y1), float64(b.X2), float64(b.Y2)
	iw := min(ax2, bx2) - max(ax1, bx1) + one
	ih := min(ay2, by2) - max(ay1, by1) + one
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	u := max(0, ax2-ax1+one) * max(0, ay2-ay1+one)
	if !crowd {
		u += max(0, bx2-bx1+one)*max(0, by2-by1+one) - inter
	}
	if u <= 0 {
		return 0
	}
	return inter / u
}

// Detection outcomes, one per detection and threshold.
const (
	outFP uint8 = iota
	outTP
	outIgnored
)

// COCO evaluates COCO-style: IoU thresholds 0.50:0.05:0.95, 101-point
// interpolation. MAP is mAP@[.5:.95]; MAP50 and MAP75 are set.
func (a *Accumulator) COCO() Result { return a.Evaluate(cocoIoUs, Interp101) }

// VOC evaluates PASCAL VOC-style at one IoU threshold (0.5 in VOC) with
// EveryPoint (VOC 2010+) or ElevenPoint (VOC 2007) interpolation.
func (a *Accumulator) VOC(iou float64, method Interpolation) Result {
	return a.Evaluate([]float64{iou}, method)
}

// Evaluate matches at each of the IoU thresholds ious and interpolates with
// method (it panics on an unknown one). COCO and VOC are shorthands for it.
// Each call redoes the matching over everything added, in time linear in the
// boxes plus a sort of each class's detections.
func (a *Accumulator) Evaluate(ious []float64, method Interpolation) Result {
	if int(method) >= len(interpNames) {
		panic(fmt.Sprintf("evalmetrics: unknown %v", method))
	}
	nT := len(ious)
	thr := make([]float64, nT)
	for i, t := range ious {
		thr[i] = math.Min(t, 1-1e-10)
	}
	out := a.match(thr)

	// Detections of each slot in global order: stored order is image order,
	// then descending score within the image (stable), so a sort by score with
	// the stored index as tie-break is pycocotools' stable merge sort.
	nS := len(a.classes)
	start := make([]int, nS+1)
	for s, n := range a.nDet {
		start[s+1] = start[s] + n
	}
	type key struct {
		score float32
		i     int32
	}
	order := make([]key, len(a.dets))
	fill := slices.Clone(start[:nS])
	for i, d := range a.dets {
		order[fill[d.slot]] = key{d.score, int32(i)}
		fill[d.slot]++
	}
	maxN := 0
	for _, n := range a.nDet {
		maxN = max(maxN, n)
	}
	rc := make([]float64, 0, maxN)
	pr := make([]float64, 0, maxN)
	sorted := make([]uint8, maxN*nT) // one class's outcomes: threshold-major, score order

	res := Result{
		Interpolation: method,
		IoUs:          slices.Clone(ious),
		Classes:       make([]ClassResult, nS),
		PerIoU:        make([]float64, nT),
	}
	perIoU := make([]float64, nS*nT)
	for s := range nS {
		idx := order[start[s]:start[s+1]]
		slices.SortFunc(idx, func(x, y key) int {
			switch {
			case x.score > y.score: // scores are never NaN
				return -1
			case x.score < y.score:
				return 1
			}
			return cmp.Compare(x.i, y.i)
		})
		n := len(idx)
		for pos, k := range idx {
			for t, o := range out[int(k.i)*nT : int(k.i+1)*nT] {
				sorted[t*n+pos] = o
			}
		}
		cr := ClassResult{Class: a.classes[s], NumGT: a.nGT[s], NumDet: a.nDet[s], PerIoU: perIoU[s*nT : (s+1)*nT : (s+1)*nT]}
		for t := range nT {
			rc, pr = rc[:0], pr[:0]
			tp, fp, ign := 0, 0, 0
			for _, o := range sorted[t*n : (t+1)*n] {
				switch o {
				case outTP:
					tp++
				case outFP:
					fp++
				default:
					ign++
					continue
				}
				if cr.NumGT > 0 {
					rc = append(rc, float64(tp)/float64(cr.NumGT))
					pr = append(pr, float64(tp)/float64(tp+fp))
				}
			}
			if t == 0 {
				cr.TP, cr.FP, cr.Ignored = tp, fp, ign
				if cr.NumGT > 0 {
					cr.Recall = float64(tp) / float64(cr.NumGT)
				}
				if tp+fp > 0 {
					cr.Precision = float64(tp) / float64(tp+fp)
				}
			}
			if cr.NumGT > 0 {
				cr.PerIoU[t] = averagePrecision(rc, pr, method)
			}
		}
		if cr.NumGT > 0 && nT > 0 {
			cr.AP = mean(cr.PerIoU)
			res.NumClasses++
			for t, v := range cr.PerIoU {
				res.PerIoU[t] += v
			}
		}
		res.Classes[s] = cr
	}
	if res.NumClasses > 0 {
		for t := range res.PerIoU {
			res.PerIoU[t] /= float64(res.NumClasses)
		}
		// Mean over classes of per-class means, summed class by class.
		for _, cr := range res.Classes {
			if cr.NumGT > 0 {
				res.MAP += cr.AP
			}
		}
		res.MAP /= float64(res.NumClasses)
	}
	res.MAP50, _ = res.At(0.5)
	res.MAP75, _ = res.At(0.75)
	if !a.fixed {
		slices.SortFunc(res.Classes, func(x, y ClassResult) int { return cmp.Compare(x.Class, y.Class) })
	}
	return res
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// match runs the greedy matching of every image and class at every threshold.
// out[i*len(thr)+t] is the outcome of stored detection i at threshold t.
func (a *Accumulator) match(thr []float64) []uint8 {
	nT := len(thr)
	out := make([]uint8, len(a.dets)*nT) // zero = outFP
	// Per image and class, each detection's candidates: the ground truths it
	// overlaps by at least the lowest threshold, in ground-truth order. Skipping
	// the others changes nothing (they fail every threshold) and saves most of
	// the work of matching at ten thresholds.
	type cand struct {
		j   int32
		iou float64
	}
	minThr := math.Inf(1)
	for _, th := range thr {
		minThr = min(minThr, th)
	}
	var cands []cand
	var cstart []int
	var used []bool
	g0, d0 := 0, 0
	for _, f := range a.frames {
		gts, dets := a.gts[g0:f.gtEnd], a.dets[d0:f.detEnd]
		base := d0
		g0, d0 = f.gtEnd, f.detEnd
		gi := 0
		for di := 0; di < len(dets); {
			s := dets[di].slot
			dj := di
			for dj < len(dets) && dets[dj].slot == s {
				dj++
			}
			for gi < len(gts) && gts[gi].slot < s {
				gi++
			}
			gj := gi
			for gj < len(gts) && gts[gj].slot == s {
				gj++
			}
			D, G := dets[di:dj], gts[gi:gj]
			if len(G) > 0 {
				cands, cstart = cands[:0], cstart[:0]
				for _, d := range D {
					cstart = append(cstart, len(cands))
					for j, g := range G {
						if v := boxIoU(d.box, g.box, g.crowd, a.Inclusive); v >= minThr {
							cands = append(cands, cand{int32(j), v})
						}
					}
				}
				cstart = append(cstart, len(cands))
				used = slices.Grow(used[:0], len(G))[:len(G)]
				for t, th := range thr {
					clear(used)
					for k := range D {
						best, m := th, -1
						for _, c := range cands[cstart[k]:cstart[k+1]] {
							g := &G[c.j]
							if used[c.j] && !g.crowd {
								continue
							}
							if m >= 0 && !G[m].ignore && g.ignore {
								break // a counted match beats any ignored one
							}
							if c.iou >= best { // on equal IoU the later one, as pycocotools
								best, m = c.iou, int(c.j)
							}
						}
						if m < 0 {
							continue // outFP
						}
						used[m] = true
						o := outTP
						if G[m].ignore {
							o = outIgnored
						}
						out[(base+di+k)*nT+t] = o
					}
				}
			}
			di, gi = dj, gj
		}
	}
	return out
}

// averagePrecision turns a precision/recall curve (points in score order,
// ignored detections left out) into AP. It overwrites pr with its envelope.
func averagePrecision(rc, pr []float64, method Interpolation) float64 {
	// Monotone envelope: precision at i is the best at any recall from i on.
	for i := len(pr) - 1; i > 0; i-- {
		pr[i-1] = max(pr[i-1], pr[i])
	}
	switch method {
	case EveryPoint:
		// mrec = [0, rc..., 1], mpre = [0, pr..., 0] with envelope; sum
		// (mrec[i]-mrec[i-1])*mpre[i] where recall changes.
		ap, prev := 0.0, 0.0
		for i, r := range rc {
			if r != prev {
				ap += (r - prev) * pr[i]
			}
			prev = r
		}
		// The closing point (1, 0) adds nothing.
		return ap
	case ElevenPoint:
		return sampled(rc, pr, recThrs11)
	default:
		return sampled(rc, pr, recThrs101)
	}
}

// sampled is the mean over recall thresholds of the envelope precision at the
// first point whose recall reaches the threshold (0 when none does).
func sampled(rc, pr, thrs []float64) float64 {
	sum, j := 0.0, 0
	for _, r := range thrs {
		for j < len(rc) && rc[j] < r {
			j++
		}
		if j == len(rc) {
			break
		}
		sum += pr[j]
	}
	return sum / float64(len(thrs))
}

// FromDetections appends ds to dst as Dets.
func FromDetections(dst []Det, ds []detection.Detection) []Det {
	for _, d := range ds {
		dst = append(dst, Det{Class: d.Class, Box: d.Box, Score: d.Score})
	}
	return dst
}

// FromMOT appends MOT ground-truth rows to dst as GTs of class: rows with Eval
// set count, the others (considered flag 0, or a MOT class other than
// pedestrian) become ignored boxes. Callers wanting another rule, such as
// dropping vehicles instead of ignoring them, build their GTs themselves.
func FromMOT(dst []GT, rows []mot.GTBox, class int) []GT {
	for _, r := range rows {
		dst = append(dst, GT{Class: class, Box: r.Box, Ignore: !r.Eval})
	}
	return dst
}
