package tracker

import (
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
)

// TestKCFRecoversShift: the whole texture shifted by known sub-pixel and
// multi-pixel amounts; the filter trained on frame 0 finds the box within
// half a pixel.
func TestKCFRecoversShift(t *testing.T) {
	tex := noise{seed: 61}
	prev := shifted(tex, 0, 0)
	box := detection.Rect{X1: 120, Y1: 70, X2: 170, Y2: 170}
	minVis := DefaultConfig().MinVisible
	for _, d := range [][2]float32{{0, 0}, {0.5, -0.3}, {2.3, -1.6}, {-6, 4}, {11, 7.5}} {
		k := NewKCF()
		var m KCFModel
		if !k.Init(&m, prev, box, minVis) {
			t.Fatalf("init failed: %+v", k.LastStats())
		}
		got, ok := k.Track(&m, shifted(tex, float64(d[0]), float64(d[1])), box, minVis)
		st := k.LastStats()
		if !ok {
			t.Fatalf("shift %v: lost (%+v)", d, st)
		}
		dx, dy := got.X1-box.X1, got.Y1-box.Y1
		t.Logf("shift %v: found (%.2f, %.2f), peak %.3f", d, dx, dy, st.Peak)
		if !near(dx, d[0], 0.5) || !near(dy, d[1], 0.5) || !near(got.W(), box.W(), 1e-3) || !near(got.H(), box.H(), 1e-3) {
			t.Errorf("shift %v: box %v -> %v (moved %.2f, %.2f), want the same size moved by the shift", d, box, got, dx, dy)
		}
	}
}

// TestKCFFollowsAcrossFrames: the 60x60 textured square of movingSquare
// moves (3, 1) px per frame over another texture; KCF follows it for 20
// frames, learning as it goes, within 1.5 px: three quarters of its window
// is the static background, which pulls it back about a pixel.
func TestKCFFollowsAcrossFrames(t *testing.T) {
	k := NewKCF()
	var m KCFModel
	minVis := DefaultConfig().MinVisible
	p0, box := movingSquare(0)
	if !k.Init(&m, p0, box, minVis) {
		t.Fatalf("init failed: %+v", k.LastStats())
	}
	for f := 1; f <= 20; f++ {
		p, truth := movingSquare(f)
		var ok bool
		box, ok = k.Track(&m, p, box, minVis)
		if !ok {
			t.Fatalf("frame %d: lost (%+v)", f, k.LastStats())
		}
		if !near(box.X1, truth.X1, 1.5) || !near(box.Y1, truth.Y1, 1.5) {
			t.Fatalf("frame %d: box %v, truth %v", f, box, truth)
		}
	}
	t.Logf("after 20 frames: peak %.3f", k.LastStats().Peak)
}

// TestKCFFailsWhenObjectVanishes: the object's texture replaced by white
// noise or a flat image is reported lost, and the model is kept. (An
// unrelated smooth texture of the same kind peaks at about 0.4-0.5: KCF
// cannot tell it from a changed look; see defaultKCFParams.)
func TestKCFFailsWhenObjectVanishes(t *testing.T) {
	tex := noise{seed: 62}
	prev := shifted(tex, 0, 0)
	box := detection.Rect{X1: 100, Y1: 60, X2: 160, Y2: 180}
	minVis := DefaultConfig().MinVisible
	for name, cur := range map[string]*Pyramid{
		"white noise":     pyr(whiteNoise(imgW, imgH, 9), 3),
		"flat grey image": pyr(render(imgW, imgH, func(x, y float64) float64 { return 128 }), 3),
	} {
		k := NewKCF()
		var m KCFModel
		k.Init(&m, prev, box, minVis)
		if got, ok := k.Track(&m, cur, box, minVis); ok {
			t.Errorf("%s: tracked to %v (peak %.3f)", name, got, k.LastStats().Peak)
		} else if st := k.LastStats(); st.Fail != FailPeak {
			t.Errorf("%s: failed with %q, want %q", name, st.Fail, FailPeak)
		} else {
			t.Logf("%s: peak %.3f", name, st.Peak)
		}
		if !m.Valid() {
			t.Errorf("%s: a failed step emptied the model", name)
		}
		// The object back where it was: found again.
		if _, ok := k.Track(&m, prev, box, minVis); !ok {
			t.Errorf("%s: object back, still lost (%+v)", name, k.LastStats())
		}
	}
}

