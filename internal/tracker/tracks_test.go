package tracker

import (
	"math"
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
)

func det(x1, y1, x2, y2 float32, class int) detection.Detection {
	return detection.Detection{Box: detection.Rect{X1: x1, Y1: y1, X2: x2, Y2: y2}, Class: class, Score: 0.9, Source: detection.SourceEdge}
}

func TestTracksIDs(t *testing.T) {
	p := shifted(noise{seed: 21}, 0, 0)
	tr := NewTracks(Config{})
	out := tr.Update([]detection.Detection{det(100, 50, 150, 150, 0)}, p)
	if len(out) != 1 || out[0].TrackID != 1 {
		t.Fatalf("first update: %+v", out)
	}
	a := out[0].TrackID
	// Same object moved a little, plus a new one far away.
	out = tr.Update([]detection.Detection{det(250, 20, 300, 120, 0), det(104, 52, 154, 151, 0)}, p)
	if len(out) != 2 || out[1].TrackID != a || out[0].TrackID == a || out[0].TrackID == 0 {
		t.Fatalf("second update: %+v", out)
	}
	b := out[0].TrackID
	// The first object vanishes: its track is dropped, not coasted.
	out = tr.Update([]detection.Detection{det(252, 22, 302, 122, 0)}, p)
	if len(out) != 1 || out[0].TrackID != b {
		t.Fatalf("third update: %+v", out)
	}
	// When it comes back it is a new object with a new id, and ids never repeat.
	out = tr.Update([]detection.Detection{det(252, 22, 302, 122, 0), det(100, 50, 150, 150, 0)}, p)
	if out[0].TrackID != b || out[1].TrackID == a || out[1].TrackID <= b {
		t.Fatalf("fourth update: %+v", out)
	}
	c := out[1].TrackID
	// A different class at the same place does not inherit the id...
	out = tr.Update([]detection.Detection{det(252, 22, 302, 122, 2), det(100, 50, 150, 150, 0)}, p)
	if out[0].TrackID == b || out[1].TrackID != c {
		t.Fatalf("class change: %+v", out)
	}
	// ...unless IgnoreClass is set.
	tr2 := NewTracks(Config{IgnoreClass: true})
	id := tr2.Update([]detection.Detection{det(0, 0, 50, 50, 0)}, p)[0].TrackID
	if got := tr2.Update([]detection.Detection{det(0, 0, 50, 50, 3)}, p)[0].TrackID; got != id {
		t.Fatalf("IgnoreClass: id %d -> %d", id, got)
	}
}

func TestTracksGreedyPrefersBestOverlap(t *testing.T) {
	p := shifted(noise{seed: 22}, 0, 0)
	tr := NewTracks(Config{})
	out := tr.Update([]detection.Detection{det(0, 0, 100, 100, 0), det(60, 0, 160, 100, 0)}, p)
	left, right := out[0].TrackID, out[1].TrackID
	// The first detection overlaps the left track best (IoU 0.67, right 0.43), but
	// the second overlaps it even more (0.95): greedy-by-IoU gives the left id to
	// the second and the right id to the first, where a detection-order scan
	// would have taken the left id for the first.
	out = tr.Update([]detection.Detection{det(20, 0, 120, 100, 0), det(0, 0, 95, 100, 0)}, p)
	if out[0].TrackID != right || out[1].TrackID != left {
		t.Fatalf("got ids %d,%d; want %d,%d", out[0].TrackID, out[1].TrackID, right, left)
	}
	// Below MatchIoU: new id.
	out = tr.Update([]detection.Detection{det(75, 0, 175, 100, 0)}, p) // IoU 0.29 and 0.11
	if out[0].TrackID == right || out[0].TrackID == left {
		t.Fatalf("IoU 0.29 inherited id %d", out[0].TrackID)
	}
}

// movingSquare renders frame k: a 60x60 textured square moving (3, 1) px per
// frame over a different static texture.
func movingSquare(k int) (*Pyramid, detection.Rect) {
	bg, fg := noise{seed: 31}, noise{seed: 32}
	x0, y0 := float64(40+3*k), float64(60+1*k)
	g := render(imgW, imgH, func(x, y float64) float64 {
		if x >= x0 && x < x0+60 && y >= y0 && y < y0+60 {
			return fg.at(x-x0, y-y0)
		}
		return bg.at(x, y)
	})
	return pyr(g, 3), detection.Rect{X1: float32(x0), Y1: float32(y0), X2: float32(x0 + 60), Y2: float32(y0 + 60)}
}

