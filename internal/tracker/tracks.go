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
//     would otherwise drift on for k frames. Boxes, class, score and source
//     come from the detection; Age is 0.
//   - Step moves every track with Median Flow and drops those whose tracking
//     failed. Carried boxes get Source = SourceTracked (the box is the
//     tracker's estimate now, whoever found the object) and Age+1; class and
//     score are kept. A caller that needs to know a box came from the cloud
//     must remember it (e.g. the fast-forward instance's output is all cloud).
type Tracks struct {
	mf     *MedianFlow
	prev   Pyramid
	tracks []detection.Detection
	out    []detection.Detection
	nextID int

	pairs    []match
	trackIDs []int
	usedT    []bool
}

type match struct {
	iou  float32
	t, d int
}

// NewTracks makes an empty set; zero fields of cfg take their defaults.
func NewTracks(cfg Config) *Tracks {
	return &Tracks{mf: NewMedianFlow(cfg), nextID: 1}
}

// Config returns the configuration in use (defaults filled in).
func (t *Tracks) Config() Config { return t.mf.cfg }

// Len is the number of live tracks.
func (t *Tracks) Len() int { return len(t.tracks) }

// Reset drops every track and the stored pyramid; ids keep increasing.
func (t *Tracks) Reset() {
	t.tracks = t.tracks[:0]
	t.prev.Levels = t.prev.Levels[:0]
}

// Current returns the tracks as of the last Update or Step, in a reused slice
// that stays valid until the next call on t (the caller may modify it).
func (t *Tracks) Current() []detection.Detection {
	t.out = append(t.out[:0], t.tracks...)
	return t.out
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
	for _, p := range t.pairs {
		if t.usedT[p.t] || t.trackIDs[p.d] != 0 {
			continue
		}
		t.usedT[p.t] = true
		t.trackIDs[p.d] = t.tracks[p.t].TrackID
	}
	t.tracks = t.tracks[:0]
	for j, d := range dets {
		if d.Box.Empty() {
			continue
		}
		id := t.trackIDs[j]
		if id == 0 {
			id = t.nextID
			t.nextID++
		}
		d.TrackID = id
		d.Age = 0
		t.tracks = append(t.tracks, d)
	}
	if cur == nil {
		t.prev.Levels = t.prev.Levels[:0]
	} else {
		t.prev.CopyFrom(cur)
	}
	return t.Current()
}

// Step carries every track from the previous frame to cur with Median Flow,
// drops the tracks it loses, and returns the survivors as Current does. With
// no previous pyramid, a nil cur, or a change of frame geometry, all tracks
// are dropped.
func (t *Tracks) Step(cur *Pyramid) []detection.Detection {
	if !sameGeometry(&t.prev, cur) {
		t.tracks = t.tracks[:0]
	}
	keep := t.tracks[:0]
	for _, tr := range t.tracks {
		box, ok := t.mf.Track(&t.prev, cur, tr.Box)
		if !ok {
			continue
		}
		tr.Box = box
		tr.Source = detection.SourceTracked
		tr.Age++
		keep = append(keep, tr)
	}
	t.tracks = keep
	if cur == nil {
		t.prev.Levels = t.prev.Levels[:0]
	} else {
		t.prev.CopyFrom(cur)
	}
	return t.Current()
}

func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
