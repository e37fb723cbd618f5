package tracker

import (
	"math"

	"github.com/gst-react/gst-react/internal/detection"
)

// Config tunes Median Flow and the multi-object Tracks. A zero field means its
// default (see DefaultConfig), so Config{} is a valid configuration. Distances
// are in level-0 pixels of the pyramid, i.e. frame pixels divided by the
// pyramid's Scale.
type Config struct {
	// GridSize: points per box side sampled on the previous frame. Kalal used
	// 10x10; 8x8 costs about 0.6 of it and, measured with `gstreact eval` on
	// the MOT17 clips at k = 1, 5, 10, 20, gave the same edge-only mAP (6x6
	// lost up to 2 points at k=20).
	GridSize int
	// Window: LK window side in pixels, odd (even values are rounded up); it
	// is also the side of each point's NCC patch. 7: measured with `gstreact
	// eval` on TUD-Stadtmitte and OxfordTownCentre played once (k 5,10 x
	// m 10,30 x latency 0,300ms,1s, both trackers), 7 against 11 gave mean
	// mAP@0.5 edge-only 77.3 -> 77.8 and 79.5 -> 79.5, fused 78.3 -> 78.6
	// and 85.6 -> 86.2, cloud-only after fast-forward 53.9 -> 54.0 and
	// 71.3 -> 71.7, at less than half the cost per object (5 lost
	// fast-forward accuracy: TUD cloud-only at 300 ms 62 -> 57). The range
	// of motion is the same (see Levels).
	Window int
	// Levels: pyramid levels LK uses (fewer if the pyramids hold fewer). With
	// 3 levels, motions up to about 13 level-0 px per frame are followed with
	// a window of 7, 9 or 11 (measured on a synthetic texture; 4 levels:
	// about 20 with 7, 27 with 11).
	// Faster motion is reported as a failure, not tracked wrongly. Build
	// pyramids with at least this many levels.
	Levels int
	// Iterations and Epsilon stop the Gauss–Newton steps of LK per level: at
	// most Iterations steps, or earlier once a step is below Epsilon px. On the
	// MOT17-04 frames 0.1 needs a third fewer steps than 0.03 for the same
	// IoU: the median over many points averages the per-point error away
	// (OpenCV's TrackerMedianFlow even stops at 0.3).
	Iterations int
	Epsilon    float32
	// MinEigen: a point whose window has a structure-tensor min eigenvalue
	// below this (grey levels² per px² per pixel) is too flat to track at level 0.
	MinEigen float32
	// NoNCC disables the NCC filter: by default a point must also have a
	// prev/cur patch correlation at or above the median to vote (Kalal 2010).
	NoNCC bool
	// MinPoints: tracking fails when fewer points survive the filters.
	MinPoints int
	// MaxFBError: tracking fails when the median forward–backward error of the
	// tracked points exceeds this. On the MOT17-04 test frames at 960x540,
	// correct tracks have medians of at most 0.16 px; lost ones (unrelated
	// content, motion beyond the LK range) 9 px and more. 4 sits between.
	MaxFBError float32
	// MaxResidual: tracking fails when the median distance between an inlier's
	// displacement and the box motion exceeds this (Kalal's failure test; his
	// 10 px was for 320x240 video). Correct MOT17-04 tracks stay under 0.7 px.
	MaxResidual float32
	// MinNCC: tracking fails when the median NCC of the tracked points is
	// below this: most patches no longer look like they did (correct tracks on
	// MOT17-04: at least 0.95; unrelated texture: about 0.2). Unused with NoNCC.
	MinNCC float32
	// MaxScaleChange: tracking fails when the box grows or shrinks by more than
	// this factor in one step (a box does not double between two frames).
	MaxScaleChange float32
	// FollowScale lets boxes grow and shrink with the median change of the
	// distances between tracked points (Kalal's Median Flow). Off by
	// default: boxes keep their size and only their centre is tracked, as
	// KCF does. Measured with `gstreact eval` on TUD-Stadtmitte and
	// OxfordTownCentre played once (54 points of k, m, latency), the scale
	// estimate cost more than it gave: noisy on walking people, whose limbs
	// move against the body, it made boxes drift in size between
	// detections (mean fused mAP@0.5 82.2 % with it, 82.4 % without;
	// cloud-only after a second's fast-forward on OxfordTownCentre 55.8 ->
	// 60.9). It is also the costliest step per box (a median over all point
	// pairs). Detections on every k-th frame and cloud replies set the size.
	FollowScale bool
	// MinVisible: tracking fails when less than this fraction of the box area
	// lies inside the frame, before or after the step (the object left).
	MinVisible float32
	// MatchIoU: Tracks.Update matches a detection to a track when their IoU is
	// at least this.
	MatchIoU float32
	// IgnoreClass lets Tracks.Update match boxes of different classes; by
	// default a track keeps its id only for a detection of the same class.
	IgnoreClass bool
	// CoastDecay: when Median Flow loses a track, Tracks.Step keeps it
	// ("coasting"): the box moves on with the track's recent velocity and
	// its score is multiplied by CoastDecay on every frame until tracking
	// holds again; range (0, 1), default 0.8. A person who turns, crosses
	// another or is occluded for a few frames is mostly still near where
	// the box says, and a low-scored box costs little precision while a
	// dropped one costs recall until the next detection. NoCoast drops lost
	// tracks at once instead.
	CoastDecay float32
	// CoastMinScore: a coasting track is dropped once its score falls below
	// this; range (0, 1), default 0.05.
	CoastMinScore float32
	// NoCoast drops a track as soon as Median Flow loses it.
	NoCoast bool
	// VelocityCheck keeps a Median Flow box from drifting onto someone who
	// crosses its object. Tracks.Update knows how the detector saw each
	// track move: the velocity between the last two detections matched to
	// it, when their boxes agree in width and height within 20% (a centre
	// that moves because a box grew, a person half hidden or the feet cut
	// off, is not motion). A Step that moves the box against that direction
	// and differs from that velocity by more than VelocityCheck times the
	// box width per frame moves it with the detector's velocity instead: two
	// people crossing fill one box, and the tracked points follow the wrong
	// one. Default 0.04, range (0, 1); NoVelocityCheck turns it off; KCF
	// does without. Update and Step are each taken to be one frame.
	//
	// Measured with `gstreact eval --ap voc` on TUD-Stadtmitte and
	// OxfordTownCentre played once (54 points: k 1,5,10 x m 10,30,60 x
	// latency 0,300ms,1s), against the check off: mean mAP@0.5 edge-only
	// +0.05 and +0.17, fused +0.05 and +0.15, no point lower by more than
	// 0.14 (COCO's 101-point AP moves TUD edge-only at k=5 79.9 -> 80.8: a
	// few recovered boxes cross its recall grid). The same from 0.015 to
	// 0.06; at 0.15 it no longer fires. Without the direction test it cost
	// OxfordTownCentre up to a point (detection boxes change height, and
	// their centres move up and down with it). With KCF it measured mixed
	// (edge-only TUD -0.6, OxfordTownCentre +0.3).
	VelocityCheck float32
	// NoVelocityCheck turns VelocityCheck off.
	NoVelocityCheck bool
	// KeepOccluded: Tracks.Update drops the tracks no detection matched,
	// except, with Median Flow, one whose box lies at least this fraction
	// inside a detection's box: the detector saw whoever stands in front of
	// the object, or one box around both, not that the object left. It
	// coasts on (CoastDecay, CoastMinScore; not with NoCoast) and is tracked
	// as before. Default 0.5, range (0, 1]; NoKeepOccluded turns it off.
	// Measured with `gstreact eval` on TUD-Stadtmitte and OxfordTownCentre
	// played once (54 points: k 1,5,10 x m 10,30,60 x latency 0,300ms,1s),
	// against dropping them: mean mAP@0.5 edge-only +3.4 and +0.3, fused
	// +2.7 and +0.1 (VOC's AP: +3.7, +0.4, +2.8, +0.1), no point lower by
	// more than 0.2; mAP@.5:.95 edge-only +1.6 and +0.2. TUD's people cross
	// each other close to the camera; on OxfordTownCentre they seldom hide
	// each other. A stricter rule (0.7 inside, and the detection 20% wider)
	// gained two thirds of it; keeping every unmatched track measured worse.
	KeepOccluded float32
	// NoKeepOccluded drops every unmatched track on a detection frame.
	NoKeepOccluded bool
	// InsetX and InsetY: Median Flow samples its points on the box less this
	// fraction of its width (height) on each side; range [0, 0.45], defaults
	// 0.3 and 0.15, negative for none. A detector's box around a walking
	// person is mostly background at its sides and between the legs; on a
	// static camera those points vote for no motion and the box lags behind
	// its object until tracking fails. Measured with `gstreact eval` on
	// TUD-Stadtmitte and OxfordTownCentre played once (k=5, m=10): cloud-only
	// at 300 ms 41.8 -> 53.1 and 77.1 -> 76.7 % mAP@0.5 (see README).
	InsetX, InsetY float32
	// Method picks the tracker Tracks moves boxes with: Median Flow or KCF;
	// zero is DefaultMethod (see Method). The Median Flow fields above do
	// not apply to KCF, except MinVisible and the Tracks fields.
	Method Method
}

