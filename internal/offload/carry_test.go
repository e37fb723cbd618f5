package offload

import (
	"math"
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/tracker"
)

// texture is a smooth random pattern (bilinear value noise) sampled at any
// real position, so a moved or scaled copy of an object is exact.
func texture(seed uint64, x, y, cell float64) float64 {
	lat := func(i, j int) float64 {
		h := uint64(int64(i))*0x9E3779B97F4A7C15 ^ uint64(int64(j))*0xC2B2AE3D27D4EB4F ^ seed*0x165667B19E3779F9
		h ^= h >> 31
		h *= 0xD6E8FEB86659FD93
		h ^= h >> 32
		return float64(h>>11) / float64(1<<53)
	}
	gx, gy := x/cell, y/cell
	i, j := math.Floor(gx), math.Floor(gy)
	u, v := gx-i, gy-j
	u, v = u*u*(3-2*u), v*v*(3-2*v)
	a, b := lat(int(i), int(j)), lat(int(i)+1, int(j))
	c, d := lat(int(i), int(j)+1), lat(int(i)+1, int(j)+1)
	return (a*(1-u)+b*u)*(1-v) + (c*(1-u)+d*u)*v
}

// synthObject is a textured rectangle that moves and scales at a known rate.
type synthObject struct {
	seed       uint64
	cx, cy     float64 // centre on frame 0
	w, h       float64 // size on frame 0
	vx, vy     float64 // centre motion per frame
	growth     float64 // size factor per frame
	trackID    int     // the live track following it, 0: none (the edge missed it)
	cloudInset float32 // the cloud box is this much larger on every side
}

func (o synthObject) box(n int) detection.Rect {
	s := math.Pow(o.growth, float64(n))
	cx, cy := o.cx+o.vx*float64(n), o.cy+o.vy*float64(n)
	hw, hh := o.w*s/2, o.h*s/2
	return detection.Rect{X1: float32(cx - hw), Y1: float32(cy - hh), X2: float32(cx + hw), Y2: float32(cy + hh)}
}

// synthFrame renders frame n (I420, grey chroma) of the objects over a
// static textured background.
func synthFrame(w, h, n int, objs []synthObject) *frame.Frame {
	y := make([]byte, w*h+2*(w/2)*(h/2))
	for j := range h {
		for i := range w {
			px, py := float64(i)+0.5, float64(j)+0.5
			v := 30 + 120*texture(99, px, py, 11)
			for _, o := range objs {
				b := o.box(n)
				if px >= float64(b.X1) && px < float64(b.X2) && py >= float64(b.Y1) && py < float64(b.Y2) {
					s := math.Pow(o.growth, float64(n))
					ox, oy := (px-float64(b.X1))/s, (py-float64(b.Y1))/s
					v = 60 + 180*texture(o.seed, ox, oy, 6)
				}
			}
			y[j*w+i] = uint8(v)
		}
	}
	for i := w * h; i < len(y); i++ {
		y[i] = 128
	}
	return &frame.Frame{Format: frame.I420, Width: w, Height: h, Data: y,
		Offset: [3]int{0, w * h, w*h + (w/2)*(h/2)}, Stride: [3]int{w, w / 2, w / 2}}
}

func synthPyramid(t *testing.T, w, h, n int, objs []synthObject) *tracker.Pyramid {
	t.Helper()
	var p tracker.Pyramid
	if err := p.Build(synthFrame(w, h, n, objs), 1, 3); err != nil {
		t.Fatal(err)
	}
	return &p
}

// liveBoxes is what reacttrack would hand on at frame n: the exact boxes of
// the objects the edge follows, with their track ids.
func liveBoxes(n int, objs []synthObject) []detection.Detection {
	var out []detection.Detection
	for _, o := range objs {
		if o.trackID != 0 {
			out = append(out, detection.Detection{Box: o.box(n), Score: 0.6, Source: detection.SourceTracked, TrackID: o.trackID})
		}
	}
	return out
}

func cloudBoxes(objs []synthObject) []detection.Detection {
	out := make([]detection.Detection, len(objs))
	for i, o := range objs {
		b := o.box(0)
		d := o.cloudInset
		out[i] = detection.Detection{Box: detection.Rect{X1: b.X1 - d, Y1: b.Y1 - d, X2: b.X2 + d, Y2: b.Y2 + d}, Score: 0.9, Source: detection.SourceCloud}
	}
	return out
}

