package tracker

import (
	"cmp"
	"slices"

	"github.com/gst-react/gst-react/internal/detection"
)

// Tracks is the set of objects followed on one stream, with stable ids. REACT
// runs two: one on the live stream, and one that fast-forwards late cloud
// detections over buffered frames. Step advances the tracks to a new frame;
// Update re-seeds them from detector boxes on the frame of its pyramid. Call
// Update on a detector frame instead of Step, or after Step on the same frame
// (e.g. to merge fast-forwarded cloud boxes into the live tracks); feed frames
// in order. Tracks keeps its own copy of the last pyramid, so the caller may
// rebuild its pyramid for the next frame right away. Not safe for concurrent use.
//
// Policy:
//   - Update replaces the track set with the detections: each detection whose
//     box overlaps a track of the same class (IoU >= MatchIoU, greedy, highest
//     IoU first) inherits that track's id; the others get fresh ids. Tracks that
//     no detection matched are dropped, not coasted: in REACT the detector is
//     the authority on detection frames, and a box the detector no longer sees
//     would otherwise drift on for k frames. The exception (Median Flow) is a
//     track that lies mostly inside a detection's box: hidden by whoever the
//     detector saw in front of it, it coasts on (Config.KeepOccluded).
//     Boxes, class, score and source come from the detection; Age is 0.
//   - Step moves every track with Config.Method: Median Flow from the
//     previous frame, or KCF, whose per-track filter Update trains on the
//     detection frame (a track that keeps its id keeps its filter,
//     re-centred on the detection and updated at the learning rate; a new
//     one, or one whose box changed size, gets a fresh filter). A track whose tracking fails
//     coasts (Config.CoastDecay): it moves on with its velocity (a running
//     mean of its recent per-frame motion) and its score decays until
//     tracking holds again or the score falls below CoastMinScore; with
//     NoCoast it is dropped at once. A Median Flow step that runs against
//     the direction the track's last two detections moved takes their
//     velocity instead (Config.VelocityCheck). Carried boxes get Source = SourceTracked
//     (the box is the tracker's estimate now, whoever found the object) and
//     Age+1; class is kept, and the score while tracking holds. A caller
//     that needs to know a box came from the cloud must remember it (e.g.
//     the fast-forward instance's output is all cloud). Boxes Update was
//     given inside the frame are reported clipped to it (see Current).
type Tracks struct {
	mf     *MedianFlow
	prev   Pyramid  // Median Flow only: the last frame
	geom   geometry // the last frame's geometry; zero when there is none
	tracks []detection.Detection
	motion []motion // per track, parallel to tracks
	out    []detection.Detection
	nextID int

	pairs      []match
	prevTracks []detection.Detection
	trackIDs   []int
	from       []int // per detection: the matched track's index
	usedT      []bool
	prevMotion []motion

	// KCF only (nil kcf with Median Flow): one filter per track, parallel
	// to tracks; filters of ended tracks wait in free for new ones, so
	// their buffers are reused.
	kcf        *KCF
	models     []*KCFModel
	prevModels []*KCFModel
	free       []*KCFModel
}

// geometry is what a frame's pyramid must share with the last one for boxes
// to carry over.
type geometry struct{ w, h, scale int }

func geometryOf(p *Pyramid) geometry {
	if p == nil || p.Empty() {
		return geometry{}
	}
	return geometry{p.Levels[0].W, p.Levels[0].H, p.Scale}
}

// motion is what a track remembers of its movement, to coast through frames
// where Median Flow loses it.
type motion struct {
	vx, vy float32 // centre velocity, frame px per frame (running mean)
	clip   bool    // the box Update gave lay inside the frame: Current clips it (see Current)

	// How the detector saw the track move (Config.VelocityCheck): the last
	// detection matched to it (centre and size), Steps since, and the
	// velocity from the last two, when they agree in size (seen).
	det      detection.Rect
	since    int
	dvx, dvy float32
	seen     bool
}

// sameSize is how closely two detections' widths and heights must agree for
// the motion of their centres to count as the object's (VelocityCheck).
const sameSize = 1.2

// observe records detection box d of the track and its velocity from the
// last one, m.since Steps before this Update: since+1 frames, as Update
// takes the place of a Step on a detection frame.
func (m *motion) observe(d detection.Rect) {
	p := m.det
	m.seen = false
	if !p.Empty() && within(d.W(), p.W(), sameSize) && within(d.H(), p.H(), sameSize) {
		n := float32(m.since + 1)
		m.dvx = (d.X1 + d.X2 - p.X1 - p.X2) / 2 / n
		m.dvy = (d.Y1 + d.Y2 - p.Y1 - p.Y2) / 2 / n
		m.seen = true
	}
	m.det, m.since = d, 0
}

