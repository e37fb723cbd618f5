package yolo

import (
	"math"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/preprocess"
)

// checkOne asserts that dets is exactly one detection of class at box with score.
func checkOne(t *testing.T, dets []detection.Detection, box detection.Rect, class int, score float32) {
	t.Helper()
	if len(dets) != 1 {
		t.Fatalf("got %d detections %+v, want 1", len(dets), dets)
	}
	g := dets[0]
	if !rectNear(g.Box, box) || g.Class != class || !near(g.Score, score) {
		t.Fatalf("got %+v, want box %v class %d score %v", g, box, class, score)
	}
}

func TestDecodeYOLOv5(t *testing.T) {
	const w, h, c = 64, 64, 3
	rows := 3 * NumAnchors(w, h)
	out := make([]float32, rows*(5+c))
	put := func(i int, cx, cy, bw, bh, obj float32, class int, cls float32) {
		r := out[i*(5+c):]
		r[0], r[1], r[2], r[3], r[4], r[5+class] = cx, cy, bw, bh, obj, cls
	}
	put(100, 20, 30, 10, 20, 0.9, 2, 0.8)  // score 0.72
	put(101, 21, 30, 10, 20, 0.9, 2, 0.5)  // same object, weaker: suppressed
	put(200, 50, 50, 4, 4, 0.2, 1, 1)      // objectness below threshold
	put(rows-1, 60, 8, 8, 8, 0.5, 0, 0.55) // below threshold as a product: 0.275
	d := mustDecoder(t, Config{InputW: w, InputH: h, Layout: LayoutYOLOv5, NumClasses: c})
	checkOne(t, d.Decode(out, identity, w, h, nil), detection.Rect{X1: 15, Y1: 20, X2: 25, Y2: 40}, 2, 0.72)
}

// gflHead is a synthetic GFL head: per level a score map and a DFL map,
// written in the given output order.
type gflHead struct {
	w, h, c, bins int
	strides       []int
	outs          [][]float32 // scores of every level, then distances
}

func newGFL(w, h, c, bins int, strides ...int) *gflHead {
	g := &gflHead{w: w, h: h, c: c, bins: bins, strides: strides}
	for _, s := range strides {
		g.outs = append(g.outs, make([]float32, gflCells(w, h, s)*c))
	}
	for _, s := range strides {
		g.outs = append(g.outs, make([]float32, gflCells(w, h, s)*4*bins))
	}
	return g
}

// put places an object at cell (col, row) of level li with distances l, t,
// r, b in strides (whole bins: one-hot logits decode to exactly them).
func (g *gflHead) put(li, col, row int, class int, score float32, l, t, r, b int) {
	s := g.strides[li]
	gw := (g.w + s - 1) / s
	i := row*gw + col
	g.outs[li][i*g.c+class] = score
	reg := g.outs[len(g.strides)+li][i*4*g.bins:]
	for side, k := range []int{l, t, r, b} {
		for j := range g.bins {
			reg[side*g.bins+j] = -30
		}
		reg[side*g.bins+k] = 30
	}
}

func (g *gflHead) tensors() []Tensor {
	var ts []Tensor
	for _, o := range g.outs {
		cols := g.c
		if len(ts) >= len(g.strides) {
			cols = 4 * g.bins
		}
		ts = append(ts, Tensor{Name: "o", Shape: []int64{1, int64(len(o) / cols), int64(cols)}})
	}
	return ts
}

