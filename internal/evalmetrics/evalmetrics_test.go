package evalmetrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/mot"
)

func r(x1, y1, x2, y2 float32) detection.Rect { return detection.Rect{X1: x1, Y1: y1, X2: x2, Y2: y2} }

var (
	boxA = r(0, 0, 100, 100)
	boxB = r(200, 0, 300, 100)
	boxC = r(0, 200, 100, 300)
	far  = r(500, 500, 550, 550)
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func mustAdd(t *testing.T, acc *Accumulator, id int, gts []GT, dets []Det) {
	t.Helper()
	if err := acc.Add(id, gts, dets); err != nil {
		t.Fatal(err)
	}
}

// allAPs evaluates acc every way and returns COCO's mAP@0.5 and mAP@[.5:.95],
// and VOC every-point, 11-point and 101-point at 0.5.
func allAPs(acc *Accumulator) (coco50, coco, every, eleven, p101 float64) {
	c := acc.COCO()
	return c.MAP50, c.MAP, acc.VOC(0.5, EveryPoint).MAP, acc.VOC(0.5, ElevenPoint).MAP, acc.VOC(0.5, Interp101).MAP
}

func TestPerfect(t *testing.T) {
	acc := New()
	mustAdd(t, acc, 1, []GT{{Box: boxA}, {Box: boxB}}, []Det{{Box: boxA, Score: 0.9}, {Box: boxB, Score: 0.8}})
	mustAdd(t, acc, 2, []GT{{Box: boxC}}, []Det{{Box: boxC, Score: 0.1}})
	mustAdd(t, acc, 3, nil, nil)
	c50, c, e, el, p := allAPs(acc)
	for _, v := range []float64{c50, c, e, el, p} {
		if !near(v, 1) {
			t.Fatalf("perfect detections: %v %v %v %v %v, want all 1", c50, c, e, el, p)
		}
	}
	cr := acc.COCO().Classes[0]
	if cr.TP != 3 || cr.FP != 0 || cr.NumGT != 3 || cr.NumDet != 3 || cr.Recall != 1 || cr.Precision != 1 {
		t.Fatalf("counts: %+v", cr)
	}
	if acc.Frames() != 3 {
		t.Fatalf("Frames = %d", acc.Frames())
	}
}

func TestNoDetections(t *testing.T) {
	acc := New()
	mustAdd(t, acc, 1, []GT{{Box: boxA}}, nil)
	c50, c, e, el, p := allAPs(acc)
	if c50 != 0 || c != 0 || e != 0 || el != 0 || p != 0 {
		t.Fatalf("no detections: %v %v %v %v %v, want 0", c50, c, e, el, p)
	}
	res := acc.COCO()
	if res.NumClasses != 1 || res.Classes[0].NumGT != 1 {
		t.Fatalf("the class has ground truth and must count: %+v", res)
	}
	// Only false positives: also 0.
	mustAdd(t, acc, 2, nil, []Det{{Box: far, Score: 1}})
	if _, c, e, _, _ := allAPs(acc); c != 0 || e != 0 {
		t.Fatalf("only false positives: %v %v", c, e)
	}
}

func TestEmpty(t *testing.T) {
	acc := New()
	res := acc.COCO()
	if res.MAP != 0 || res.NumClasses != 0 || len(res.Classes) != 0 {
		t.Fatalf("empty: %+v", res)
	}
	acc = New(3)
	res = acc.VOC(0.5, EveryPoint)
	if len(res.Classes) != 1 || res.Classes[0].Class != 3 || res.NumClasses != 0 || res.MAP != 0 {
		t.Fatalf("declared class, no data: %+v", res)
	}
}

func TestFalsePositiveFirst(t *testing.T) {
	// One object; the top-ranked detection misses it, the second hits it:
	// precision 1/2 at recall 1, so AP 1/2 every way.
	acc := New()
	mustAdd(t, acc, 1, []GT{{Box: boxA}}, []Det{{Box: boxA, Score: 0.8}, {Box: far, Score: 0.9}})
	c50, _, e, el, p := allAPs(acc)
	if !near(c50, 0.5) || !near(e, 0.5) || !near(el, 0.5) || !near(p, 0.5) {
		t.Fatalf("FP ranked first: %v %v %v %v, want 0.5", c50, e, el, p)
	}
	// A second object never found: recall stops at 1/2.
	mustAdd(t, acc, 2, []GT{{Box: boxB}}, nil)
	_, _, e, el, p = allAPs(acc)
	if !near(e, 0.25) || !near(el, 3.0/11) || !near(p, 25.5/101) {
		t.Fatalf("half recall: every %v (want 0.25), 11pt %v (want 3/11), 101pt %v (want 25.5/101)", e, el, p)
	}
}

func TestDuplicate(t *testing.T) {
	// Two objects; detections: hit A (.9), A again (.8, a duplicate: FP), hit B (.7).
	// Curve (1/2, 1), (1/2, 1/2), (1, 2/3); envelope 1, 2/3, 2/3.
	acc := New()
	mustAdd(t, acc, 1, []GT{{Box: boxA}, {Box: boxB}},
		[]Det{{Box: boxB, Score: 0.7}, {Box: boxA, Score: 0.9}, {Box: boxA, Score: 0.8}})
	res := acc.VOC(0.5, EveryPoint)
	if cr := res.Classes[0]; cr.TP != 2 || cr.FP != 1 {
		t.Fatalf("duplicate: TP %d FP %d, want 2 and 1", cr.TP, cr.FP)
	}
	_, _, e, el, p := allAPs(acc)
	if !near(e, 0.5+0.5*2.0/3) || !near(el, (6+5*2.0/3)/11) || !near(p, (51+50*2.0/3)/101) {
		t.Fatalf("duplicate: every %v, 11pt %v, 101pt %v", e, el, p)
	}
}

func TestIgnore(t *testing.T) {
	// The top detection lands on an ignored box: neither TP nor FP, so AP stays 1.
	// Were it an FP, AP would be 1/2.
	acc := New()
	mustAdd(t, acc, 1, []GT{{Box: boxA}, {Box: boxB, Ignore: true}},
		[]Det{{Box: boxB, Score: 0.9}, {Box: boxA, Score: 0.8}})
	res := acc.COCO()
	cr := res.Classes[0]
	if cr.NumGT != 1 || cr.TP != 1 || cr.FP != 0 || cr.Ignored != 1 || !near(res.MAP, 1) {
		t.Fatalf("ignore: %+v, mAP %v", cr, res.MAP)
	}
	if _, _, e, el, _ := allAPs(acc); !near(e, 1) || !near(el, 1) {
		t.Fatalf("ignore, VOC: %v %v", e, el)
	}

	// A detection overlapping a counted box (IoU 0.6) and an ignored one (IoU 1)
	// takes the counted one.
	acc = New()
	mustAdd(t, acc, 1, []GT{{Box: r(0, 0, 100, 100), Ignore: true}, {Box: r(0, 0, 100, 60)}},
		[]Det{{Box: r(0, 0, 100, 100), Score: 0.9}})
	if cr := acc.VOC(0.5, EveryPoint).Classes[0]; cr.TP != 1 || cr.Ignored != 0 {
		t.Fatalf("counted box must win: %+v", cr)
	}

	// An ignored (non-crowd) box absorbs one detection; a second on it is an FP,
	// as in pycocotools. A crowd region absorbs any number.
	acc = New()
	mustAdd(t, acc, 1, []GT{{Box: boxA}, {Box: boxB, Ignore: true}, {Box: r(0, 200, 400, 400), Crowd: true}},
		[]Det{{Box: boxB, Score: 0.9}, {Box: boxB, Score: 0.85}, {Box: r(10, 210, 60, 260), Score: 0.8},
			{Box: r(300, 300, 350, 350), Score: 0.75}, {Box: boxA, Score: 0.7}})
	cr = acc.VOC(0.5, EveryPoint).Classes[0]
	if cr.NumGT != 1 || cr.TP != 1 || cr.FP != 1 || cr.Ignored != 3 {
		t.Fatalf("ignore and crowd: %+v, want TP 1, FP 1, ignored 3 of 1 GT", cr)
	}
	if !near(cr.AP, 0.5) {
		t.Fatalf("ignore and crowd: AP %v, want 0.5 (one FP ranked first)", cr.AP)
	}

	// Only ignored ground truth: the class has nothing to count and drops out.
	acc = New()
	mustAdd(t, acc, 1, []GT{{Class: 1, Box: boxA, Ignore: true}, {Class: 2, Box: boxA}},
		[]Det{{Class: 1, Box: boxA, Score: 0.9}, {Class: 2, Box: boxA, Score: 0.9}})
	res = acc.COCO()
	if res.NumClasses != 1 || !near(res.MAP, 1) || res.Classes[0].Class != 1 || res.Classes[0].NumGT != 0 {
		t.Fatalf("only ignored GT: %+v", res)
	}
}

func TestMultiClass(t *testing.T) {
	// Class 0 perfect (AP 1), class 1 with an FP ranked first (AP 1/2), class 2
	// with detections but no ground truth (left out), class 5 declared but absent.
	acc := New(5, 1, 0, 2)
	mustAdd(t, acc, 10, []GT{{Class: 0, Box: boxA}, {Class: 1, Box: boxB}, {Class: 7, Box: boxC}},
		[]Det{{Class: 0, Box: boxA, Score: 0.5}, {Class: 1, Box: boxB, Score: 0.4}, {Class: 1, Box: boxA, Score: 0.6},
			{Class: 2, Box: boxC, Score: 0.9}, {Class: 7, Box: boxC, Score: 0.9}})
	for _, res := range []Result{acc.COCO(), acc.VOC(0.5, EveryPoint), acc.VOC(0.5, ElevenPoint)} {
		if res.NumClasses != 2 || !near(res.MAP, 0.75) {
			t.Fatalf("%v: %d classes, mAP %v; want 2 and 0.75", res.Interpolation, res.NumClasses, res.MAP)
		}
		var got []int
		for _, c := range res.Classes {
			got = append(got, c.Class)
		}
		if !slices.Equal(got, []int{5, 1, 0, 2}) {
			t.Fatalf("class order %v, want New's (class 7 dropped)", got)
		}
		c0, _ := res.Class(0)
		c1, _ := res.Class(1)
		c2, _ := res.Class(2)
		if !near(c0.AP, 1) || !near(c1.AP, 0.5) || c2.NumGT != 0 || c2.NumDet != 1 || c2.AP != 0 || c2.FP != 1 {
			t.Fatalf("%v: per class %+v %+v %+v", res.Interpolation, c0, c1, c2)
		}
	}
	// Without declared classes: every class seen, ascending.
	acc = New()
	mustAdd(t, acc, 1, []GT{{Class: 9, Box: boxA}}, []Det{{Class: 4, Box: boxA, Score: 1}, {Class: 9, Box: boxA, Score: 1}})
	res := acc.COCO()
	if len(res.Classes) != 2 || res.Classes[0].Class != 4 || res.Classes[1].Class != 9 || res.NumClasses != 1 || !near(res.MAP, 1) {
		t.Fatalf("discovered classes: %+v", res)
	}
}

func TestCOCOThresholds(t *testing.T) {
	ious := COCOIoUs()
	want := []float64{0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95}
	for i := range want {
		if math.Abs(ious[i]-want[i]) > 1e-15 {
			t.Fatalf("COCO IoUs %v", ious)
		}
	}
	if ious[0] != 0.5 || ious[5] != 0.75 || ious[9] != 0.95 {
		t.Fatalf("0.5, 0.75 and 0.95 must be exact (pycocotools looks them up by ==): %v", ious)
	}
	// IoU exactly 0.72: a hit at 0.50..0.70, a miss at 0.75..0.95: 5 of 10.
	gt, det := r(0, 0, 100, 100), r(0, 0, 100, 72)
	if v := boxIoU(det, gt, false, false); v != 0.72 {
		t.Fatalf("IoU %v, want 0.72 exactly", v)
	}
	acc := New()
	mustAdd(t, acc, 1, []GT{{Box: gt}}, []Det{{Box: det, Score: 0.5}})
	res := acc.COCO()
	if !near(res.MAP, 0.5) || res.MAP50 != 1 || res.MAP75 != 0 {
		t.Fatalf("IoU 0.72: mAP@[.5:.95] %v (want 0.5), @0.5 %v, @0.75 %v", res.MAP, res.MAP50, res.MAP75)
	}
	if !slices.Equal(res.PerIoU, []float64{1, 1, 1, 1, 1, 0, 0, 0, 0, 0}) {
		t.Fatalf("per threshold %v", res.PerIoU)
	}
	if v, ok := res.At(0.7); !ok || v != 1 {
		t.Fatalf("At(0.7) = %v, %v", v, ok)
	}
	if _, ok := res.At(0.3); ok {
		t.Fatal("At(0.3) found a threshold COCO does not use")
	}
	// The threshold is inclusive.
	if acc.VOC(0.72, EveryPoint).MAP != 1 || acc.VOC(0.7200001, EveryPoint).MAP != 0 {
		t.Fatal("IoU >= threshold must count, IoU < threshold must not")
	}
}

func TestRecallOnAThreshold(t *testing.T) {
	// Ten objects, three found with precision 1: recall exactly 3/10. numpy's
	// 11-point grid has 3*0.1 = 0.30000000000000004, which 0.3 does not reach
	// (AP 3/11, not 4/11); its 101-point grid has 30*0.01 = 0.3, which it does.
	var gts []GT
	var dets []Det
	for i := range 10 {
		b := r(float32(i*100), 0, float32(i*100+50), 50)
		gts = append(gts, GT{Box: b})
		if i < 3 {
			dets = append(dets, Det{Box: b, Score: 0.9})
		}
	}
	acc := New()
	mustAdd(t, acc, 1, gts, dets)
	if got := acc.VOC(0.5, ElevenPoint).MAP; !near(got, 3.0/11) {
		t.Errorf("11-point AP %v, want 3/11", got)
	}
	if got := acc.VOC(0.5, Interp101).MAP; !near(got, 31.0/101) {
		t.Errorf("101-point AP %v, want 31/101", got)
	}
	if got := acc.VOC(0.5, EveryPoint).MAP; !near(got, 0.3) {
		t.Errorf("every-point AP %v, want 0.3", got)
	}
}

func TestInclusive(t *testing.T) {
	// Pixels 0..9 inclusive: 10 wide. Boxes (0,0)-(9,9) and (5,0)-(14,9):
	// 5x10 overlap, union 150 with +1; 4x9/(81+81-36) continuously.
	a, b := r(0, 0, 9, 9), r(5, 0, 14, 9)
	if v := boxIoU(a, b, false, true); !near(v, 50.0/150) {
		t.Fatalf("inclusive IoU %v", v)
	}
	if v := boxIoU(a, b, false, false); !near(v, 36.0/126) {
		t.Fatalf("continuous IoU %v", v)
	}
	if v := boxIoU(r(0, 0, 10, 10), r(10, 0, 20, 10), false, false); v != 0 {
		t.Fatalf("touching boxes overlap by %v", v)
	}
	if v := boxIoU(r(0, 0, 10, 10), r(0, 0, 20, 20), true, false); !near(v, 1) {
		t.Fatalf("crowd: det inside the region overlaps by %v, want 1", v)
	}
	if v := float64(detection.IoU(a, b)); math.Abs(v-36.0/126) > 1e-6 {
		t.Fatalf("detection.IoU disagrees: %v", v)
	}
}

func TestTiesAndDeterminism(t *testing.T) {
	// Equal scores: the image added first ranks first.
	fpFirst := New()
	mustAdd(t, fpFirst, 1, nil, []Det{{Box: far, Score: 0.5}})
	mustAdd(t, fpFirst, 2, []GT{{Box: boxA}}, []Det{{Box: boxA, Score: 0.5}})
	tpFirst := New()
	mustAdd(t, tpFirst, 2, []GT{{Box: boxA}}, []Det{{Box: boxA, Score: 0.5}})
	mustAdd(t, tpFirst, 1, nil, []Det{{Box: far, Score: 0.5}})
	if e := fpFirst.VOC(0.5, EveryPoint).MAP; !near(e, 0.5) {
		t.Fatalf("FP added first: %v, want 0.5", e)
	}
	if e := tpFirst.VOC(0.5, EveryPoint).MAP; !near(e, 1) {
		t.Fatalf("TP added first: %v, want 1", e)
	}
	// Within an image, input order decides.
	acc := New()
	mustAdd(t, acc, 1, []GT{{Box: boxA}}, []Det{{Box: far, Score: 0.5}, {Box: boxA, Score: 0.5}})
	if e := acc.VOC(0.5, EveryPoint).MAP; !near(e, 0.5) {
		t.Fatalf("tie within an image: %v, want 0.5", e)
	}
	// Repeated evaluation gives identical results, and adding more frames later works.
	a, b := acc.COCO(), acc.COCO()
	if a.MAP != b.MAP || !slices.Equal(a.PerIoU, b.PerIoU) {
		t.Fatal("COCO not deterministic")
	}
	mustAdd(t, acc, 2, []GT{{Box: boxB}}, []Det{{Box: boxB, Score: 0.9}})
	if e := acc.VOC(0.5, EveryPoint).MAP; !near(e, 0.5*1+0.5*2.0/3) {
		t.Fatalf("after a later frame: %v", e)
	}
}

func TestAddErrors(t *testing.T) {
	acc := New()
	mustAdd(t, acc, 1, []GT{{Box: boxA}}, nil)
	if err := acc.Add(1, nil, nil); err == nil {
		t.Fatal("duplicate image id accepted")
	}
	if err := acc.Add(2, nil, []Det{{Box: boxA, Score: float32(math.NaN())}}); err == nil {
		t.Fatal("NaN score accepted")
	}
	if err := acc.Add(3, []GT{{Box: r(0, 0, float32(math.Inf(1)), 1)}}, nil); err == nil {
		t.Fatal("infinite box accepted")
	}
	if acc.Frames() != 1 || acc.COCO().Classes[0].NumGT != 1 {
		t.Fatal("a failed Add left state behind")
	}
	if err := acc.Add(2, nil, nil); err != nil {
		t.Fatalf("id of a failed Add must stay free: %v", err)
	}
}

func TestAdapters(t *testing.T) {
	rows := []mot.GTBox{{Box: boxA, Eval: true}, {Box: boxB, Eval: false}}
	gts := FromMOT(nil, rows, 0)
	if len(gts) != 2 || gts[0].Ignore || !gts[1].Ignore || gts[1].Box != boxB {
		t.Fatalf("FromMOT: %+v", gts)
	}
	dets := FromDetections(nil, []detection.Detection{{Box: boxA, Class: 3, Score: 0.25}})
	if len(dets) != 1 || dets[0] != (Det{Class: 3, Box: boxA, Score: 0.25}) {
		t.Fatalf("FromDetections: %+v", dets)
	}
}

// ---- cross-check against a literal port of pycocotools and the VOC devkit ----

type refImage struct {
	gts  []GT
	dets []Det
}

func cmpBool(x, y bool) int {
	switch {
	case x == y:
		return 0
	case !x:
		return -1
	}
	return 1
}

// refOutcomes is pycocotools' COCOeval.evaluateImg + the first half of
// accumulate, ported line by line for one class and one threshold: detection
// scores in global order with their matched/ignored flags, and npig.
func refOutcomes(imgs []refImage, class int, thr float64) (scores []float64, dtm, dtIg []bool, npig int) {
	type sd struct {
		score  float64
		m, ign bool
	}
	var all []sd
	for _, im := range imgs {
		var g []GT
		var d []Det
		for _, x := range im.gts {
			if x.Class == class {
				g = append(g, x)
			}
		}
		for _, x := range im.dets {
			if x.Class == class {
				d = append(d, x)
			}
		}
		if len(g) == 0 && len(d) == 0 {
			continue
		}
		gtIg := func(x GT) bool { return x.Ignore || x.Crowd }
		slices.SortStableFunc(g, func(a, b GT) int { return cmpBool(gtIg(a), gtIg(b)) })
		slices.SortStableFunc(d, func(a, b Det) int {
			switch {
			case -a.Score < -b.Score:
				return -1
			case -a.Score > -b.Score:
				return 1
			}
			return 0
		})
		gtm := make([]bool, len(g))
		for _, x := range g {
			if !gtIg(x) {
				npig++
			}
		}
		for _, det := range d {
			iou := min(thr, 1-1e-10)
			m := -1
			for gind, gt := range g {
				if gtm[gind] && !gt.Crowd {
					continue
				}
				if m > -1 && !gtIg(g[m]) && gtIg(gt) {
					break
				}
				v := boxIoU(det.Box, gt.Box, gt.Crowd, false)
				if v < iou {
					continue
				}
				iou, m = v, gind
			}
			s := sd{score: float64(det.Score)}
			if m != -1 {
				s.ign, s.m = gtIg(g[m]), true
				gtm[m] = true
			}
			all = append(all, s)
		}
	}
	slices.SortStableFunc(all, func(a, b sd) int {
		switch {
		case -a.score < -b.score:
			return -1
		case -a.score > -b.score:
			return 1
		}
		return 0
	})
	for _, s := range all {
		scores = append(scores, s.score)
		dtm = append(dtm, s.m)
		dtIg = append(dtIg, s.ign)
	}
	return scores, dtm, dtIg, npig
}

// refCOCOAP is pycocotools' accumulate for one class and threshold (-1 when
// the class has no counted ground truth).
func refCOCOAP(imgs []refImage, class int, thr float64) float64 {
	_, dtm, dtIg, npig := refOutcomes(imgs, class, thr)
	if npig == 0 {
		return -1
	}
	eps := math.Nextafter(1, 2) - 1 // np.spacing(1)
	nd := len(dtm)
	rc, pr := make([]float64, nd), make([]float64, nd)
	tp, fp := 0.0, 0.0
	for i := range dtm {
		if dtm[i] && !dtIg[i] {
			tp++
		}
		if !dtm[i] && !dtIg[i] {
			fp++
		}
		rc[i] = tp / float64(npig)
		pr[i] = tp / (fp + tp + eps)
	}
	for i := nd - 1; i > 0; i-- {
		if pr[i] > pr[i-1] {
			pr[i-1] = pr[i]
		}
	}
	q := 0.0
	for _, rt := range linspace(0, 1, 101) {
		pi, _ := slices.BinarySearch(rc, rt) // searchsorted side='left'
		if pi >= nd {
			break
		}
		q += pr[pi]
	}
	return q / 101
}

// refVOCAP is the py-faster-rcnn voc_eval / Padilla interpolation over the
// same outcomes: ignored detections stay in the arrays with neither TP nor FP.
func refVOCAP(imgs []refImage, class int, thr float64, method Interpolation) float64 {
	_, dtm, dtIg, npos := refOutcomes(imgs, class, thr)
	if npos == 0 {
		return -1
	}
	nd := len(dtm)
	rec, prec := make([]float64, nd), make([]float64, nd)
	tp, fp := 0.0, 0.0
	for i := range dtm {
		if !dtIg[i] {
			if dtm[i] {
				tp++
			} else {
				fp++
			}
		}
		rec[i] = tp / float64(npos)
		prec[i] = tp / math.Max(tp+fp, math.SmallestNonzeroFloat64)
	}
	if method == ElevenPoint {
		ap := 0.0
		for i := range 11 {
			t := float64(i) * 0.1 // np.arange(0., 1.1, 0.1)
			p := 0.0
			for j := range rec {
				if rec[j] >= t {
					p = max(p, prec[j])
				}
			}
			ap += p / 11
		}
		return ap
	}
	mrec := append(append([]float64{0}, rec...), 1)
	mpre := append(append([]float64{0}, prec...), 0)
	for i := len(mpre) - 1; i > 0; i-- {
		mpre[i-1] = max(mpre[i-1], mpre[i])
	}
	ap := 0.0
	for i := 0; i+1 < len(mrec); i++ {
		if mrec[i+1] != mrec[i] {
			ap += (mrec[i+1] - mrec[i]) * mpre[i+1]
		}
	}
	return ap
}

// randomImages makes scenes on a coarse grid (so exact IoU ties, IoUs on the
// thresholds and score ties are common) with ignored and crowd boxes, 3 classes.
func randomImages(rng *rand.Rand, n, boxes int) []refImage {
	imgs := make([]refImage, n)
	rb := func() detection.Rect {
		x, y := float32(rng.IntN(8)*10), float32(rng.IntN(8)*10)
		return r(x, y, x+float32(10+rng.IntN(6)*10), y+float32(10+rng.IntN(6)*10))
	}
	for i := range imgs {
		for range rng.IntN(boxes + 1) {
			g := GT{Class: rng.IntN(3), Box: rb()}
			switch rng.IntN(10) {
			case 0:
				g.Ignore = true
			case 1:
				g.Crowd = true
			}
			imgs[i].gts = append(imgs[i].gts, g)
		}
		for range rng.IntN(boxes + 1) {
			var b detection.Rect
			if len(imgs[i].gts) > 0 && rng.IntN(3) > 0 { // jitter a ground truth
				b = imgs[i].gts[rng.IntN(len(imgs[i].gts))].Box
				b.X1 += float32(rng.IntN(3)*5 - 5)
				b.Y2 += float32(rng.IntN(3)*5 - 5)
			} else {
				b = rb()
			}
			imgs[i].dets = append(imgs[i].dets, Det{Class: rng.IntN(3), Box: b, Score: float32(rng.IntN(10)) / 10})
		}
	}
	return imgs
}

func TestAgainstReferencePorts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 220 {
		boxes := 8
		if trial >= 200 { // crowded frames: more than 48 detections of a class
			boxes = 300
		}
		imgs := randomImages(rng, 1+rng.IntN(12), boxes)
		acc := New()
		for i, im := range imgs {
			mustAdd(t, acc, i, im.gts, im.dets)
		}
		coco := acc.COCO()
		for _, cr := range coco.Classes {
			for ti, thr := range coco.IoUs {
				want := refCOCOAP(imgs, cr.Class, thr)
				got := cr.PerIoU[ti]
				if want == -1 {
					if cr.NumGT != 0 || got != 0 {
						t.Fatalf("trial %d class %d: no counted GT in the reference, got NumGT %d AP %v", trial, cr.Class, cr.NumGT, got)
					}
					continue
				}
				if math.Abs(got-want) > 1e-9 {
					t.Fatalf("trial %d class %d IoU %.2f: COCO AP %v, pycocotools port %v", trial, cr.Class, thr, got, want)
				}
			}
		}
		for _, thr := range []float64{0.3, 0.5, 0.7} {
			for _, m := range []Interpolation{EveryPoint, ElevenPoint} {
				res := acc.VOC(thr, m)
				for _, cr := range res.Classes {
					want := refVOCAP(imgs, cr.Class, thr, m)
					if want == -1 {
						continue
					}
					if math.Abs(cr.AP-want) > 1e-9 {
						t.Fatalf("trial %d class %d IoU %.2f %v: AP %v, devkit port %v", trial, cr.Class, thr, m, cr.AP, want)
					}
				}
			}
		}
	}
}