func TestTracksStepFollowsMovingSquare(t *testing.T) {
	p0, box := movingSquare(0)
	tr := NewTracks(Config{})
	d := det(box.X1, box.Y1, box.X2, box.Y2, 0)
	d.Source = detection.SourceCloud
	id := tr.Update([]detection.Detection{d}, p0)[0].TrackID
	// Tracks must keep its own copy: the caller's pyramid is rebuilt in place.
	var cur Pyramid
	var out []detection.Detection
	for k := 1; k <= 10; k++ {
		p, truth := movingSquare(k)
		cur.CopyFrom(p)
		out = tr.Step(&cur)
		if len(out) != 1 {
			t.Fatalf("frame %d: %d tracks", k, len(out))
		}
		if iou := detection.IoU(out[0].Box, truth); k == 10 {
			t.Logf("frame 10: box %v truth %v IoU %.3f", out[0].Box, truth, iou)
			if iou < 0.7 {
				t.Errorf("IoU after 10 frames %.3f < 0.7", iou)
			}
		}
	}
	o := out[0]
	if o.TrackID != id || o.Age != 10 || o.Source != detection.SourceTracked || o.Score != 0.9 {
		t.Errorf("carried detection %+v: want id %d, age 10, source tracked, score kept", o, id)
	}
	// A detector box again: Age resets, Source comes from the detection, id kept.
	_, truth := movingSquare(10)
	got := tr.Update([]detection.Detection{det(truth.X1, truth.Y1, truth.X2, truth.Y2, 0)}, &cur)
	if got[0].TrackID != id || got[0].Age != 0 || got[0].Source != detection.SourceEdge {
		t.Errorf("after re-detection: %+v", got[0])
	}
}

func TestTracksDropsLostAndResets(t *testing.T) {
	a := shifted(noise{seed: 41}, 0, 0)
	b := shifted(noise{seed: 42}, 0, 0) // unrelated content: every track is lost
	tr := NewTracks(Config{})
	if out := tr.Step(a); len(out) != 0 {
		t.Fatalf("Step before Update: %+v", out)
	}
	tr.Update([]detection.Detection{det(100, 50, 150, 150, 0), det(200, 50, 260, 150, 0)}, a)
	if out := tr.Step(a); len(out) != 2 {
		t.Fatalf("static frame: %d tracks", len(out))
	}
	// Lost tracks coast: same place (no motion yet), score × CoastDecay per
	// frame, dropped once below CoastMinScore: 0.9·0.8^13 < 0.05 ≤ 0.9·0.8^12.
	for i, f := 1, b; ; i++ {
		out := tr.Step(f)
		if i == 13 {
			if len(out) != 0 {
				t.Fatalf("after %d lost frames: %+v, want the tracks dropped", i, out)
			}
			break
		}
		want := 0.9 * math.Pow(0.8, float64(i))
		if len(out) != 2 || math.Abs(float64(out[0].Score)-want) > 1e-4 || out[0].Box != (detection.Rect{X1: 100, Y1: 50, X2: 150, Y2: 150}) {
			t.Fatalf("lost frame %d: %+v, want both tracks in place at score %.4f", i, out, want)
		}
		if f == b {
			f = a
		} else {
			f = b
		}
	}
	// NoCoast drops a lost track at once.
	nc := NewTracks(Config{NoCoast: true})
	nc.Update([]detection.Detection{det(100, 50, 150, 150, 0)}, a)
	if out := nc.Step(b); len(out) != 0 {
		t.Fatalf("NoCoast, unrelated frame: %+v", out)
	}
	// A pyramid of another size drops the tracks instead of misreading them.
	tr.Update([]detection.Detection{det(10, 10, 60, 60, 0)}, a)
	small := pyr(render(160, 120, noise{seed: 43}.at), 3)
	if out := tr.Step(small); len(out) != 0 {
		t.Fatalf("geometry change kept %d tracks", len(out))
	}
	// No pyramid for a frame (nil): ids are assigned, tracking stops cleanly.
	if out := tr.Update([]detection.Detection{det(10, 10, 60, 60, 0)}, nil); len(out) != 1 {
		t.Fatalf("Update(nil pyramid): %+v", out)
	}
	if out := tr.Step(a); len(out) != 0 {
		t.Fatalf("Step after Update(nil) kept %d tracks", len(out))
	}
	tr.Update([]detection.Detection{det(10, 10, 60, 60, 0)}, a)
	if out := tr.Step(nil); len(out) != 0 {
		t.Fatalf("Step(nil) kept %d tracks", len(out))
	}
}