// DefaultConfig returns the defaults every zero field of a Config takes.
func DefaultConfig() Config {
	return Config{
		GridSize:       8,
		Window:         7,
		Levels:         3,
		Iterations:     10,
		Epsilon:        0.1,
		MinEigen:       0.1,
		MinPoints:      8,
		MaxFBError:     4,
		MaxResidual:    4,
		MinNCC:         0.5,
		MaxScaleChange: 1.3,
		MinVisible:     0.25,
		MatchIoU:       0.3,
		CoastDecay:     0.8,
		InsetX:         0.3,
		InsetY:         0.15,
		CoastMinScore:  0.05,
		VelocityCheck:  0.04,
		KeepOccluded:   0.5,
	}
}

// withDefaults fills zero (or invalid) fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.GridSize < 2 {
		c.GridSize = d.GridSize
	}
	if c.Window < 3 {
		c.Window = d.Window
	}
	c.Window |= 1
	if c.Levels < 1 {
		c.Levels = d.Levels
	}
	if c.Iterations < 1 {
		c.Iterations = d.Iterations
	}
	if c.Epsilon <= 0 {
		c.Epsilon = d.Epsilon
	}
	if c.MinEigen <= 0 {
		c.MinEigen = d.MinEigen
	}
	if c.MinPoints < 2 {
		c.MinPoints = d.MinPoints
	}
	if c.MaxFBError <= 0 {
		c.MaxFBError = d.MaxFBError
	}
	if c.MaxResidual <= 0 {
		c.MaxResidual = d.MaxResidual
	}
	if c.MinNCC <= 0 {
		c.MinNCC = d.MinNCC
	}
	if c.MaxScaleChange <= 1 {
		c.MaxScaleChange = d.MaxScaleChange
	}
	if c.MinVisible <= 0 {
		c.MinVisible = d.MinVisible
	}
	if c.MatchIoU <= 0 {
		c.MatchIoU = d.MatchIoU
	}
	if !(c.CoastDecay > 0 && c.CoastDecay < 1) {
		c.CoastDecay = d.CoastDecay
	}
	c.InsetX = inset(c.InsetX, d.InsetX)
	c.InsetY = inset(c.InsetY, d.InsetY)
	if !(c.CoastMinScore > 0 && c.CoastMinScore < 1) {
		c.CoastMinScore = d.CoastMinScore
	}
	if !(c.VelocityCheck > 0 && c.VelocityCheck < 1) {
		c.VelocityCheck = d.VelocityCheck
	}
	if !(c.KeepOccluded > 0 && c.KeepOccluded <= 1) {
		c.KeepOccluded = d.KeepOccluded
	}
	return c
}