// contradicts reports whether a step of (dx, dy) for a box w wide runs
// against the detector's velocity and differs from it by more than frac*w.
func (m *motion) contradicts(dx, dy, w, frac float32) bool {
	if !m.seen || dx*m.dvx+dy*m.dvy >= 0 {
		return false
	}
	ex, ey, lim := dx-m.dvx, dy-m.dvy, frac*w
	return ex*ex+ey*ey > lim*lim
}

// within reports whether a and b are positive and neither exceeds the other
// by more than the factor f.
func within(a, b, f float32) bool { return a > 0 && b > 0 && a <= b*f && b <= a*f }

type match struct {
	iou  float32
	t, d int
}

// NewTracks makes an empty set; zero fields of cfg take their defaults.
func NewTracks(cfg Config) *Tracks {
	cfg.Method = cfg.Method.Resolve()
	n := reserveTracks
	t := &Tracks{mf: NewMedianFlow(cfg), nextID: 1,
		tracks: make([]detection.Detection, 0, n), motion: make([]motion, 0, n),
		out: make([]detection.Detection, 0, n), pairs: make([]match, 0, n),
		trackIDs: make([]int, 0, n), from: make([]int, 0, n), usedT: make([]bool, 0, n),
		prevMotion: make([]motion, 0, n), prevTracks: make([]detection.Detection, 0, n)}
	if cfg.Method == MethodKCF {
		t.kcf = NewKCF()
	}
	return t
}

// reserveTracks is how many tracks the per-frame buffers hold from the
// start (a busy scene), so that the first frame with more tracks than any
// before does not allocate mid-stream; beyond it they grow once.
const reserveTracks = 64

// Config returns the configuration in use (defaults filled in).
func (t *Tracks) Config() Config { return t.mf.cfg }

// Len is the number of live tracks.
func (t *Tracks) Len() int { return len(t.tracks) }

// ReserveID returns an id no track of t has had or will get, for a box the
// caller carries beside t's tracks under the same numbering.
func (t *Tracks) ReserveID() int {
	id := t.nextID
	t.nextID++
	return id
}

// Reset drops every track and the stored pyramid; ids keep increasing.
func (t *Tracks) Reset() {
	t.tracks = t.tracks[:0]
	t.motion = t.motion[:0]
	t.prev.Levels = t.prev.Levels[:0]
	t.geom = geometry{}
	for _, m := range t.models {
		t.release(m)
	}
	t.models = t.models[:0]
}

// release returns a track's filter to the free list.
func (t *Tracks) release(m *KCFModel) {
	if m != nil {
		m.Clear()
		t.free = append(t.free, m)
	}
}

// newModel takes a filter from the free list, or makes one (only while the
// number of tracks grows).
func (t *Tracks) newModel() *KCFModel {
	if n := len(t.free); n > 0 {
		m := t.free[n-1]
		t.free = t.free[:n-1]
		return m
	}
	return &KCFModel{}
}

// remember keeps what Step needs of cur: its geometry, and for Median Flow
// the pyramid itself.
func (t *Tracks) remember(cur *Pyramid) {
	t.geom = geometryOf(cur)
	switch {
	case t.kcf != nil:
		// KCF needs only its filters and the new frame.
	case cur == nil:
		t.prev.Levels = t.prev.Levels[:0]
	default:
		t.prev.CopyFrom(cur)
	}
}

// Current returns the tracks as of the last Update or Step, in a reused slice
// that stays valid until the next call on t (the caller may modify it).
//
// A box that was inside the frame when Update gave it (the detectors clip
// theirs to the frame, see yolo's decoder) is clipped to the frame again on
// the way out: inside, the track keeps its object's full extent, so a person
// walking out keeps his size and velocity and MinVisible can tell when he
// has left, but the box it reports is, like the detector's, the part in the
// picture. Unclipped, tracked boxes were the only ones to stick out: on
// TUD-Stadtmitte at k=5 Median Flow carried 62 boxes up to 18 px past the
// edge between detections, and those missed the visible person (the ground
// truth of TUD-Stadtmitte and OxfordTownCentre stops at the right and bottom
// edges) by the part outside; clipped, edge-only mAP@0.5 (VOC AP) rose
// 80.3 -> 80.6 % there and 80.5 -> 80.9 % on OxfordTownCentre (see README).
// A box given reaching beyond the frame (ground truth that annotates the
// whole person, as MOT17's does, or a model that does not clip) keeps its
// full extent: its producer's convention.
func (t *Tracks) Current() []detection.Detection {
	t.out = append(t.out[:0], t.tracks...)
	if w, h, ok := t.frameBound(); ok {
		for i := range t.out {
			if t.motion[i].clip {
				t.out[i].Box = t.out[i].Box.Clamp(w, h)
			}
		}
	}
	return t.out
}