func TestDecodePicoDet(t *testing.T) {
	// 416x416 as the real model: 52x52, 26x26, 13x13, 7x7 cells.
	g := newGFL(416, 416, 80, 8, 8, 16, 32, 64)
	// Stride 16, cell (10, 5): centre (168, 88); l=2, t=1, r=3, b=4 strides.
	g.put(1, 10, 5, 0, 0.6, 2, 1, 3, 4)
	// Stride 64, last cell (6, 6): centre (416, 416), past the input.
	g.put(3, 6, 6, 2, 0.9, 1, 1, 0, 0)
	cfg, err := DetectHead(g.tensors(), 416, 416)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Layout != LayoutPicoDet || cfg.NumClasses != 80 || cfg.Bins != 8 || len(cfg.Levels) != 4 || cfg.Levels[3] != (Level{Stride: 64, Scores: 3, Dists: 7}) {
		t.Fatalf("DetectHead = %+v", cfg)
	}
	cfg.ScoreThreshold = 0.5
	d := mustDecoder(t, cfg)
	got := d.DecodeOutputs(g.outs, identity, 416, 416, nil)
	want := []detection.Detection{
		{Box: detection.Rect{X1: 416 - 64, Y1: 416 - 64, X2: 416, Y2: 416}, Class: 2, Score: 0.9},
		{Box: detection.Rect{X1: 168 - 32, Y1: 88 - 16, X2: 168 + 48, Y2: 88 + 64}, Class: 0, Score: 0.6},
	}
	if len(got) != 2 {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if !rectNear(got[i].Box, want[i].Box) || got[i].Class != want[i].Class || !near(got[i].Score, want[i].Score) {
			t.Errorf("detection %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Fractional distances: equal logits on bins 2 and 3 decode to 2.5.
	reg := g.outs[4+1][(5*26+10)*32:]
	reg[3] = 30
	if got := d.DecodeOutputs(g.outs, identity, 416, 416, nil); !near(got[1].Box.X1, 168-2.5*16) {
		t.Errorf("left edge %v, want %v", got[1].Box.X1, 168-2.5*16)
	}
}

func TestDecodeNanoDetOutputsByShape(t *testing.T) {
	// NanoDet's outputs interleave levels and kinds; pairing goes by shape.
	g := newGFL(416, 416, 80, 8, 8, 16, 32)
	g.put(0, 3, 4, 0, 0.5, 1, 1, 1, 1) // stride 8, cell (3,4): centre 3*8+3.5 = 27.5, 35.5
	order := []int{0, 3, 1, 4, 2, 5}   // scores8, dists8, scores16, ...
	outs := make([][]float32, 6)
	ts := make([]Tensor, 6)
	all := g.tensors()
	for i, j := range order {
		outs[i], ts[i] = g.outs[j], all[j]
	}
	cfg, err := DetectHead(ts, 416, 416)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Layout != LayoutNanoDet || cfg.Levels[0] != (Level{Stride: 8, Scores: 0, Dists: 1}) {
		t.Fatalf("DetectHead = %+v", cfg)
	}
	d := mustDecoder(t, cfg)
	checkOne(t, d.DecodeOutputs(outs, identity, 416, 416, nil), detection.Rect{X1: 19.5, Y1: 27.5, X2: 35.5, Y2: 43.5}, 0, 0.5)
	// Declared PicoDet, the same outputs decode with PicoDet's centres.
	pc, err := cfg.WithLayout(LayoutPicoDet)
	if err != nil {
		t.Fatal(err)
	}
	checkOne(t, mustDecoder(t, pc).DecodeOutputs(outs, identity, 416, 416, nil), detection.Rect{X1: 20, Y1: 28, X2: 36, Y2: 44}, 0, 0.5)
	if _, err := cfg.WithLayout(LayoutYOLOX); err == nil {
		t.Error("a GFL head was accepted as YOLOX")
	}
}

func TestDecodeDETR(t *testing.T) {
	const q, c = 300, 80
	boxes := make([]float32, q*4)
	scores := make([]float32, q*c)
	copy(boxes[7*4:], []float32{0.5, 0.25, 0.1, 0.2}) // 640x480: centre (320,120), 64x96
	scores[7*c+0] = 0.8
	copy(boxes[8*4:], []float32{0.51, 0.25, 0.1, 0.2}) // overlapping: NMS-free keeps it
	scores[8*c+0] = 0.7
	scores[9*c+5] = 0.1
	// Scores second, as RT-DETR exports them; boxes found by shape.
	cfg, err := DetectHead([]Tensor{{"pred_boxes", []int64{1, q, 4}}, {"scores", []int64{1, q, c}}}, 640, 480)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Layout != LayoutDETR || cfg.Boxes != 0 || cfg.Scores != 1 || cfg.NumClasses != c || cfg.Rows != q || cfg.ScoreLogits {
		t.Fatalf("DetectHead = %+v", cfg)
	}
	got := mustDecoder(t, cfg).DecodeOutputs([][]float32{boxes, scores}, identity, 640, 480, nil)
	if len(got) != 2 || !rectNear(got[0].Box, detection.Rect{X1: 288, Y1: 72, X2: 352, Y2: 168}) || got[0].Score != 0.8 {
		t.Fatalf("got %+v", got)
	}
	// Logits, outputs the other way round.
	for i := range scores {
		scores[i] = -10
	}
	scores[7*c+3] = float32(math.Log(0.9 / 0.1)) // sigmoid 0.9
	cfg, err = DetectHead([]Tensor{{"logits", []int64{1, q, c}}, {"pred_boxes", []int64{1, q, 4}}}, 640, 480)
	if err != nil || !cfg.ScoreLogits || cfg.Boxes != 1 {
		t.Fatalf("DetectHead = %+v, %v", cfg, err)
	}
	checkOne(t, mustDecoder(t, cfg).DecodeOutputs([][]float32{scores, boxes}, identity, 640, 480, nil),
		detection.Rect{X1: 288, Y1: 72, X2: 352, Y2: 168}, 3, 0.9)
}

func TestDecodeEndToEnd(t *testing.T) {
	const k = 300
	out := make([]float32, k*6)
	copy(out[0:], []float32{10, 20, 110, 220, 0.9, 0})
	copy(out[6:], []float32{12, 20, 110, 220, 0.8, 0}) // overlapping: the graph's NMS kept it, so do we
	copy(out[12:], []float32{1, 2, 3, 4, 0.7, 80})     // class out of range
	copy(out[18:], []float32{300, 300, 400, 400, 0.6, 2})
	cfg, err := DetectHead([]Tensor{{"output0", []int64{1, k, 6}}}, 640, 640)
	if err != nil || cfg.Layout != LayoutEndToEnd || cfg.Rows != k {
		t.Fatalf("DetectHead = %+v, %v", cfg, err)
	}
	got := mustDecoder(t, cfg).Decode(out, identity, 640, 640, nil)
	if len(got) != 3 || got[0].Box != (detection.Rect{X1: 10, Y1: 20, X2: 110, Y2: 220}) || got[2].Class != 2 {
		t.Fatalf("got %+v", got)
	}
	cfg.Classes = []int{2}
	checkOne(t, mustDecoder(t, cfg).Decode(out, identity, 640, 640, nil), detection.Rect{X1: 300, Y1: 300, X2: 400, Y2: 400}, 2, 0.6)
}

// A centred letterbox's offset and a stretch's two scales map boxes back.
func TestDecodeCentredAndStretched(t *testing.T) {
	const k = 10
	out := make([]float32, k*6)
	// 1920x1080 centred into 640x640: scale 1/3, image rows 140..500.
	copy(out[0:], []float32{100, 140, 200, 240, 0.9, 0})
	cfg := Config{InputW: 640, InputH: 640, Layout: LayoutEndToEnd, NumClasses: 80, Rows: k}
	d := mustDecoder(t, cfg)
	tr := preprocess.NewTransformFor(preprocess.ResizeCentred, 1920, 1080, 640, 640)
	checkOne(t, d.Decode(out, tr, 1920, 1080, nil), detection.Rect{X1: 300, Y1: 0, X2: 600, Y2: 300}, 0, 0.9)
	tr = preprocess.NewTransformFor(preprocess.ResizeStretch, 1920, 1080, 640, 640)
	checkOne(t, d.Decode(out, tr, 1920, 1080, nil), detection.Rect{X1: 300, Y1: 140 * 1080 / 640.0, X2: 600, Y2: 240 * 1080 / 640.0}, 0, 0.9)
	// A box entirely in the centred letterbox's top padding is dropped.
	copy(out[0:], []float32{100, 10, 200, 100, 0.9, 0})
	tr = preprocess.NewTransformFor(preprocess.ResizeCentred, 1920, 1080, 640, 640)
	if got := d.Decode(out, tr, 1920, 1080, nil); len(got) != 0 {
		t.Errorf("box in the padding kept: %+v", got)
	}
}

func TestDetectHeadUnknown(t *testing.T) {
	cases := []struct {
		outs []Tensor
		msg  string
	}{
		{[]Tensor{{"a", []int64{1, 100, 4}}, {"b", []int64{1, 99, 80}}}, "DETR"},
		{[]Tensor{{"a", []int64{1, 3}}, {"b", []int64{1, 3}}, {"c", []int64{1, 3}}}, "3 outputs"},
		{[]Tensor{{"s", []int64{1, 2704, 80}}, {"s2", []int64{1, 676, 80}}, {"d", []int64{1, 2704, 30}}, {"d2", []int64{1, 676, 30}}}, "DFL"},
		{[]Tensor{{"s", []int64{1, 2000, 80}}, {"d", []int64{1, 2000, 32}}, {"s2", []int64{1, 676, 80}}, {"d2", []int64{1, 676, 32}}}, "no stride's grid"},
		{[]Tensor{{"out", []int64{1, 1000, 7}}}, "YOLOX"},
	}
	for _, c := range cases {
		_, err := DetectHead(c.outs, 416, 416)
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "Supported: yolox") || !strings.Contains(err.Error(), c.outs[0].String()) {
			t.Errorf("DetectHead(%v) error %v, want it to name %q, the outputs and the supported formats", c.outs, err, c.msg)
		}
	}
}

// Every decoder decodes without allocating once its buffers are warm.
func TestDecodeAllocsEveryHead(t *testing.T) {
	g := newGFL(416, 416, 80, 8, 8, 16, 32, 64)
	for i := range 30 {
		g.put(i%4, i%7, i%5, i%3, 0.3+float32(i)/100, 1, 2, 3, 4)
	}
	e2e := make([]float32, 300*6)
	for i := range 50 {
		copy(e2e[i*6:], []float32{float32(i), 200, float32(i) + 20, 240, 0.5, 0})
	}
	v5 := make([]float32, 3*NumAnchors(64, 64)*7)
	for i := range 40 {
		copy(v5[i*7*3:], []float32{float32(i), 200, 8, 8, 0.9, 0.8, 0.1})
	}
	detrBoxes, detrScores := make([]float32, 100*4), make([]float32, 100*2)
	for i := range 100 {
		copy(detrBoxes[i*4:], []float32{0.5, 0.5, 0.1, 0.1})
		detrScores[i*2+i%2] = 0.6
	}
	cases := []struct {
		name string
		cfg  Config
		outs [][]float32
	}{
		{"yolov5", Config{InputW: 64, InputH: 64, Layout: LayoutYOLOv5, NumClasses: 2}, [][]float32{v5}},
		{"picodet", Config{InputW: 416, InputH: 416, Layout: LayoutPicoDet, NumClasses: 80, Bins: 8,
			Levels: []Level{{8, 0, 4}, {16, 1, 5}, {32, 2, 6}, {64, 3, 7}}}, g.outs},
		{"detr", Config{InputW: 640, InputH: 640, Layout: LayoutDETR, NumClasses: 2, Rows: 100, Boxes: 0, Scores: 1, ScoreLogits: true}, [][]float32{detrBoxes, detrScores}},
		{"e2e", Config{InputW: 640, InputH: 640, Layout: LayoutEndToEnd, NumClasses: 80, Rows: 300}, [][]float32{e2e}},
	}
	tr := preprocess.NewTransformFor(preprocess.ResizeCentred, 1920, 1080, 416, 416)
	for _, c := range cases {
		d := mustDecoder(t, c.cfg)
		var dst []detection.Detection
		dst = d.DecodeOutputs(c.outs, tr, 1920, 1080, dst)
		if len(dst) == 0 {
			t.Fatalf("%s: nothing decoded", c.name)
		}
		if a := testing.AllocsPerRun(20, func() { dst = d.DecodeOutputs(c.outs, tr, 1920, 1080, dst) }); a != 0 {
			t.Errorf("%s: %v allocations per decode, want 0", c.name, a)
		}
	}
}