// inset resolves an Inset field: 0 is the default, negative none, and more
// than 0.45 would leave no box to sample.
func inset(v, def float32) float32 {
	switch {
	case v == 0 || v != v:
		return def
	case v < 0:
		return 0
	}
	return min(v, 0.45)
}

// Stats describes the last Track call, for tests, tuning and debug logs.
type Stats struct {
	Points    int     // grid points sampled
	Valid     int     // points LK tracked forward and back
	Inliers   int     // points that voted (FB and NCC filters passed)
	MedianFB  float32 // median forward–backward error of valid points, level-0 px
	MedianNCC float32 // median NCC of valid points (0 with NoNCC)
	Residual  float32 // median |d_i − d| of inliers, level-0 px
	DX, DY    float32 // box displacement, level-0 px
	Scale     float32 // box scale change
	Fail      string  // why tracking failed, "" on success
}

// Failure reasons reported in Stats.Fail.
const (
	FailGeometry  = "pyramids differ in size or are empty"
	FailOutside   = "box outside the frame"
	FailPoints    = "too few points tracked"
	FailFB        = "median forward-backward error too large"
	FailResidual  = "point displacements disagree"
	FailNCC       = "patches no longer correlate"
	FailScale     = "scale change too large"
	FailEmptyBox  = "empty box"
	FailLeftFrame = "box left the frame"
)

