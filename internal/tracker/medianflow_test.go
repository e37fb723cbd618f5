package tracker

import (
	"math"
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
)

const imgW, imgH = 320, 240

func shifted(tex noise, dx, dy float64) *Pyramid {
	return pyr(render(imgW, imgH, func(x, y float64) float64 { return tex.at(x-dx, y-dy) }), 3)
}

func near(a, b, tol float32) bool { return float32(math.Abs(float64(a-b))) <= tol }

func TestMedianFlowRecoversShift(t *testing.T) {
	tex := noise{seed: 11}
	prev := shifted(tex, 0, 0)
	box := detection.Rect{X1: 120, Y1: 60, X2: 180, Y2: 190}
	m := NewMedianFlow(DefaultConfig())
	for _, d := range [][2]float64{{0, 0}, {0.3, -0.7}, {2.6, 1.4}, {-5.25, 3.5}, {9.4, -6.2}, {-10.7, -8.1}} {
		cur := shifted(tex, d[0], d[1])
		got, ok := m.Track(prev, cur, box)
		st := m.LastStats()
		if !ok {
			t.Fatalf("shift %v: lost (%+v)", d, st)
		}
		want := detection.Rect{X1: box.X1 + float32(d[0]), Y1: box.Y1 + float32(d[1]), X2: box.X2 + float32(d[0]), Y2: box.Y2 + float32(d[1])}
		if !near(got.X1, want.X1, 0.3) || !near(got.Y1, want.Y1, 0.3) || !near(got.X2, want.X2, 0.3) || !near(got.Y2, want.Y2, 0.3) {
			t.Errorf("shift %v: got %v, want %v (%+v)", d, got, want, st)
		}
		t.Logf("shift %5.2f,%5.2f: err %.3f,%.3f scale %.4f inliers %d/%d medFB %.3f", d[0], d[1],
			(got.X1+got.X2)/2-(want.X1+want.X2)/2, (got.Y1+got.Y2)/2-(want.Y1+want.Y2)/2, st.Scale, st.Inliers, st.Valid, st.MedianFB)
	}
}

func TestMedianFlowScaleInFramePixels(t *testing.T) {
	// Same as above but with the pyramid at half the frame resolution: boxes in
	// frame pixels must come back in frame pixels.
	tex := noise{seed: 5}
	mk := func(dx, dy float64) *Pyramid {
		p := &Pyramid{}
		p.SetGray(render(imgW, imgH, func(x, y float64) float64 { return tex.at(x-dx, y-dy) }), 2, 3)
		return p
	}
	prev, cur := mk(0, 0), mk(2.25, -1.5) // level-0 px: 4.5, -3 frame px
	box := detection.Rect{X1: 200, Y1: 100, X2: 320, Y2: 400}
	got, ok := NewMedianFlow(Config{}).Track(prev, cur, box)
	if !ok {
		t.Fatal("lost")
	}
	if !near(got.X1, 204.5, 0.5) || !near(got.Y1, 97, 0.5) || !near(got.X2, 324.5, 0.5) || !near(got.Y2, 397, 0.5) {
		t.Errorf("got %v, want {204.5 97 324.5 397}", got)
	}
}

func TestMedianFlowRecoversScale(t *testing.T) {
	tex := noise{seed: 3}
	const cx, cy = 160.0, 120.0
	prev := shifted(tex, 0, 0)
	box := detection.Rect{X1: 120, Y1: 60, X2: 200, Y2: 180}
	m := NewMedianFlow(Config{FollowScale: true})
	for _, s := range []float64{1.1, 1 / 1.1, 1.05} {
		cur := pyr(render(imgW, imgH, func(x, y float64) float64 {
			return tex.at(cx+(x-cx)/s, cy+(y-cy)/s) // content magnified by s about (cx, cy)
		}), 3)
		got, ok := m.Track(prev, cur, box)
		st := m.LastStats()
		if !ok {
			t.Fatalf("scale %.3f: lost (%+v)", s, st)
		}
		gs := float64(got.W() / box.W())
		if math.Abs(gs/s-1) > 0.03 {
			t.Errorf("scale %.3f: got %.4f (%+v)", s, gs, st)
		}
		if !near((got.X1+got.X2)/2, cx, 1) || !near((got.Y1+got.Y2)/2, cy, 1) {
			t.Errorf("scale %.3f: centre moved: %v", s, got)
		}
		t.Logf("scale %.4f: got %.4f, box %v", s, gs, got)
	}
}

// TestMedianFlowKeepsSizeByDefault: without FollowScale a zoom moves
// nothing: the box keeps its size and its centre (the zoom is about it).
func TestMedianFlowKeepsSizeByDefault(t *testing.T) {
	tex := noise{seed: 3}
	const cx, cy = 160.0, 120.0
	prev := shifted(tex, 0, 0)
	box := detection.Rect{X1: 120, Y1: 60, X2: 200, Y2: 180}
	cur := pyr(render(imgW, imgH, func(x, y float64) float64 { return tex.at(cx+(x-cx)/1.1, cy+(y-cy)/1.1) }), 3)
	m := NewMedianFlow(Config{})
	got, ok := m.Track(prev, cur, box)
	if !ok {
		t.Fatalf("lost: %+v", m.LastStats())
	}
	if !near(got.W(), box.W(), 1e-3) || !near(got.H(), box.H(), 1e-3) || !near(got.X1, box.X1, 1.5) || !near(got.Y1, box.Y1, 1.5) {
		t.Errorf("got %v, want the box unchanged %v", got, box)
	}
}

