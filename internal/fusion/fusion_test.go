package fusion

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/fusion/fusiontest"
)

func box(x1, y1, x2, y2 float32) detection.Rect {
	return detection.Rect{X1: x1, Y1: y1, X2: x2, Y2: y2}
}

func edge(r detection.Rect, class int, score float32, id int) detection.Detection {
	return detection.Detection{Box: r, Class: class, Score: score, Source: detection.SourceEdge, TrackID: id}
}

func cloudDet(r detection.Rect, class int, score float32) detection.Detection {
	return detection.Detection{Box: r, Class: class, Score: score, Source: detection.SourceCloud}
}

func newFuser(t testing.TB, cfg Config) *Fuser {
	t.Helper()
	f, err := NewFuser(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// paperConfig is the REACT paper's starting point (IoU 0.5, decay 0.85,
// floor 0.2): the behaviour tests below were written against these numbers,
// independent of the tuned defaults.
func paperConfig() Config { return Config{IoUThreshold: 0.5, Decay: 0.85, MinScore: 0.2} }

func near(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-6 }

func TestDefaultConfigValid(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.IoUThreshold != 0.6 || c.Decay != 0.97 || c.MinScore != 0.2 || c.MatchClassAware || c.DuplicateIoU != 0 {
		t.Fatalf("unexpected defaults %+v", c)
	}
	var zero Fuser
	if zero.Config() != c {
		t.Fatalf("zero Fuser config %+v, want defaults", zero.Config())
	}
}

func TestValidate(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.IoUThreshold = 0 }, "IoUThreshold 0 out of range (0, 1]"},
		{func(c *Config) { c.IoUThreshold = 1.5 }, "IoUThreshold"},
		{func(c *Config) { c.IoUThreshold = nan }, "IoUThreshold"},
		{func(c *Config) { c.Decay = 0 }, "Decay 0 out of range (0, 1]"},
		{func(c *Config) { c.Decay = 1.01 }, "Decay"},
		{func(c *Config) { c.MinScore = -0.1 }, "MinScore -0.1 out of range [0, 1]"},
		{func(c *Config) { c.MinScore = nan }, "MinScore"},
		{func(c *Config) { c.DuplicateIoU = 2 }, "DuplicateIoU 2 out of range [0, 1]"},
	}
	for _, tc := range cases {
		c := paperConfig()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to contain %q", c, err, tc.want)
		}
		if _, err := NewFuser(c); err == nil {
			t.Errorf("NewFuser accepted %+v", c)
		}
	}
	ok := Config{IoUThreshold: 1, Decay: 1, MinScore: 0, DuplicateIoU: 1}
	if err := ok.Validate(); err != nil {
		t.Errorf("boundary config rejected: %v", err)
	}
}