// frameBound is the frame's size in frame pixels as the last pyramid knows it:
// the pyramid holds floor(frame/scale) px, so the frame is at most scale-1 px
// wider (taller) than w×scale; the bound is that maximum, so that clipping to
// it never cuts a pixel of the frame. ok is false with no pyramid.
func (t *Tracks) frameBound() (w, h float32, ok bool) {
	g := t.geom
	if g == (geometry{}) {
		return 0, 0, false
	}
	sc := max(g.scale, 1)
	return float32((g.w+1)*sc - 1), float32((g.h+1)*sc - 1), true
}

// Update sets the tracks to dets, the detector's boxes for the frame whose
// pyramid is cur, carrying ids over from matching tracks (see Tracks). The
// TrackID and Age of dets are ignored; detections with empty boxes are skipped.
// cur may be nil when no pyramid exists for the frame: ids are still assigned,
// but the next Step has nothing to track from and drops the tracks. It returns
// the tracks as Current does.
func (t *Tracks) Update(dets []detection.Detection, cur *Pyramid) []detection.Detection {
	cfg := &t.mf.cfg
	t.pairs = t.pairs[:0]
	for i := range t.tracks {
		for j := range dets {
			if dets[j].Box.Empty() || (!cfg.IgnoreClass && dets[j].Class != t.tracks[i].Class) {
				continue
			}
			if iou := detection.IoU(t.tracks[i].Box, dets[j].Box); iou >= cfg.MatchIoU {
				t.pairs = append(t.pairs, match{iou, i, j})
			}
		}
	}
	// Highest IoU first; ties broken by index so ids never depend on sort internals.
	slices.SortFunc(t.pairs, func(a, b match) int {
		if c := cmp.Compare(b.iou, a.iou); c != 0 {
			return c
		}
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.d, b.d)
	})
	t.trackIDs = resize(t.trackIDs, len(dets))
	clear(t.trackIDs)
	t.usedT = resize(t.usedT, len(t.tracks))
	clear(t.usedT)
	t.from = resize(t.from, len(dets))
	for _, p := range t.pairs {
		if t.usedT[p.t] || t.trackIDs[p.d] != 0 {
			continue
		}
		t.usedT[p.t] = true
		t.trackIDs[p.d] = t.tracks[p.t].TrackID
		t.from[p.d] = p.t
	}
	// Matched detections keep their track's velocity; the motion slice is
	// rebuilt in place, which is safe because the old one is read through
	// the copy in prevMotion.
	t.prevMotion = append(t.prevMotion[:0], t.motion...)
	t.prevModels = append(t.prevModels[:0], t.models...)
	t.prevTracks = append(t.prevTracks[:0], t.tracks...)
	t.tracks, t.motion, t.models = t.tracks[:0], t.motion[:0], t.models[:0]
	t.geom = geometryOf(cur)
	bw, bh, bok := t.frameBound()
	for j, d := range dets {
		if d.Box.Empty() {
			continue
		}
		id := t.trackIDs[j]
		var mo motion
		var mdl *KCFModel
		if id == 0 {
			id = t.nextID
			t.nextID++
		} else {
			mo = t.prevMotion[t.from[j]]
			if t.kcf != nil {
				mdl, t.prevModels[t.from[j]] = t.prevModels[t.from[j]], nil
			}
		}
		d.TrackID = id
		d.Age = 0
		mo.clip = inFrame(d.Box, bw, bh, bok)
		mo.observe(d.Box)
		t.tracks = append(t.tracks, d)
		t.motion = append(t.motion, mo)
		if t.kcf != nil {
			if mdl == nil {
				mdl = t.newModel()
			}
			t.models = append(t.models, mdl)
		}
	}
	if t.kcf == nil && !cfg.NoKeepOccluded && !cfg.NoCoast {
		t.keepOccluded(dets)
	}
	if t.kcf != nil {
		for _, m := range t.prevModels {
			t.release(m) // tracks no detection matched
		}
		for i, m := range t.models {
			if cur == nil || cur.Empty() {
				m.Clear()
				continue
			}
			// A failed (re)training leaves the filter empty: Step then
			// cannot track the box and it coasts.
			if !t.kcf.Retrain(m, cur, t.tracks[i].Box, cfg.MinVisible) {
				m.Clear()
			}
		}
	}
	t.remember(cur)
	return t.Current()
}

