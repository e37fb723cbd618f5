package yolo

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/preprocess"
)

// yoloxHead is a synthetic [1, N, 5+C] output, all zero (nothing detected).
type yoloxHead struct {
	w, h, c int
	out     []float32
}

func newYOLOX(w, h, c int) *yoloxHead {
	return &yoloxHead{w, h, c, make([]float32, NumAnchors(w, h)*(5+c))}
}

// row is the anchor index of grid cell (gx, gy) at stride s.
func (y *yoloxHead) row(s, gx, gy int) int {
	i := 0
	for _, st := range strides {
		if st == s {
			return i + gy*(y.w/s) + gx
		}
		i += (y.w / st) * (y.h / st)
	}
	panic("bad stride")
}

// put writes a prediction at cell (gx, gy) of stride s: centre offset (dx, dy)
// in cells, size (bw, bh) in input pixels.
func (y *yoloxHead) put(s, gx, gy int, dx, dy, bw, bh, obj float32, class int, cls float32) {
	r := y.out[y.row(s, gx, gy)*(5+y.c):][:5+y.c]
	r[0], r[1] = dx, dy
	r[2] = float32(math.Log(float64(bw) / float64(s)))
	r[3] = float32(math.Log(float64(bh) / float64(s)))
	r[4] = obj
	r[5+class] = cls
}

// v8Head is a synthetic [1, 4+C, N] output.
type v8Head struct {
	n, c int
	out  []float32
}

func newV8(w, h, c int) *v8Head {
	n := NumAnchors(w, h)
	return &v8Head{n, c, make([]float32, n*(4+c))}
}

func (v *v8Head) put(j int, cx, cy, bw, bh float32, class int, score float32) {
	v.out[j], v.out[v.n+j], v.out[2*v.n+j], v.out[3*v.n+j] = cx, cy, bw, bh
	v.out[(4+class)*v.n+j] = score
}