// TestCarrierRidesTracksAndFollowsTheRest: a cloud box that a live track
// explains moves exactly as the track does (translation and scale, no
// tracking error of its own); a box the edge missed is tracked; when the
// live track ends, its cloud box is tracked on from where it was.
func TestCarrierRidesTracksAndFollowsTheRest(t *testing.T) {
	const w, h = 320, 240
	objs := []synthObject{
		{seed: 1, cx: 100, cy: 120, w: 40, h: 80, vx: 2, vy: 0.5, growth: 1.02, trackID: 5, cloudInset: 2},
		{seed: 2, cx: 230, cy: 110, w: 36, h: 70, vx: -1.5, vy: 1, growth: 1, cloudInset: 0},
	}
	c := NewCarrier(tracker.Config{}, 0.5)
	cloud := cloudBoxes(objs)
	out := c.Seed(cloud, liveBoxes(0, objs), synthPyramid(t, w, h, 0, objs))
	if c.Anchored() != 1 || len(out) != 2 {
		t.Fatalf("seed: %d anchored, %d boxes %+v; want 1 anchored of 2", c.Anchored(), len(out), out)
	}
	ids := map[int]bool{}
	for _, d := range out {
		if d.TrackID < detection.CloudTrackIDBase || d.Source != detection.SourceCloud || ids[d.TrackID] {
			t.Fatalf("seed: bad or repeated cloud id/source %+v", out)
		}
		ids[d.TrackID] = true
	}
	anchoredID := out[0].TrackID
	const steps = 12
	for n := 1; n <= steps; n++ {
		out = c.Step(liveBoxes(n, objs), synthPyramid(t, w, h, n, objs))
	}
	if c.Anchored() != 1 || len(out) != 2 {
		t.Fatalf("after %d frames: %d anchored, %d boxes", steps, c.Anchored(), len(out))
	}
	// The anchored box is the cloud box moved and scaled with the track.
	s := float32(math.Pow(1.02, steps))
	b, d := objs[0].box(steps), objs[0].cloudInset*s
	want := detection.Rect{X1: b.X1 - d, Y1: b.Y1 - d, X2: b.X2 + d, Y2: b.Y2 + d}
	if got := out[0].Box; out[0].TrackID != anchoredID || !closeRect(got, want, 0.01) {
		t.Fatalf("anchored box %+v (id %d), want %+v (id %d)", got, out[0].TrackID, want, anchoredID)
	}
	if iou := detection.IoU(out[1].Box, objs[1].box(steps)); iou < 0.8 {
		t.Fatalf("followed box %+v, truth %+v: IoU %.2f < 0.8", out[1].Box, objs[1].box(steps), iou)
	}
	// The edge loses object 0: its cloud box goes on with the tracker.
	lost := append([]synthObject(nil), objs...)
	lost[0].trackID = 0
	for n := steps + 1; n <= steps+6; n++ {
		out = c.Step(liveBoxes(n, lost), synthPyramid(t, w, h, n, lost))
		if c.Anchored() != 0 || len(out) != 2 {
			t.Fatalf("frame %d after the track ended: %d anchored, %d boxes", n, c.Anchored(), len(out))
		}
	}
	for i, o := range lost {
		if best := bestIoU(out, o.box(steps+6)); best < 0.7 {
			t.Fatalf("object %d after the track ended: best IoU %.2f < 0.7 (%+v)", i, best, out)
		}
	}
}

// TestCarrierWithoutLiveTracksFollowsAll: no track ids (no reacttrack
// upstream) or anchoring off: every cloud box is tracked, as in REACT.
func TestCarrierWithoutLiveTracksFollowsAll(t *testing.T) {
	const w, h = 320, 240
	objs := []synthObject{
		{seed: 1, cx: 100, cy: 120, w: 40, h: 80, vx: 2, growth: 1, trackID: 5},
		{seed: 2, cx: 230, cy: 110, w: 36, h: 70, vx: -1.5, vy: 1, growth: 1},
	}
	for _, tc := range []struct {
		name      string
		anchorIoU float32
		live      func(n int) []detection.Detection
	}{
		{"no track ids", 0.5, func(n int) []detection.Detection {
			ds := liveBoxes(n, objs)
			for i := range ds {
				ds[i].TrackID = 0
			}
			return ds
		}},
		{"anchoring off", 0, func(n int) []detection.Detection { return liveBoxes(n, objs) }},
	} {
		c := NewCarrier(tracker.Config{}, tc.anchorIoU)
		c.Seed(cloudBoxes(objs), tc.live(0), synthPyramid(t, w, h, 0, objs))
		var out []detection.Detection
		for n := 1; n <= 8; n++ {
			out = c.Step(tc.live(n), synthPyramid(t, w, h, n, objs))
		}
		if c.Anchored() != 0 || len(out) != 2 {
			t.Fatalf("%s: %d anchored, %d boxes", tc.name, c.Anchored(), len(out))
		}
		for i, o := range objs {
			if best := bestIoU(out, o.box(8)); best < 0.8 {
				t.Fatalf("%s: object %d best IoU %.2f < 0.8", tc.name, i, best)
			}
		}
	}
}

func closeRect(a, b detection.Rect, tol float32) bool {
	d := func(p, q float32) bool { return p-q <= tol && q-p <= tol }
	return d(a.X1, b.X1) && d(a.Y1, b.Y1) && d(a.X2, b.X2) && d(a.Y2, b.Y2)
}

func bestIoU(ds []detection.Detection, truth detection.Rect) float32 {
	var best float32
	for _, d := range ds {
		best = max(best, detection.IoU(d.Box, truth))
	}
	return best
}