func TestMatchedPair(t *testing.T) {
	f := newFuser(t, paperConfig())
	l := detection.Detection{Box: box(10, 10, 50, 50), Class: 2, Score: 0.4, Source: detection.SourceTracked, TrackID: 7, Age: 3}
	c := detection.Detection{Box: box(12, 11, 52, 49), Class: 0, Score: 0.95, Source: detection.SourceCloud, TrackID: 99, Age: 5}
	out := f.Fuse([]detection.Detection{l}, []detection.Detection{c}, true, nil)
	// The local box was tracked for 3 frames (weight 1/4), the cloud box is
	// fresh (weight 1): 0.2 local + 0.8 cloud.
	want := detection.Detection{Box: box(11.6, 10.8, 51.6, 49.2), Class: 0, Score: 0.95, Source: detection.SourceCloud, TrackID: 7, Age: 3}
	if len(out) != 1 || !nearBox(out[0].Box, want.Box) {
		t.Fatalf("got %+v, want [%+v]", out, want)
	}
	out[0].Box = want.Box
	if out[0] != want {
		t.Fatalf("got %+v, want [%+v]", out, want)
	}
	if s := f.Stats(); s.Matched != 1 || s.LocalOnly != 0 || s.CloudOnly != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestMatchedPairKeepsTheHigherScore: a sure local box matched by a less
// sure cloud box keeps its own score (the cloud's class still wins).
func TestMatchedPairKeepsTheHigherScore(t *testing.T) {
	f := newFuser(t, paperConfig())
	l := edge(box(10, 10, 50, 50), 2, 0.9, 7)
	c := cloudDet(box(12, 11, 52, 49), 0, 0.45)
	out := f.Fuse([]detection.Detection{l}, []detection.Detection{c}, true, nil)
	if len(out) != 1 || out[0].Score != 0.9 || out[0].Class != 0 || out[0].Source != detection.SourceCloud {
		t.Fatalf("got %+v, want the local box with score 0.9, class 0, source cloud", out)
	}
}

// TestFuseAgedStartsDecayAtTheReplyAge: a reply already 5 frames old when
// it arrives decays from age 5, frame after frame; a match still restores
// the full score, and a fresh reply of age 0 starts at 0.
func TestFuseAgedStartsDecayAtTheReplyAge(t *testing.T) {
	cfg := paperConfig()
	f := newFuser(t, cfg)
	const s0 = 0.9
	c := []detection.Detection{cloudDet(box(10, 10, 60, 60), 1, s0)}
	for frame := range 3 {
		out := f.FuseAged(nil, c, frame == 0, 5, nil)
		wantAge := 5 + frame
		if len(out) != 1 {
			t.Fatalf("frame %d: %+v, want the box (0.9·0.85^7 = 0.29 is above the floor)", frame, out)
		}
		want := float32(s0 * math.Pow(float64(cfg.Decay), float64(wantAge)))
		if out[0].Age != wantAge || !near(out[0].Score, want) {
			t.Fatalf("frame %d: %+v, want age %d score %v", frame, out[0], wantAge, want)
		}
	}
	// Confirmed by a local box: decay starts over.
	f.FuseAged([]detection.Detection{edge(box(10, 10, 60, 60), 1, 0.5, 3)}, c, false, 5, nil)
	if out := f.FuseAged(nil, c, false, 5, nil); len(out) != 1 || out[0].Age != 1 || !near(out[0].Score, float32(s0*float64(cfg.Decay))) {
		t.Fatalf("after a match: %+v, want age 1", out)
	}
	if out := f.FuseAged(nil, c, true, 0, nil); len(out) != 1 || out[0].Age != 0 || !near(out[0].Score, s0) {
		t.Fatalf("fresh reply of age 0: %+v", out)
	}
}

func TestLocalOnlyAndEmptyCloud(t *testing.T) {
	f := newFuser(t, paperConfig())
	local := []detection.Detection{
		edge(box(0, 0, 10, 10), 1, 0.7, 1),
		{Box: box(100, 100, 120, 130), Class: 3, Score: 0.3, Source: detection.SourceTracked, TrackID: 2, Age: 4},
	}
	for frame := range 3 {
		out := f.Fuse(local, nil, false, nil)
		if !reflect.DeepEqual(out, local) {
			t.Fatalf("frame %d: no cloud: got %+v, want local unchanged", frame, out)
		}
	}
	// A cloud box far away leaves the local boxes untouched and is added after them.
	c := cloudDet(box(300, 300, 340, 340), 5, 0.8)
	out := f.Fuse(local, []detection.Detection{c}, true, nil)
	if len(out) != 3 || !reflect.DeepEqual(out[:2], local) {
		t.Fatalf("got %+v", out)
	}
	if got := out[2]; got.Box != c.Box || got.Class != 5 || got.Score != 0.8 || got.Source != detection.SourceCloud || got.Age != 0 {
		t.Fatalf("cloud-only box %+v", got)
	}
}

func TestBothEmpty(t *testing.T) {
	f := newFuser(t, paperConfig())
	dst := make([]detection.Detection, 0, 4)
	if out := f.Fuse(nil, nil, false, dst); len(out) != 0 {
		t.Fatalf("got %+v", out)
	}
	if out := f.Fuse(nil, nil, true, dst); len(out) != 0 {
		t.Fatalf("got %+v", out)
	}
	// dst contents before len are kept: Fuse appends.
	pre := []detection.Detection{edge(box(0, 0, 1, 1), 0, 1, 0)}
	if out := f.Fuse(nil, nil, false, pre); len(out) != 1 || out[0] != pre[0] {
		t.Fatalf("append semantics broken: %+v", out)
	}
}

// decayedFrames is how many frames (counting the reply's own frame) a
// cloud-only box of score s stays visible: the largest k with s·d^k ≥ floor, plus one.
func decayedFrames(s, d, floor float64) int {
	return int(math.Floor(math.Log(floor/s)/math.Log(d))) + 1
}

func TestCloudOnlyDecayUntilFloor(t *testing.T) {
	cfg := paperConfig()
	f := newFuser(t, cfg)
	const s0 = 0.9
	c := []detection.Detection{cloudDet(box(10, 10, 60, 60), 1, s0)}
	// 0.9·0.85^9 ≈ 0.208 ≥ 0.2 > 0.9·0.85^10 ≈ 0.177: visible on frames 0..9.
	want := decayedFrames(s0, float64(cfg.Decay), float64(cfg.MinScore))
	if want != 10 {
		t.Fatalf("closed form gives %d frames, expected 10", want)
	}
	visible := 0
	for frame := range 30 {
		out := f.Fuse(nil, c, frame == 0, nil)
		if len(out) == 0 {
			if f.Stats().Expired != 1 {
				t.Fatalf("frame %d: box gone but stats %+v", frame, f.Stats())
			}
			continue
		}
		if frame != visible {
			t.Fatalf("box reappeared on frame %d", frame)
		}
		visible++
		got := out[0]
		wantScore := float32(s0 * math.Pow(float64(cfg.Decay), float64(frame)))
		if !near(got.Score, wantScore) || got.Age != frame || got.Source != detection.SourceCloud || got.Class != 1 {
			t.Fatalf("frame %d: got %+v, want score %v age %d", frame, got, wantScore, frame)
		}
	}
	if visible != want {
		t.Fatalf("visible for %d frames, want %d", visible, want)
	}

	// Another setting, checked against the same closed form.
	cfg2 := Config{IoUThreshold: 0.5, Decay: 0.8, MinScore: 0.3}
	f2 := newFuser(t, cfg2)
	c2 := []detection.Detection{cloudDet(box(0, 0, 10, 10), 0, 0.77)}
	visible = 0
	for frame := range 30 {
		visible += len(f2.Fuse(nil, c2, frame == 0, nil))
	}
	if w := decayedFrames(0.77, 0.8, 0.3); visible != w {
		t.Fatalf("Decay 0.8 floor 0.3: visible %d frames, want %d", visible, w)
	}

	// A new reply restores the score.
	out := f.Fuse(nil, c, true, nil)
	if len(out) != 1 || !near(out[0].Score, s0) || out[0].Age != 0 {
		t.Fatalf("fresh reply: %+v", out)
	}
}

// TestFresherGeometryWins: a matched pair's box leans to the side whose
// detector saw the object more recently, and meets halfway at equal ages.
func TestFresherGeometryWins(t *testing.T) {
	l := detection.Detection{Box: box(0, 0, 40, 80), Score: 0.6, Source: detection.SourceEdge, TrackID: 3}
	c := detection.Detection{Box: box(4, 2, 44, 82), Score: 0.9, Source: detection.SourceCloud, TrackID: 9}
	cases := []struct {
		localAge, cloudAge int
		want               detection.Rect
	}{
		{0, 0, box(2, 1, 42, 81)},         // both detected on this frame: halfway
		{0, 3, box(0.8, 0.4, 40.8, 80.4)}, // fresh edge box, cloud box carried 3 frames: 0.8 local
		{3, 0, box(3.2, 1.6, 43.2, 81.6)}, // tracked local box, fresh cloud box: 0.8 cloud
	}
	for _, tc := range cases {
		f := newFuser(t, paperConfig())
		l.Age = tc.localAge
		out := f.FuseAged([]detection.Detection{l}, []detection.Detection{c}, true, tc.cloudAge, nil)
		if len(out) != 1 || !nearBox(out[0].Box, tc.want) {
			t.Errorf("local age %d, cloud age %d: got %+v, want box %+v", tc.localAge, tc.cloudAge, out, tc.want)
		}
	}
}

func nearBox(a, b detection.Rect) bool {
	c := func(p, q float32) bool { return math.Abs(float64(p-q)) < 1e-4 }
	return c(a.X1, b.X1) && c(a.Y1, b.Y1) && c(a.X2, b.X2) && c(a.Y2, b.Y2)
}

// between reports whether every edge of b lies between those of x and y.
func between(b, x, y detection.Rect) bool {
	in := func(v, p, q float32) bool { return v >= min(p, q)-1e-3 && v <= max(p, q)+1e-3 }
	return in(b.X1, x.X1, y.X1) && in(b.Y1, x.Y1, y.Y1) && in(b.X2, x.X2, y.X2) && in(b.Y2, x.Y2, y.Y2)
}

func TestCloudBelowFloorNotAdded(t *testing.T) {
	f := newFuser(t, paperConfig())
	out := f.Fuse(nil, []detection.Detection{cloudDet(box(0, 0, 10, 10), 0, 0.1)}, true, nil)
	if len(out) != 0 {
		t.Fatalf("got %+v", out)
	}
}

func TestReconfirmationStopsDecay(t *testing.T) {
	f := newFuser(t, paperConfig())
	cb := box(100, 100, 150, 200)
	c := []detection.Detection{{Box: cb, Class: 0, Score: 0.9, Source: detection.SourceCloud, TrackID: 42}}
	near1 := edge(box(102, 101, 151, 199), 3, 0.5, 5)

	f.Fuse(nil, c, true, nil)  // frame 0: age 0
	f.Fuse(nil, c, false, nil) // frame 1: age 1
	out := f.Fuse(nil, c, false, nil)
	if !near(out[0].Score, 0.9*0.85*0.85) || out[0].Age != 2 {
		t.Fatalf("frame 2 before re-confirmation: %+v", out)
	}
	// Frames 3..12: a local box keeps matching it: full cloud score, no decay.
	for frame := 3; frame < 13; frame++ {
		out = f.Fuse([]detection.Detection{near1}, c, false, nil)
		if len(out) != 1 || out[0].Score != 0.9 || out[0].Class != 0 || !between(out[0].Box, near1.Box, cb) || out[0].TrackID != 5 {
			t.Fatalf("frame %d matched: %+v", frame, out)
		}
	}
	// The local box disappears: decay starts over from the last confirmation.
	for k := 1; k <= 3; k++ {
		out = f.Fuse(nil, c, false, nil)
		want := float32(0.9 * math.Pow(0.85, float64(k)))
		if len(out) != 1 || !near(out[0].Score, want) || out[0].Age != k {
			t.Fatalf("%d frames after last match: %+v, want score %v", k, out, want)
		}
	}
}

func TestIdentityByTrackIDSurvivesDeletion(t *testing.T) {
	cfg := paperConfig()
	cfg.MinScore = 0
	f := newFuser(t, cfg)
	a := detection.Detection{Box: box(0, 0, 10, 10), Score: 1, TrackID: 1}
	b := detection.Detection{Box: box(100, 0, 110, 10), Score: 1, TrackID: 2}
	c := detection.Detection{Box: box(200, 0, 210, 10), Score: 1, TrackID: 3}
	loc := edge(box(200, 0, 210, 10), 0, 0.5, 0)
	f.Fuse(nil, []detection.Detection{a, b, c}, true, nil)
	f.Fuse([]detection.Detection{loc}, []detection.Detection{a, b, c}, false, nil) // c re-confirmed
	// b is dropped by the caller's tracker; c moves to index 1 but keeps its state.
	out := f.Fuse(nil, []detection.Detection{a, c}, false, nil)
	if len(out) != 2 || out[0].Age != 2 || out[1].Age != 1 {
		t.Fatalf("got ages %d, %d; want 2, 1 (%+v)", out[0].Age, out[1].Age, out)
	}
	// A box that appears mid-reply is as old as the reply.
	d := detection.Detection{Box: box(300, 0, 310, 10), Score: 1, TrackID: 4}
	out = f.Fuse(nil, []detection.Detection{a, c, d}, false, nil)
	if out[2].Age != 3 {
		t.Fatalf("new mid-reply box age %d, want 3", out[2].Age)
	}
}

func TestIoUExactlyAtThreshold(t *testing.T) {
	// Intersection 100, union 200: exactly 0.5 in float32.
	l := edge(box(0, 0, 20, 10), 1, 0.5, 1)
	c := cloudDet(box(0, 0, 10, 10), 2, 0.9)
	if iou := detection.IoU(l.Box, c.Box); iou != 0.5 {
		t.Fatalf("setup: IoU %v, want exactly 0.5", iou)
	}
	f := newFuser(t, paperConfig())
	out := f.Fuse([]detection.Detection{l}, []detection.Detection{c}, true, nil)
	if len(out) != 1 || out[0].Class != 2 || out[0].TrackID != l.TrackID {
		t.Fatalf("IoU == threshold must match: %+v", out)
	}
	// Just below the threshold: no match, both boxes out.
	cfg := paperConfig()
	cfg.IoUThreshold = math.Nextafter32(0.5, 1)
	f = newFuser(t, cfg)
	out = f.Fuse([]detection.Detection{l}, []detection.Detection{c}, true, nil)
	if len(out) != 2 || out[0] != l || out[1].Source != detection.SourceCloud {
		t.Fatalf("IoU < threshold must not match: %+v", out)
	}
}

func TestCompetingCloudBoxes(t *testing.T) {
	f := newFuser(t, paperConfig())
	// One local box, two cloud boxes above the threshold: the better one wins, the
	// other is emitted as cloud-only.
	L := edge(box(0, 0, 100, 100), 9, 0.5, 1)
	C0 := cloudDet(box(0, 0, 100, 95), 1, 0.8) // IoU 0.95
	C1 := cloudDet(box(0, 0, 100, 60), 2, 0.9) // IoU 0.6
	out := f.Fuse([]detection.Detection{L}, []detection.Detection{C1, C0}, true, nil)
	if len(out) != 2 || out[0].Class != 1 || out[0].TrackID != L.TrackID || out[1].Class != 2 || out[1].Source != detection.SourceCloud || out[1].Box != C1.Box {
		t.Fatalf("single local box: got %+v", out)
	}

	// Two local boxes competing for B, where taking the single best pair (greedy)
	// is not optimal:
	//   IoU(L2,B) = 9000/9200 ≈ 0.9783   IoU(L2,A) = 7200/12000 = 0.6
	//   IoU(L3,B) = 8800/9000 ≈ 0.9778   IoU(L3,A) = 6800/12000 ≈ 0.5667
	// Greedy: L2–B + L3–A ≈ 1.545. Optimal: L2–A + L3–B ≈ 1.578.
	A := cloudDet(box(0, 20, 100, 120), 1, 0.8)
	B := cloudDet(box(0, 0, 100, 90), 2, 0.9)
	L2 := edge(box(0, 0, 100, 92), 9, 0.5, 2)
	L3 := edge(box(0, 0, 100, 88), 9, 0.5, 3)
	out = f.Fuse([]detection.Detection{L2, L3}, []detection.Detection{A, B}, true, nil)
	if len(out) != 2 || out[0].Class != 1 || out[1].Class != 2 || out[0].TrackID != 2 || out[1].TrackID != 3 {
		t.Fatalf("optimal assignment not chosen: %+v", out)
	}
}

func TestClassAware(t *testing.T) {
	cfg := paperConfig()
	cfg.MatchClassAware = true
	f := newFuser(t, cfg)
	l := edge(box(0, 0, 10, 10), 1, 0.6, 1)
	c := cloudDet(box(0, 0, 10, 10), 2, 0.9)
	out := f.Fuse([]detection.Detection{l}, []detection.Detection{c}, true, nil)
	if len(out) != 2 || out[0] != l || out[1].Class != 2 {
		t.Fatalf("class-aware, classes differ: %+v", out)
	}
	cfg.DuplicateIoU = 0.5
	f = newFuser(t, cfg)
	out = f.Fuse([]detection.Detection{l}, []detection.Detection{c}, true, nil)
	if len(out) != 1 || out[0] != l || f.Stats().Duplicates != 1 {
		t.Fatalf("DuplicateIoU must drop the covered cloud box: %+v %+v", out, f.Stats())
	}
}

func TestInvalidCloudBoxesSkipped(t *testing.T) {
	f := newFuser(t, paperConfig())
	nan := float32(math.NaN())
	local := []detection.Detection{edge(box(0, 0, 10, 10), 1, 0.6, 1)}
	cloud := []detection.Detection{
		cloudDet(box(5, 5, 5, 20), 0, 0.9),     // empty
		cloudDet(box(nan, 0, 10, 10), 0, 0.9),  // NaN coordinate
		cloudDet(box(0, 0, 10, 10), 0, nan),    // NaN score
		cloudDet(box(50, 50, 60, 60), 3, 0.95), // fine
	}
	out := f.Fuse(local, cloud, true, nil)
	if len(out) != 2 || out[0] != local[0] || out[1].Class != 3 || f.Stats().Invalid != 3 {
		t.Fatalf("got %+v, stats %+v", out, f.Stats())
	}
}

func TestResetTreatsCarriedSetAsFresh(t *testing.T) {
	f := newFuser(t, paperConfig())
	c := []detection.Detection{cloudDet(box(0, 0, 10, 10), 0, 0.9)}
	f.Fuse(nil, c, true, nil)
	f.Fuse(nil, c, false, nil)
	f.Reset()
	out := f.Fuse(nil, c, false, nil)
	if len(out) != 1 || out[0].Age != 0 || out[0].Score != 0.9 {
		t.Fatalf("after Reset: %+v", out)
	}
}

func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	type frame struct {
		local, cloud []detection.Detection
		fresh        bool
	}
	var frames []frame
	for i := range 40 {
		l, c := fusiontest.Scene(rng, 30)
		frames = append(frames, frame{l, c, i%7 == 0})
	}
	run := func(f *Fuser) [][]detection.Detection {
		var outs [][]detection.Detection
		var cloud []detection.Detection
		for _, fr := range frames {
			if fr.fresh {
				cloud = fr.cloud
			}
			outs = append(outs, f.Fuse(fr.local, cloud, fr.fresh, nil))
		}
		return outs
	}
	a := newFuser(t, paperConfig())
	first := run(a)
	a.Reset()
	second := run(a)
	third := run(newFuser(t, paperConfig()))
	if !reflect.DeepEqual(first, second) || !reflect.DeepEqual(first, third) {
		t.Fatal("Fuse is not deterministic")
	}
	// Every local box is in the output, in order; unmatched ones untouched.
	for i, fr := range frames {
		for k, l := range fr.local {
			o := first[i][k]
			if o.TrackID != l.TrackID || (o.Source != detection.SourceCloud && o.Box != l.Box) {
				t.Fatalf("frame %d: local box %d changed: %+v -> %+v", i, k, l, first[i][k])
			}
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	local, cloud := fusiontest.Scene(rng, 50)
	f := newFuser(t, paperConfig())
	dst := make([]detection.Detection, 0, len(local)+len(cloud))
	dst = f.Fuse(local, cloud, true, dst[:0])
	frame := 0
	allocs := testing.AllocsPerRun(100, func() {
		frame++
		dst = f.Fuse(local, cloud, frame%10 == 0, dst[:0])
		dst = f.Fuse(local[:len(local)/2], cloud[:len(cloud)/3], false, dst[:0])
		dst = f.Fuse(nil, cloud, false, dst[:0])
		dst = f.Fuse(local, nil, false, dst[:0])
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per frame, want 0", allocs)
	}
}

func BenchmarkFuse(b *testing.B) {
	for _, n := range []int{10, 50, 200} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(uint64(n), 3))
			// n boxes a side: scene yields ~0.8n local and ~0.9n cloud from n objects.
			local, cloud := fusiontest.Scene(rng, n*5/4)
			local, cloud = local[:min(n, len(local))], cloud[:min(n, len(cloud))]
			f, _ := NewFuser(paperConfig())
			dst := make([]detection.Detection, 0, len(local)+len(cloud))
			frame := 0
			b.ReportAllocs()
			for b.Loop() {
				dst = f.Fuse(local, cloud, frame%10 == 0, dst[:0])
				frame++
			}
			b.ReportMetric(float64(f.Stats().Matched), "matched")
		})
	}
}