func mustDecoder(t testing.TB, cfg Config) *Decoder {
	t.Helper()
	d, err := NewDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func near(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-4 }

func rectNear(a, b detection.Rect) bool {
	return near(a.X1, b.X1) && near(a.Y1, b.Y1) && near(a.X2, b.X2) && near(a.Y2, b.Y2)
}

var identity = preprocess.Transform{Scale: 1}

func TestDecodeYOLOX(t *testing.T) {
	// 64x64 input: grids 8x8, 4x4, 2x2 = 84 anchors.
	h := newYOLOX(64, 64, 3)
	// Stride 8, cell (3,2): centre (3.5*8, 2.25*8) = (28, 18), size 8x8 (log 0: exact).
	h.put(8, 3, 2, 0.5, 0.25, 8, 8, 0.9, 1, 0.8)
	// Stride 16, cell (1,3): centre (24, 56), 16x32.
	h.put(16, 1, 3, 0.5, 0.5, 16, 32, 1.0, 2, 0.6)
	// Stride 32, cell (1,0): centre (48, 8), 40x20 (clamped at the top).
	h.put(32, 1, 0, 0.5, 0.25, 40, 20, 0.5, 0, 0.9)
	d := mustDecoder(t, Config{InputW: 64, InputH: 64, Layout: LayoutYOLOX, NumClasses: 3})
	got := d.Decode(h.out, identity, 64, 64, nil)
	want := []detection.Detection{
		{Box: detection.Rect{X1: 24, Y1: 14, X2: 32, Y2: 22}, Class: 1, Score: 0.72},
		{Box: detection.Rect{X1: 16, Y1: 40, X2: 32, Y2: 64}, Class: 2, Score: 0.6}, // Y2 72 clamped
		{Box: detection.Rect{X1: 28, Y1: 0, X2: 64, Y2: 18}, Class: 0, Score: 0.45}, // (28,-2)-(68,18) clamped
	}
	if len(got) != len(want) {
		t.Fatalf("got %d detections %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !rectNear(g.Box, w.Box) || g.Class != w.Class || !near(g.Score, w.Score) || g.Source != detection.SourceEdge {
			t.Errorf("detection %d = %+v, want %+v", i, g, w)
		}
	}
	// The exactly representable box decodes exactly.
	if got[0].Box != want[0].Box {
		t.Errorf("stride-8 box %v, want exactly %v", got[0].Box, want[0].Box)
	}
}

func TestDecodeYOLOXBestClass(t *testing.T) {
	h := newYOLOX(64, 64, 4)
	h.put(8, 0, 0, 0.5, 0.5, 8, 8, 0.8, 1, 0.5)
	h.out[h.row(8, 0, 0)*9+5+3] = 0.9 // class 3 beats class 1
	d := mustDecoder(t, Config{InputW: 64, InputH: 64, Layout: LayoutYOLOX, NumClasses: 4})
	got := d.Decode(h.out, identity, 64, 64, nil)
	if len(got) != 1 || got[0].Class != 3 || !near(got[0].Score, 0.72) {
		t.Fatalf("got %+v, want one class-3 detection scoring 0.72", got)
	}
	// With a filter that excludes class 3, the best allowed class wins.
	d = mustDecoder(t, Config{InputW: 64, InputH: 64, Layout: LayoutYOLOX, NumClasses: 4, Classes: []int{1, 2}})
	got = d.Decode(h.out, identity, 64, 64, nil)
	if len(got) != 1 || got[0].Class != 1 || !near(got[0].Score, 0.4) {
		t.Fatalf("filtered: got %+v, want one class-1 detection scoring 0.4", got)
	}
}

// TestBestClassMatchesScan checks the four-chain maximum against the plain
// compare-and-keep scan it replaced: the same class and score for rows with
// ties, signed zeros, NaNs, infinities and lengths that are not a multiple
// of four.
func TestBestClassMatchesScan(t *testing.T) {
	scan := func(scores []float32) (int, float32) {
		bc, bs := -1, float32(math.Inf(-1))
		for c, v := range scores {
			if v > bs {
				bc, bs = c, v
			}
		}
		return bc, bs
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	special := []float32{nan, inf, -inf, 0, negZero, 0.5, 0.5, 1}
	rows := [][]float32{{negZero, 0}, {0, negZero}, {nan, negZero, 0, 0, 0}, {-inf, nan}, {}}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 20000 {
		row := make([]float32, rng.IntN(90))
		for j := range row {
			if rng.IntN(8) == 0 {
				row[j] = special[rng.IntN(len(special))]
			} else {
				row[j] = float32(rng.IntN(16)) / 16 // coarse: ties are common
			}
		}
		rows = append(rows, row)
	}
	for i, row := range rows {
		wc, ws := scan(row)
		gc, gs := bestClass(row, nil)
		if gc != wc || math.Float32bits(gs) != math.Float32bits(ws) {
			t.Fatalf("row %d %v: bestClass (%d, %v), scan (%d, %v)", i, row, gc, gs, wc, ws)
		}
	}
}

func TestDecodeV8(t *testing.T) {
	h := newV8(64, 96, 5)
	h.put(0, 10, 20, 8, 10, 4, 0.9)
	h.put(h.n-1, 50, 80, 20, 30, 0, 0.5)
	h.put(37, 40, 40, 10, 10, 2, 0.7)
	h.out[(4+3)*h.n+37] = 0.2 // a weaker class on the same anchor
	d := mustDecoder(t, Config{InputW: 64, InputH: 96, Layout: LayoutYOLOv8, NumClasses: 5})
	got := d.Decode(h.out, identity, 64, 96, nil)
	want := []detection.Detection{
		{Box: detection.Rect{X1: 6, Y1: 15, X2: 14, Y2: 25}, Class: 4, Score: 0.9},
		{Box: detection.Rect{X1: 35, Y1: 35, X2: 45, Y2: 45}, Class: 2, Score: 0.7},
		{Box: detection.Rect{X1: 40, Y1: 65, X2: 60, Y2: 95}, Class: 0, Score: 0.5},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("detection %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestThreshold(t *testing.T) {
	h := newYOLOX(64, 64, 2)
	h.put(8, 0, 0, 0.5, 0.5, 8, 8, 0.5, 0, 0.5)  // 0.25: below 0.3
	h.put(8, 4, 0, 0.5, 0.5, 8, 8, 0.25, 0, 1)   // objectness alone below
	h.put(8, 0, 4, 0.5, 0.5, 8, 8, 1, 1, 0.3)    // exactly at the threshold: kept
	h.put(16, 3, 3, 0.5, 0.5, 8, 8, 0.9, 1, 0.9) // clearly above
	d := mustDecoder(t, Config{InputW: 64, InputH: 64, Layout: LayoutYOLOX, NumClasses: 2})
	got := d.Decode(h.out, identity, 64, 64, nil)
	if len(got) != 2 || !near(got[0].Score, 0.81) || !near(got[1].Score, 0.3) {
		t.Fatalf("default threshold: got %+v", got)
	}
	d = mustDecoder(t, Config{InputW: 64, InputH: 64, Layout: LayoutYOLOX, NumClasses: 2, ScoreThreshold: 0.2})
	if got := d.Decode(h.out, identity, 64, 64, nil); len(got) != 4 {
		t.Fatalf("threshold 0.2: got %d detections, want 4", len(got))
	}
	// NaN outputs (a broken model) are never candidates.
	h.out[h.row(32, 1, 1)*7+4] = float32(math.NaN())
	h.out[h.row(32, 1, 1)*7+5] = float32(math.NaN())
	if got := d.Decode(h.out, identity, 64, 64, nil); len(got) != 4 {
		t.Fatalf("with NaN row: got %d detections, want 4", len(got))
	}
}

func TestClassFilter(t *testing.T) {
	v := newV8(64, 64, 4)
	v.put(0, 10, 10, 8, 8, 0, 0.9)
	v.put(1, 30, 10, 8, 8, 1, 0.8)
	v.put(2, 50, 10, 8, 8, 2, 0.7)
	v.put(3, 10, 50, 8, 8, 3, 0.6)
	d := mustDecoder(t, Config{InputW: 64, InputH: 64, Layout: LayoutYOLOv8, NumClasses: 4, Classes: []int{2, 0, 2}})
	got := d.Decode(v.out, identity, 64, 64, nil)
	if len(got) != 2 || got[0].Class != 0 || got[1].Class != 2 {
		t.Fatalf("got %+v, want classes 0 and 2", got)
	}
	if c := d.Config().Classes; len(c) != 2 || c[0] != 0 || c[1] != 2 {
		t.Errorf("Config().Classes = %v, want [0 2]", c)
	}
}

func TestNMS(t *testing.T) {
	v := newV8(64, 64, 3)
	v.put(0, 20, 20, 20, 20, 0, 0.9)   // kept
	v.put(1, 22, 21, 20, 20, 0, 0.8)   // same class, IoU ~0.76: suppressed
	v.put(2, 21, 20, 20, 20, 1, 0.7)   // other class, same place: kept
	v.put(3, 50, 50, 10, 10, 0, 0.6)   // same class, far away: kept
	v.put(4, 35, 20, 20, 20, 0, 0.5)   // same class, IoU 0.14 with #0: kept
	v.put(5, 20.5, 20, 20, 20, 1, 0.4) // suppressed by #2
	d := mustDecoder(t, Config{InputW: 64, InputH: 64, Layout: LayoutYOLOv8, NumClasses: 3})
	got := d.Decode(v.out, identity, 64, 64, nil)
	wantScores := []float32{0.9, 0.7, 0.6, 0.5}
	if len(got) != len(wantScores) {
		t.Fatalf("got %+v, want scores %v", got, wantScores)
	}
	for i, s := range wantScores {
		if got[i].Score != s {
			t.Errorf("detection %d score %v, want %v", i, got[i].Score, s)
		}
	}
	// NMS threshold 1 keeps everything.
	d = mustDecoder(t, Config{InputW: 64, InputH: 64, Layout: LayoutYOLOv8, NumClasses: 3, NMSThreshold: 1})
	if got := d.Decode(v.out, identity, 64, 64, nil); len(got) != 6 {
		t.Fatalf("NMS off: got %d, want 6", len(got))
	}
}

func TestMaxDetections(t *testing.T) {
	h := newYOLOX(64, 64, 1)
	// 64 disjoint stride-8 boxes with distinct scores.
	for gy := range 8 {
		for gx := range 8 {
			h.put(8, gx, gy, 0.5, 0.5, 6, 6, 1, 0, 0.31+float32(gy*8+gx)/100)
		}
	}
	d := mustDecoder(t, Config{InputW: 64, InputH: 64, Layout: LayoutYOLOX, NumClasses: 1, MaxDetections: 5})
	got := d.Decode(h.out, identity, 64, 64, nil)
	if len(got) != 5 {
		t.Fatalf("got %d detections, want 5", len(got))
	}
	for i := range got {
		if want := 0.31 + float32(63-i)/100; !near(got[i].Score, want) {
			t.Errorf("detection %d score %v, want %v", i, got[i].Score, want)
		}
	}
	d = mustDecoder(t, Config{InputW: 64, InputH: 64, Layout: LayoutYOLOX, NumClasses: 1})
	if got := d.Decode(h.out, identity, 64, 64, nil); len(got) != 64 {
		t.Fatalf("default cap: got %d, want 64", len(got))
	}
}

// TestTransformMapping decodes a 416x416 output of a letterboxed 1920x1080
// frame: boxes scale back by 1920/416 and boxes in the padding disappear.
func TestTransformMapping(t *testing.T) {
	tr := preprocess.NewTransform(1920, 1080, 416, 416) // scaled image 416x234
	v := newV8(416, 416, 2)
	v.put(0, 104, 52, 52, 26, 0, 0.9)  // → (360,180)-(600,300)
	v.put(1, 410, 230, 20, 20, 1, 0.8) // straddles the bottom-right corner: clamped
	v.put(2, 200, 330, 40, 40, 0, 0.7) // entirely in the padding: dropped
	d := mustDecoder(t, Config{InputW: 416, InputH: 416, Layout: LayoutYOLOv8, NumClasses: 2})
	got := d.Decode(v.out, tr, 1920, 1080, nil)
	if len(got) != 2 {
		t.Fatalf("got %+v, want 2 detections", got)
	}
	k := float32(1920.0 / 416.0)
	want := []detection.Rect{
		{X1: 78 * k, Y1: 39 * k, X2: 130 * k, Y2: 65 * k},
		{X1: 400 * k, Y1: 220 * k, X2: 1920, Y2: 1080},
	}
	for i, w := range want {
		if d := got[i].Box; math.Abs(float64(d.X1-w.X1)) > 0.01 || math.Abs(float64(d.Y1-w.Y1)) > 0.01 ||
			math.Abs(float64(d.X2-w.X2)) > 0.01 || math.Abs(float64(d.Y2-w.Y2)) > 0.01 {
			t.Errorf("box %d = %v, want %v", i, d, w)
		}
	}
}

func TestDetectLayout(t *testing.T) {
	ok := []struct {
		shape   []int64
		w, h    int
		layout  Layout
		classes int
	}{
		{[]int64{1, 3549, 85}, 416, 416, LayoutYOLOX, 80},
		{[]int64{1, 8400, 85}, 640, 640, LayoutYOLOX, 80},
		{[]int64{1, 19320, 85}, 1280, 736, LayoutYOLOX, 80},
		{[]int64{1, 8400, 6}, 640, 640, LayoutYOLOX, 1},
		{[]int64{1, 84, 8400}, 640, 640, LayoutYOLOv8, 80},
		{[]int64{1, 5, 3549}, 416, 416, LayoutYOLOv8, 1},
		{[]int64{-1, 3549, 85}, 416, 416, LayoutYOLOX, 80}, // dynamic batch
		{[]int64{1, -1, 85}, 416, 416, LayoutYOLOX, 80},    // dynamic anchors
		{[]int64{-1, 84, -1}, 640, 640, LayoutYOLOv8, 80},
		{[]int64{1, 25200, 85}, 640, 640, LayoutYOLOv5, 80},
		{[]int64{1, 300, 6}, 640, 640, LayoutEndToEnd, DefaultClasses},
	}
	for _, c := range ok {
		l, n, err := DetectLayout(c.shape, c.w, c.h)
		if err != nil || l != c.layout || n != c.classes {
			t.Errorf("DetectLayout(%v, %d, %d) = %v, %d, %v; want %v, %d", c.shape, c.w, c.h, l, n, err, c.layout, c.classes)
		}
	}
	bad := []struct {
		shape []int64
		w, h  int
		msg   string
	}{
		{[]int64{1, 3549, 85}, 640, 640, "output shape [1 3549 85] does not match a YOLOX head for a 640x640 input (expects 8400 rows); it would match a 416x416 input"},
		{[]int64{1, 84, 3549}, 640, 640, "does not match a YOLOv8 head for a 640x640 input (expects 8400 columns)"},
		{[]int64{3549, 85}, 416, 416, "not a 3-D"},
		{[]int64{2, 3549, 85}, 416, 416, "batch 2"},
		{[]int64{1, -1, -1}, 416, 416, "fully dynamic"},
		{[]int64{1, 3549, 5}, 416, 416, "no class scores"},
		{[]int64{1, 3549, 85}, 416, 400, "multiples of 32"},
	}
	for _, c := range bad {
		_, _, err := DetectLayout(c.shape, c.w, c.h)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("DetectLayout(%v, %d, %d) error %v, want it to contain %q", c.shape, c.w, c.h, err, c.msg)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	base := Config{InputW: 416, InputH: 416, Layout: LayoutYOLOX, NumClasses: 80}
	bad := []func(*Config){
		func(c *Config) { c.InputW = 0 },
		func(c *Config) { c.InputH = 420 },
		func(c *Config) { c.Layout = LayoutUnknown },
		func(c *Config) { c.Layout = 9 },
		func(c *Config) { c.NumClasses = 0 },
		func(c *Config) { c.ScoreThreshold = -0.1 },
		func(c *Config) { c.ScoreThreshold = 1.5 },
		func(c *Config) { c.ScoreThreshold = float32(math.NaN()) },
		func(c *Config) { c.NMSThreshold = 2 },
		func(c *Config) { c.MaxDetections = -1 },
		func(c *Config) { c.Classes = []int{0, 80} },
		func(c *Config) { c.Classes = []int{-1} },
	}
	for i, mod := range bad {
		c := base
		mod(&c)
		if _, err := NewDecoder(c); err == nil {
			t.Errorf("bad config %d accepted: %+v", i, c)
		}
	}
	d := mustDecoder(t, base)
	c := d.Config()
	if c.ScoreThreshold != DefaultScoreThreshold || c.NMSThreshold != DefaultNMSThreshold || c.MaxDetections != DefaultMaxDetections {
		t.Errorf("defaults not applied: %+v", c)
	}
	if d.OutputLen() != 3549*85 {
		t.Errorf("OutputLen = %d, want %d", d.OutputLen(), 3549*85)
	}
	if l, err := ParseLayout("YOLOX"); err != nil || l != LayoutYOLOX || l.String() != "yolox" {
		t.Errorf("ParseLayout(YOLOX) = %v, %v", l, err)
	}
	if _, err := ParseLayout("ssd"); err == nil {
		t.Error("ParseLayout accepted ssd")
	}
}

func TestDecodeWrongLength(t *testing.T) {
	d := mustDecoder(t, Config{InputW: 64, InputH: 64, Layout: LayoutYOLOX, NumClasses: 1})
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, ErrOutputLen) {
			t.Fatalf("recovered %v, want an ErrOutputLen error", r)
		}
	}()
	d.Decode(make([]float32, 10), identity, 64, 64, nil)
}

// realisticYOLOX is a head as a trained model emits on a busy street scene:
// objectness low almost everywhere, and a few objects each lighting up a
// handful of neighbouring cells (so NMS has work), about `objects*5`
// candidates above 0.3 in total.
func realisticYOLOX(w, h, c, objects int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	head := newYOLOX(w, h, c)
	width := 5 + c
	for i := 0; i < len(head.out); i += width {
		r := head.out[i : i+width]
		r[0], r[1] = rng.Float32(), rng.Float32()
		r[2], r[3] = rng.Float32()*2-1, rng.Float32()*2-1
		r[4] = rng.Float32() * rng.Float32() * 0.25
		for k := 5; k < width; k++ {
			r[k] = rng.Float32() * 0.3
		}
	}
	for range objects {
		s := strides[rng.IntN(3)]
		gx, gy := 1+rng.IntN(w/s-2), 1+rng.IntN(h/s-2)
		class := rng.IntN(c)
		for _, d := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {-1, 0}, {0, -1}} {
			head.put(s, gx+d[0], gy+d[1], 0.5-float32(d[0])*0.8, 0.5-float32(d[1])*0.8,
				float32(s)*2.5, float32(s)*4, 0.6+rng.Float32()*0.35, class, 0.7+rng.Float32()*0.3)
		}
	}
	return head.out
}

func TestDecodeAllocs(t *testing.T) {
	out := realisticYOLOX(416, 416, 80, 10, 1)
	d := mustDecoder(t, Config{InputW: 416, InputH: 416, Layout: LayoutYOLOX, NumClasses: 80})
	tr := preprocess.NewTransform(1920, 1080, 416, 416)
	dst := d.Decode(out, tr, 1920, 1080, nil)
	if len(dst) == 0 {
		t.Fatal("no detections")
	}
	if n := testing.AllocsPerRun(10, func() { dst = d.Decode(out, tr, 1920, 1080, dst) }); n != 0 {
		t.Errorf("YOLOX Decode: %v allocs per run", n)
	}
	v := newV8(640, 640, 80)
	v.put(100, 50, 50, 20, 20, 3, 0.9)
	dv := mustDecoder(t, Config{InputW: 640, InputH: 640, Layout: LayoutYOLOv8, NumClasses: 80})
	dst = dv.Decode(v.out, tr, 1920, 1080, dst)
	if n := testing.AllocsPerRun(10, func() { dst = dv.Decode(v.out, tr, 1920, 1080, dst) }); n != 0 {
		t.Errorf("YOLOv8 Decode: %v allocs per run", n)
	}
}

func benchDecode(b *testing.B, w, h, objects int) {
	out := realisticYOLOX(w, h, 80, objects, 2)
	d := mustDecoder(b, Config{InputW: w, InputH: h, Layout: LayoutYOLOX, NumClasses: 80})
	tr := preprocess.NewTransform(1920, 1080, w, h)
	dst := d.Decode(out, tr, 1920, 1080, nil)
	b.ReportAllocs()
	for b.Loop() {
		dst = d.Decode(out, tr, 1920, 1080, dst)
	}
	b.ReportMetric(float64(len(d.cands)), "candidates")
	b.ReportMetric(float64(len(dst)), "detections")
}

func BenchmarkDecodeYOLOX(b *testing.B) {
	b.Run("416x416", func(b *testing.B) { benchDecode(b, 416, 416, 10) })
	b.Run("1280x736", func(b *testing.B) { benchDecode(b, 1280, 736, 10) })
}

func BenchmarkDecodeYOLOv8(b *testing.B) {
	v := newV8(640, 640, 80)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range v.out {
		v.out[i] = rng.Float32() * 0.2
	}
	for range 50 {
		v.put(rng.IntN(v.n), 100+rng.Float32()*400, 100+rng.Float32()*400, 40, 80, rng.IntN(80), 0.5+rng.Float32()*0.5)
	}
	d := mustDecoder(b, Config{InputW: 640, InputH: 640, Layout: LayoutYOLOv8, NumClasses: 80})
	tr := preprocess.NewTransform(1920, 1080, 640, 640)
	dst := d.Decode(v.out, tr, 1920, 1080, nil)
	b.ReportAllocs()
	for b.Loop() {
		dst = d.Decode(v.out, tr, 1920, 1080, dst)
	}
}