// ---- benchmark ----

func benchFrames(frames, boxes int) []refImage {
	rng := rand.New(rand.NewPCG(7, 7))
	out := make([]refImage, frames)
	for f := range out {
		gts := make([]GT, boxes)
		dets := make([]Det, boxes)
		for i := range boxes {
			x, y := rng.Float32()*1800, rng.Float32()*1000
			w, h := 20+rng.Float32()*100, 40+rng.Float32()*200
			gts[i] = GT{Class: i % 3, Box: r(x, y, x+w, y+h), Ignore: i%10 == 9}
			dx, dy := (rng.Float32()-0.5)*w*0.3, (rng.Float32()-0.5)*h*0.3
			dets[i] = Det{Class: i % 3, Box: r(x+dx, y+dy, x+dx+w, y+dy+h), Score: rng.Float32()}
			if i%7 == 0 { // some false positives
				dets[i].Box = r(y, x, y+w, x+h)
			}
		}
		out[f] = refImage{gts, dets}
	}
	return out
}

// BenchmarkAccumulate: 1000 frames x 30 ground truths and 30 detections
// (3 classes), then COCO (10 thresholds) and VOC every-point at 0.5.
func BenchmarkAccumulate(b *testing.B) {
	frames := benchFrames(1000, 30)
	b.Run("Add", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			acc := New()
			for i, f := range frames {
				acc.Add(i, f.gts, f.dets)
			}
		}
	})
	acc := New()
	for i, f := range frames {
		acc.Add(i, f.gts, f.dets)
	}
	b.Run("COCO", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			acc.COCO()
		}
	})
	b.Run("VOC", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			acc.VOC(0.5, EveryPoint)
		}
	})
	b.Run("AddAndCOCO", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			acc := New()
			for i, f := range frames {
				acc.Add(i, f.gts, f.dets)
			}
			acc.COCO()
		}
	})
}