// MedianFlow tracks one box at a time between two pyramids (Kalal, Mikolajczyk,
// Matas, "Forward-Backward Error: Automatic Detection of Tracking Failures",
// ICPR 2010). It keeps no per-object state, so one instance serves every
// object of a stream; it owns scratch buffers, so it is not safe for concurrent
// use (make one per goroutine).
type MedianFlow struct {
	cfg Config
	lk  lkParams
	s   lkScratch

	px, py []float32 // grid points on prev (level-0 edge coords)
	qx, qy []float32 // forward-tracked points on cur
	fb     []float32 // forward–backward error per point (-1: lost)
	nc     []float32 // NCC per point
	idx    []int     // inliers
	tmp    []float32 // median scratch
	pairs  []float32 // pairwise distance ratios
	pa, pb []float32 // NCC patches

	last Stats
}

// NewMedianFlow makes a tracker; zero fields of cfg take their defaults.
func NewMedianFlow(cfg Config) *MedianFlow {
	cfg = cfg.withDefaults()
	n := cfg.GridSize * cfg.GridSize
	w := cfg.Window
	m := &MedianFlow{
		cfg: cfg,
		lk: lkParams{
			levels:   cfg.Levels,
			iters:    cfg.Iterations,
			eps2:     cfg.Epsilon * cfg.Epsilon,
			minEigen: cfg.MinEigen,
		},
		s:     newLKScratch(w),
		px:    make([]float32, n),
		py:    make([]float32, n),
		qx:    make([]float32, n),
		qy:    make([]float32, n),
		fb:    make([]float32, n),
		nc:    make([]float32, n),
		idx:   make([]int, 0, n),
		tmp:   make([]float32, 0, n),
		pairs: make([]float32, 0, n*(n-1)/2),
		pa:    make([]float32, w*w),
		pb:    make([]float32, w*w),
	}
	return m
}

// Config returns the configuration in use (defaults filled in).
func (m *MedianFlow) Config() Config { return m.cfg }

// LastStats describes the most recent Track call.
func (m *MedianFlow) LastStats() Stats { return m.last }

// visibleFraction is the share of r's area inside [0,w]x[0,h].
func visibleFraction(r detection.Rect, w, h float32) float32 {
	a := r.Area()
	if a <= 0 {
		return 0
	}
	return r.Clamp(w, h).Area() / a
}