func TestMedianFlowFailsOnUnrelatedImage(t *testing.T) {
	prev := shifted(noise{seed: 1}, 0, 0)
	box := detection.Rect{X1: 120, Y1: 60, X2: 180, Y2: 190}
	m := NewMedianFlow(Config{})
	for name, cur := range map[string]*Pyramid{
		"other texture": shifted(noise{seed: 2}, 0, 0),
		"white noise":   pyr(whiteNoise(imgW, imgH, 9), 3),
	} {
		if got, ok := m.Track(prev, cur, box); ok {
			t.Errorf("%s: tracked to %v (%+v)", name, got, m.LastStats())
		} else {
			t.Logf("%s: %+v", name, m.LastStats())
		}
	}
}

func TestMedianFlowFailsLeavingFrame(t *testing.T) {
	tex := noise{seed: 4}
	prev := shifted(tex, 0, 0)
	m := NewMedianFlow(Config{})
	// Entirely outside from the start.
	if _, ok := m.Track(prev, prev, detection.Rect{X1: 330, Y1: 10, X2: 380, Y2: 90}); ok || m.LastStats().Fail != FailOutside {
		t.Errorf("box outside the frame tracked (%+v)", m.LastStats())
	}
	// The content moves right 6 px per frame and carries a 40-px box out of the
	// frame: the box is followed while it is fully inside, never reported less
	// than MinVisible inside, and lost by the time it would be.
	const step = 6
	box := detection.Rect{X1: imgW - 60, Y1: 80, X2: imgW - 20, Y2: 160}
	lost := -1
	for k := 1; k <= 12 && lost < 0; k++ {
		cur := shifted(tex, float64(step*k), 0)
		got, ok := m.Track(prev, cur, box)
		truth := detection.Rect{X1: box.X1 + step, Y1: box.Y1, X2: box.X2 + step, Y2: box.Y2}
		vis := visibleFraction(truth, imgW, imgH)
		switch {
		case !ok:
			lost = k
			t.Logf("frame %d: lost with %.0f%% of the true box inside (%s)", k, 100*vis, m.LastStats().Fail)
		case !near(got.X1, truth.X1, 0.5) || !near(got.X2, truth.X2, 0.5):
			t.Fatalf("frame %d: tracked to %v, truth %v (%+v)", k, got, truth, m.LastStats())
		case visibleFraction(got, imgW, imgH) < m.Config().MinVisible:
			t.Fatalf("frame %d: reported %v, less than MinVisible inside", k, got)
		}
		if truth.X2 <= imgW && !ok {
			t.Fatalf("frame %d: lost while fully inside (%+v)", k, m.LastStats())
		}
		box, prev = got, cur
	}
	if lost < 0 {
		t.Fatal("box never lost while leaving the frame")
	}
}

func TestMedianFlowZeroAllocs(t *testing.T) {
	tex := noise{seed: 8}
	prev, cur := shifted(tex, 0, 0), shifted(tex, 1.5, 0.5)
	m := NewMedianFlow(Config{})
	box := detection.Rect{X1: 120, Y1: 60, X2: 180, Y2: 190}
	if allocs := testing.AllocsPerRun(10, func() { m.Track(prev, cur, box) }); allocs != 0 {
		t.Errorf("Track allocates %v times per call", allocs)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		v    []float32
		want float32
	}{
		{[]float32{3}, 3},
		{[]float32{3, 1}, 2},
		{[]float32{5, 1, 4, 2, 3}, 3},
		{[]float32{1, 1, 1, 9, 9, 9}, 5},
		{[]float32{7, 7, 7, 7}, 7},
		{[]float32{6, 2, 9, 2, 2, 8, 1}, 2},
	} {
		if got := median(append([]float32(nil), c.v...)); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.v, got, c.want)
		}
	}
}

// Track takes each point's NCC patches from LK's level-0 templates: they must
// be, bit for bit, what samplePatch samples there.
func TestLKTemplateIsNCCPatch(t *testing.T) {
	tex := noise{seed: 9}
	a, b := shifted(tex, 0, 0), shifted(tex, 1.3, -0.6)
	m := NewMedianFlow(Config{})
	w := m.cfg.Window
	half := float32(w/2) + 0.5
	want := make([]float32, w*w)
	compared := 0
	for _, p := range [][2]float32{{100.37, 80.91}, {160, 120}, {231.6, 57.123}, {7.1, 50.2}, {313.8, 233.05}} {
		if _, _, ok := m.s.track(a, b, &m.lk, p[0], p[1]); !ok || !m.s.inside0 {
			continue // over the edge: Track samples the patch itself
		}
		samplePatch(&a.Levels[0], p[0]-half, p[1]-half, w, want)
		for i := range want {
			if want[i] != m.s.t[i] {
				t.Fatalf("point %v: template[%d] = %v, samplePatch %v", p, i, m.s.t[i], want[i])
			}
		}
		compared++
	}
	if compared < 3 {
		t.Fatalf("only %d points compared", compared)
	}
}