// TestTracksCoastWithVelocity: a square moving 3 px right and 1 px down
// per frame, followed for 6 frames, then lost (an unrelated frame): the box
// moves on by about its velocity.
func TestTracksCoastWithVelocity(t *testing.T) {
	p0, box := movingSquare(0)
	tr := NewTracks(Config{})
	tr.Update([]detection.Detection{det(box.X1, box.Y1, box.X2, box.Y2, 0)}, p0)
	var last detection.Rect
	for k := 1; k <= 6; k++ {
		p, _ := movingSquare(k)
		out := tr.Step(p)
		if len(out) != 1 {
			t.Fatalf("frame %d: %d tracks", k, len(out))
		}
		last = out[0].Box
	}
	out := tr.Step(shifted(noise{seed: 77}, 0, 0))
	if len(out) != 1 {
		t.Fatalf("lost frame: %d tracks, want the track coasting", len(out))
	}
	dx, dy := out[0].Box.X1-last.X1, out[0].Box.Y1-last.Y1
	if math.Abs(float64(dx)-3) > 0.5 || math.Abs(float64(dy)-1) > 0.5 || math.Abs(float64(out[0].Box.W()-last.W())) > 1e-3 {
		t.Errorf("coasted by (%.2f, %.2f) px, size %v -> %v; want about (3, 1), same size", dx, dy, last, out[0].Box)
	}
}

func TestTracksStepZeroAllocs(t *testing.T) {
	p0, box := movingSquare(0)
	p1, _ := movingSquare(1)
	tr := NewTracks(Config{})
	dets := []detection.Detection{det(box.X1, box.Y1, box.X2, box.Y2, 0), det(200, 100, 260, 200, 0)}
	tr.Update(dets, p0)
	tr.Step(p1)
	allocs := testing.AllocsPerRun(10, func() {
		tr.Update(dets, p0)
		tr.Step(p1)
	})
	if allocs != 0 {
		t.Errorf("Update+Step allocate %v times per frame pair", allocs)
	}
}

// TestTracksClipToFrame: the content moves right 6 px per frame. A box the
// detector gave inside the frame is reported clipped at the right edge once
// its track carries it past it (the track itself keeps the full box: the
// clipped part does not shrink it for the next step); a box given reaching
// beyond the frame keeps its full extent.
func TestTracksClipToFrame(t *testing.T) {
	tex := noise{seed: 12}
	inside := det(imgW-50, 80, imgW-10, 160, 0)
	beyond := det(imgW-30, 170, imgW+10, 230, 0)
	tr := NewTracks(Config{})
	out := tr.Update([]detection.Detection{inside, beyond}, shifted(tex, 0, 0))
	if out[0].Box != inside.Box || out[1].Box != beyond.Box {
		t.Fatalf("Update changed the boxes: %v %v", out[0].Box, out[1].Box)
	}
	for k := 1; k <= 3; k++ {
		out = tr.Step(shifted(tex, float64(6*k), 0))
		if len(out) != 2 {
			t.Fatalf("frame %d: %d tracks", k, len(out))
		}
		a, b := out[0].Box, out[1].Box
		t.Logf("frame %d: inside-given %v, beyond-given %v", k, a, b)
		if a.X2 > imgW || a.X1 <= inside.Box.X1 || a.Empty() {
			t.Errorf("frame %d: box given inside reported as %v, want moved right and within x <= %d", k, a, imgW)
		}
		if k == 1 && !near(a.W(), inside.Box.W(), 1e-3) {
			t.Errorf("frame 1: box still inside changed width to %v", a.W())
		}
		if k >= 2 && !(a.X2 == imgW && a.W() < inside.Box.W()) {
			t.Errorf("frame %d: box carried past the edge reported as %v, want clipped at x = %d", k, a, imgW)
		}
		if b.X2 <= imgW || !near(b.W(), beyond.Box.W(), 1e-3) {
			t.Errorf("frame %d: box given beyond the frame reported as %v, want its full %v px width", k, b, beyond.Box.W())
		}
	}
}

// crossingFrame renders frame k: a textured 60x60 square A moving (-3, 0) px
// per frame and, from frame 5 on, a second one B moving (+3, 0) in front of
// it, covering A's frame-5 box on frame 5: two people crossing.
func crossingFrame(k int) (*Pyramid, detection.Rect) {
	bg, a, b := noise{seed: 51}, noise{seed: 52}, noise{seed: 53}
	ax, y0 := float64(200-3*k), 60.0
	bx := float64(185 + 3*(k-5))
	g := render(imgW, imgH, func(x, y float64) float64 {
		switch {
		case k >= 5 && x >= bx && x < bx+60 && y >= y0 && y < y0+60:
			return b.at(x-bx, y-y0)
		case x >= ax && x < ax+60 && y >= y0 && y < y0+60:
			return a.at(x-ax, y-y0)
		}
		return bg.at(x, y)
	})
	return pyr(g, 3), detection.Rect{X1: float32(ax), Y1: float32(y0), X2: float32(ax + 60), Y2: float32(y0 + 60)}
}