// Track moves box (frame pixels) from prev to cur, two pyramids of the same
// geometry, and returns the new box in frame pixels. ok is false when the
// track is lost (see Config and LastStats for why). The returned box is not
// clamped to the frame: an object partly outside keeps its full size.
// Steady-state calls allocate nothing.
func (m *MedianFlow) Track(prev, cur *Pyramid, box detection.Rect) (detection.Rect, bool) {
	m.last = Stats{}
	st := &m.last
	if !sameGeometry(prev, cur) {
		st.Fail = FailGeometry
		return box, false
	}
	if box.Empty() {
		st.Fail = FailEmptyBox
		return box, false
	}
	cfg := &m.cfg
	sc := float32(prev.Scale)
	W, H := float32(prev.Levels[0].W), float32(prev.Levels[0].H)
	b := detection.Rect{X1: box.X1 / sc, Y1: box.Y1 / sc, X2: box.X2 / sc, Y2: box.Y2 / sc}
	if visibleFraction(b, W, H) < cfg.MinVisible {
		st.Fail = FailOutside
		return box, false
	}
	lk := m.lk
	lk.levels = min(lk.levels, len(prev.Levels), len(cur.Levels))

	// Grid of cell centres over the visible part of the box, inset.
	v := b.Clamp(W, H)
	if cfg.InsetX > 0 || cfg.InsetY > 0 { // withDefaults made them 0..0.45
		// Never below one LK window per side: on a small box the points
		// would crowd together and the scale estimate would be noise.
		win := float32(cfg.Window)
		ix := max(0, min(v.W()*cfg.InsetX, (v.W()-win)/2))
		iy := max(0, min(v.H()*cfg.InsetY, (v.H()-win)/2))
		v = detection.Rect{X1: v.X1 + ix, Y1: v.Y1 + iy, X2: v.X2 - ix, Y2: v.Y2 - iy}
	}
	g := cfg.GridSize
	n := g * g
	st.Points = n
	cw, ch := v.W()/float32(g), v.H()/float32(g)
	for i := 0; i < g; i++ {
		for j := 0; j < g; j++ {
			m.px[i*g+j] = v.X1 + (float32(j)+0.5)*cw
			m.py[i*g+j] = v.Y1 + (float32(i)+0.5)*ch
		}
	}

	// Forward, then backward: the FB error says which points LK got right.
	// Each pass ends with its level-0 template, which is the point's NCC
	// patch (prev at p, then cur at q): the NCC is taken here from them
	// rather than sampled again; a template sampled over the image edge is
	// resampled as samplePatch does for a Window x Window patch, so values are the same.
	half := float32(cfg.Window/2) + 0.5 // edge coords -> top-left sample centre
	l0p, l0c := &prev.Levels[0], &cur.Levels[0]
	m.tmp = m.tmp[:0]
	for i := 0; i < n; i++ {
		m.fb[i] = -1
		qx, qy, ok := m.s.track(prev, cur, &lk, m.px[i], m.py[i])
		if !ok {
			continue
		}
		keptA := !cfg.NoNCC && m.s.inside0
		if keptA {
			copy(m.pa, m.s.t)
		}
		rx, ry, ok := m.s.track(cur, prev, &lk, qx, qy)
		if !ok {
			continue
		}
		m.qx[i], m.qy[i] = qx, qy
		dx, dy := rx-m.px[i], ry-m.py[i]
		m.fb[i] = float32(math.Sqrt(float64(dx*dx + dy*dy)))
		m.tmp = append(m.tmp, m.fb[i])
		if cfg.NoNCC {
			continue
		}
		if !keptA {
			samplePatch(l0p, m.px[i]-half, m.py[i]-half, cfg.Window, m.pa)
		}
		pb := m.s.t
		if !m.s.inside0 {
			samplePatch(l0c, qx-half, qy-half, cfg.Window, m.pb)
			pb = m.pb
		}
		m.nc[i] = ncc(m.pa, pb)
	}
	st.Valid = len(m.tmp)
	if st.Valid < cfg.MinPoints {
		st.Fail = FailPoints
		return box, false
	}
	medFB := median(m.tmp)
	st.MedianFB = medFB
	if medFB > cfg.MaxFBError {
		st.Fail = FailFB
		return box, false
	}

	var medNCC float32
	if !cfg.NoNCC {
		m.tmp = m.tmp[:0]
		for i := 0; i < n; i++ {
			if m.fb[i] >= 0 {
				m.tmp = append(m.tmp, m.nc[i])
			}
		}
		medNCC = median(m.tmp)
		st.MedianNCC = medNCC
		if medNCC < cfg.MinNCC {
			st.Fail = FailNCC
			return box, false
		}
	}

	// Inliers: FB error at or below the median (and NCC at or above it).
	m.idx = m.idx[:0]
	for i := 0; i < n; i++ {
		if m.fb[i] < 0 || m.fb[i] > medFB {
			continue
		}
		if !cfg.NoNCC && m.nc[i] < medNCC {
			continue
		}
		m.idx = append(m.idx, i)
	}
	st.Inliers = len(m.idx)
	if st.Inliers < cfg.MinPoints {
		st.Fail = FailPoints
		return box, false
	}

	// Scale first: median ratio of pairwise distances (squared ratios, one sqrt).
	m.pairs = m.pairs[:0]
	for a := 0; a < len(m.idx) && cfg.FollowScale; a++ {
		i := m.idx[a]
		for c := a + 1; c < len(m.idx); c++ {
			j := m.idx[c]
			ox, oy := m.px[i]-m.px[j], m.py[i]-m.py[j]
			d0 := ox*ox + oy*oy
			if d0 < 1e-6 {
				continue
			}
			nx, ny := m.qx[i]-m.qx[j], m.qy[i]-m.qy[j]
			m.pairs = append(m.pairs, (nx*nx+ny*ny)/d0)
		}
	}
	s := float32(1)
	if len(m.pairs) > 0 {
		s = float32(math.Sqrt(float64(median(m.pairs))))
	}
	st.Scale = s
	if s > cfg.MaxScaleChange || s < 1/cfg.MaxScaleChange {
		st.Fail = FailScale
		return box, false
	}

	// Displacement of the box centre: each inlier votes q_i − s·(p_i − c) − c,
	// the centre it implies under the estimated zoom. Kalal's plain median of
	// q_i − p_i is the same for s = 1 but biased when the surviving points sit
	// unevenly around the centre of a zooming box.
	bcx, bcy := (b.X1+b.X2)/2, (b.Y1+b.Y2)/2
	m.tmp = m.tmp[:0]
	for _, i := range m.idx {
		m.tmp = append(m.tmp, m.qx[i]-m.px[i]-(s-1)*(m.px[i]-bcx))
	}
	dx := median(m.tmp)
	m.tmp = m.tmp[:0]
	for _, i := range m.idx {
		m.tmp = append(m.tmp, m.qy[i]-m.py[i]-(s-1)*(m.py[i]-bcy))
	}
	dy := median(m.tmp)
	st.DX, st.DY = dx, dy

	// Failure test of Kalal 2010: inliers must agree on the motion.
	m.tmp = m.tmp[:0]
	for _, i := range m.idx {
		ex := m.qx[i] - m.px[i] - (s-1)*(m.px[i]-bcx) - dx
		ey := m.qy[i] - m.py[i] - (s-1)*(m.py[i]-bcy) - dy
		m.tmp = append(m.tmp, float32(math.Sqrt(float64(ex*ex+ey*ey))))
	}
	st.Residual = median(m.tmp)
	if st.Residual > cfg.MaxResidual {
		st.Fail = FailResidual
		return box, false
	}

	// Shift the centre, scale about it (Kalal; OpenCV's TrackerMedianFlow).
	cx, cy := bcx+dx, bcy+dy
	hw, hh := b.W()*s/2, b.H()*s/2
	nb := detection.Rect{X1: cx - hw, Y1: cy - hh, X2: cx + hw, Y2: cy + hh}
	if visibleFraction(nb, W, H) < cfg.MinVisible {
		st.Fail = FailLeftFrame
		return box, false
	}
	return detection.Rect{X1: nb.X1 * sc, Y1: nb.Y1 * sc, X2: nb.X2 * sc, Y2: nb.Y2 * sc}, true
}