// TestKCFBoxShapes: wide, tall, small and large boxes (templates of every
// shape, pyramid levels above 0) all follow a 4 px shift.
func TestKCFBoxShapes(t *testing.T) {
	tex := noise{seed: 64}
	prev, cur := shifted(tex, 0, 0), shifted(tex, 4, -3)
	minVis := DefaultConfig().MinVisible
	for _, box := range []detection.Rect{
		{X1: 100, Y1: 100, X2: 200, Y2: 130}, // wide
		{X1: 150, Y1: 40, X2: 170, Y2: 200},  // tall and thin
		{X1: 150, Y1: 110, X2: 162, Y2: 122}, // tiny
		{X1: 60, Y1: 40, X2: 260, Y2: 200},   // large: sampled at level 2
	} {
		k := NewKCF()
		var m KCFModel
		k.Init(&m, prev, box, minVis)
		got, ok := k.Track(&m, cur, box, minVis)
		if !ok || !near(got.X1-box.X1, 4, 0.75) || !near(got.Y1-box.Y1, -3, 0.75) {
			t.Errorf("box %v (template %dx%d, level %d): ok %v, moved (%.2f, %.2f), want (4, -3); %+v",
				box, m.w, m.h, m.level, ok, got.X1-box.X1, got.Y1-box.Y1, k.LastStats())
		}
	}
}

// TestTracksKCF: Tracks with Method KCF follows the moving square, keeps
// ids, and coasts when the object vanishes.
func TestTracksKCF(t *testing.T) {
	p0, box := movingSquare(0)
	tr := NewTracks(Config{Method: MethodKCF})
	id := tr.Update([]detection.Detection{det(box.X1, box.Y1, box.X2, box.Y2, 0)}, p0)[0].TrackID
	var out []detection.Detection
	var truth detection.Rect
	for f := 1; f <= 10; f++ {
		var p *Pyramid
		p, truth = movingSquare(f)
		out = tr.Step(p)
		if len(out) != 1 || out[0].TrackID != id || out[0].Score != 0.9 {
			t.Fatalf("frame %d: %+v", f, out)
		}
	}
	if iou := detection.IoU(out[0].Box, truth); iou < 0.9 {
		t.Errorf("IoU after 10 frames %.3f < 0.9 (box %v, truth %v)", iou, out[0].Box, truth)
	}
	// Re-detected where it is: same id, the filter kept and re-centred.
	out = tr.Update([]detection.Detection{det(truth.X1, truth.Y1, truth.X2, truth.Y2, 0)}, movingSquareP(10))
	if len(out) != 1 || out[0].TrackID != id {
		t.Fatalf("re-detection: %+v", out)
	}
	if out = tr.Step(movingSquareP(11)); len(out) != 1 || out[0].Score != 0.9 {
		t.Fatalf("after re-detection: %+v", out)
	}
	// Gone: the track coasts with decaying score.
	if out = tr.Step(pyr(whiteNoise(imgW, imgH, 5), 3)); len(out) != 1 || out[0].Score >= 0.9 {
		t.Fatalf("vanished: %+v, want one coasting track", out)
	}
}

func movingSquareP(k int) *Pyramid { p, _ := movingSquare(k); return p }

func TestKCFTracksZeroAllocs(t *testing.T) {
	p0, box := movingSquare(0)
	p1, _ := movingSquare(1)
	tr := NewTracks(Config{Method: MethodKCF})
	dets := []detection.Detection{det(box.X1, box.Y1, box.X2, box.Y2, 0), det(200, 100, 260, 200, 0)}
	other := []detection.Detection{det(20, 20, 80, 140, 0)}
	tr.Update(dets, p0)
	tr.Step(p1)
	tr.Update(other, p0) // every filter has been made once
	allocs := testing.AllocsPerRun(10, func() {
		tr.Update(dets, p0)
		tr.Step(p1)
		tr.Update(other, p1) // ends both tracks, starts another
		tr.Step(p0)
	})
	if allocs != 0 {
		t.Errorf("Update+Step with KCF allocate %v times per frame pair", allocs)
	}
}