// TestTracksVelocityCheck: detections on frames 0 and 5 say A moves left;
// then B, moving right, covers A's box and the tracked points follow B. The
// check keeps the box moving left; without it the box goes off with B.
func TestTracksVelocityCheck(t *testing.T) {
	run := func(cfg Config) float32 {
		tr := NewTracks(cfg)
		for k := 0; k <= 9; k++ {
			p, a := crossingFrame(k)
			var out []detection.Detection
			if k%5 == 0 {
				out = tr.Update([]detection.Detection{det(a.X1, a.Y1, a.X2, a.Y2, 0)}, p)
			} else {
				out = tr.Step(p)
			}
			if len(out) != 1 {
				t.Fatalf("frame %d: %d tracks", k, len(out))
			}
			if k == 9 {
				return out[0].Box.X1
			}
		}
		return 0
	}
	_, a5 := crossingFrame(5)
	if x := run(Config{NoVelocityCheck: true}); x < a5.X1+8 {
		t.Fatalf("without the check the box should follow B right, from x %.1f to about %.1f; it is at %.1f (the scene does not test the check)", a5.X1, a5.X1+12, x)
	}
	if x, want := run(Config{}), a5.X1-12; math.Abs(float64(x-want)) > 1.5 {
		t.Errorf("with the check the box is at x %.1f, want about %.1f (A's motion as the detector saw it)", x, want)
	}
}

func TestMotionContradicts(t *testing.T) {
	box := func(x, w, h float32) detection.Rect { return detection.Rect{X1: x, Y1: 10, X2: x + w, Y2: 10 + h} }
	var m motion
	m.observe(box(100, 40, 100))
	if m.contradicts(3, 0, 40, 0.03) || m.contradicts(-3, 0, 40, 0.03) {
		t.Error("a first detection gives no velocity to contradict")
	}
	m.since = 4                 // four Steps, then this Update: five frames
	m.observe(box(85, 40, 100)) // -3 px per frame
	if !m.contradicts(0.5, 0, 40, 0.03) || m.contradicts(-3, 0, 40, 0.03) || m.contradicts(-6, 0, 40, 0.03) {
		t.Error("direction test")
	}
	if m.contradicts(0.5, 0, 40, 0.1) { // 3.5 px off, under 0.1*40
		t.Error("deviation below the threshold contradicts")
	}
	m.since = 4
	m.observe(box(70, 40, 130)) // grew by 30%: the centre's shift is not motion
	if m.contradicts(3, 0, 40, 0.03) {
		t.Error("a velocity from boxes of different sizes was used")
	}
}

// TestTracksKeepOccluded: on a detection frame, a track no detection matched
// survives when it lies mostly inside a detection's box (someone in front
// of it), coasting; one the detector has no box near is dropped.
func TestTracksKeepOccluded(t *testing.T) {
	p, _ := movingSquare(0)
	a := det(100, 50, 140, 150, 0)   // matched by the wide box below
	b := det(130, 55, 165, 150, 0)   // hidden: two thirds inside it, IoU under MatchIoU
	c := det(400, 50, 440, 150, 0)   // gone: no detection near it
	wide := det(95, 50, 160, 150, 0) // one box around a and b
	run := func(cfg Config) map[int]detection.Detection {
		tr := NewTracks(cfg)
		ids := tr.Update([]detection.Detection{a, b, c}, p)
		out := map[int]detection.Detection{}
		for _, d := range tr.Update([]detection.Detection{wide}, p) {
			for i, o := range ids {
				if o.TrackID == d.TrackID {
					out[i] = d
				}
			}
		}
		return out
	}
	got := run(Config{})
	if _, ok := got[0]; !ok || len(got) != 2 {
		t.Fatalf("kept %v: want a (matched by the wide box) and b (inside it)", got)
	}
	if k, ok := got[1]; !ok || k.Source != detection.SourceTracked || k.Age != 1 || math.Abs(float64(k.Score-0.9*0.8)) > 1e-6 || k.Box != b.Box {
		t.Errorf("the hidden track: %+v, want b's box, source tracked, age 1, score 0.9x0.8", got[1])
	}
	if got := run(Config{NoKeepOccluded: true}); len(got) != 1 {
		t.Errorf("with NoKeepOccluded kept %v: want only a", got)
	}
	if got := run(Config{NoCoast: true}); len(got) != 1 {
		t.Errorf("with NoCoast kept %v: want only a (lost boxes are dropped at once)", got)
	}
}