// keepOccluded keeps the tracks no detection matched whose box lies at least
// Config.KeepOccluded inside a detection's box (see Config.KeepOccluded):
// they coast on, their score ×CoastDecay.
func (t *Tracks) keepOccluded(dets []detection.Detection) {
	cfg := &t.mf.cfg
	for i, tr := range t.prevTracks {
		if t.usedT[i] || tr.Box.Empty() || tr.Score*cfg.CoastDecay < cfg.CoastMinScore {
			continue
		}
		for j := range dets {
			if inside(tr.Box, dets[j].Box) >= cfg.KeepOccluded {
				mo := t.prevMotion[i]
				mo.since++ // this Update is a frame the track was not seen on
				tr.Score *= cfg.CoastDecay
				tr.Source = detection.SourceTracked
				tr.Age++
				t.tracks = append(t.tracks, tr)
				t.motion = append(t.motion, mo)
				break
			}
		}
	}
}

// inside is the fraction of a's area that lies inside b.
func inside(a, b detection.Rect) float32 {
	w := min(a.X2, b.X2) - max(a.X1, b.X1)
	h := min(a.Y2, b.Y2) - max(a.Y1, b.Y1)
	if w <= 0 || h <= 0 || a.Empty() {
		return 0
	}
	return w * h / a.Area()
}

// Step carries every track from the previous frame to cur with Median Flow,
// drops the tracks it loses, and returns the survivors as Current does. With
// no previous pyramid, a nil cur, or a change of frame geometry, all tracks
// are dropped.
func (t *Tracks) Step(cur *Pyramid) []detection.Detection {
	if g := geometryOf(cur); g == (geometry{}) || g != t.geom {
		for _, m := range t.models {
			t.release(m)
		}
		t.tracks, t.motion, t.models = t.tracks[:0], t.motion[:0], t.models[:0]
	}
	cfg := &t.mf.cfg
	keep, keepM, keepK := t.tracks[:0], t.motion[:0], t.models[:0]
	for i, tr := range t.tracks {
		mo := t.motion[i]
		var box detection.Rect
		var ok bool
		var mdl *KCFModel
		if t.kcf != nil {
			mdl = t.models[i]
			box, ok = t.kcf.Track(mdl, cur, tr.Box, cfg.MinVisible)
		} else {
			box, ok = t.mf.Track(&t.prev, cur, tr.Box)
		}
		mo.since++
		if ok {
			// Velocity: a running mean, so one noisy step does not send a
			// coasting box astray.
			dx := (box.X1 + box.X2 - tr.Box.X1 - tr.Box.X2) / 2
			dy := (box.Y1 + box.Y2 - tr.Box.Y1 - tr.Box.Y2) / 2
			if t.kcf == nil && !cfg.NoVelocityCheck && mo.contradicts(dx, dy, tr.Box.W(), cfg.VelocityCheck) {
				// Tracked onto something else: move as the detector saw it move.
				dx, dy = mo.dvx, mo.dvy
				box = detection.Rect{X1: tr.Box.X1 + dx, Y1: tr.Box.Y1 + dy, X2: tr.Box.X2 + dx, Y2: tr.Box.Y2 + dy}
			}
			mo.vx, mo.vy = (mo.vx+dx)/2, (mo.vy+dy)/2
			tr.Box = box
		} else {
			if cfg.NoCoast {
				t.release(mdl)
				continue
			}
			tr.Score *= cfg.CoastDecay
			if tr.Score < cfg.CoastMinScore {
				t.release(mdl)
				continue
			}
			tr.Box = detection.Rect{X1: tr.Box.X1 + mo.vx, Y1: tr.Box.Y1 + mo.vy, X2: tr.Box.X2 + mo.vx, Y2: tr.Box.Y2 + mo.vy}
			sc := float32(cur.Scale)
			if visibleFraction(tr.Box, float32(cur.Levels[0].W)*sc, float32(cur.Levels[0].H)*sc) < cfg.MinVisible {
				t.release(mdl)
				continue // coasted out of the frame
			}
		}
		tr.Source = detection.SourceTracked
		tr.Age++
		keep, keepM = append(keep, tr), append(keepM, mo)
		if t.kcf != nil {
			keepK = append(keepK, mdl)
		}
	}
	t.tracks, t.motion, t.models = keep, keepM, keepK
	t.remember(cur)
	return t.Current()
}

// inFrame reports whether r lies inside the frame [0,w]x[0,h]; false without
// a frame (ok false), where nothing is clipped anyway.
func inFrame(r detection.Rect, w, h float32, ok bool) bool {
	return ok && r.X1 >= 0 && r.Y1 >= 0 && r.X2 <= w && r.Y2 <= h
}

func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
