// Package fusion merges REACT's two detection streams for one video frame: the
// fresh but weak edge/tracked boxes ("local") and the accurate but late cloud
// boxes, fast-forwarded by a tracker to the present frame ("cloud").
//
// Per frame, Fuser.Fuse pairs local and cloud boxes one-to-one by maximum total
// IoU (package assign), counting only pairs with IoU ≥ Config.IoUThreshold. It
// emits every local box in input order, then the unmatched cloud boxes in input
// order:
//
//   - Matched local box: the local box's TrackID and Age, its geometry
//     averaged with the cloud box's by freshness (each weighs 1/(1+frames
//     since its detector saw the object): the local box when it was just
//     detected and the cloud box was carried for frames, halfway when both
//     were detected on this frame), the cloud's Class (the cloud model is
//     the better classifier), the higher of the two scores (both models saw
//     the object), and
//     Source = detection.SourceCloud so that an overlay can show "confirmed by
//     the cloud"; whether the geometry was edge or tracked is given up for that.
//   - Unmatched local box: unchanged.
//   - Unmatched ("cloud-only") cloud box: REACT's recall gain, an object the edge
//     model missed. Source = detection.SourceCloud; Age is the number of frames
//     since the box was last confirmed, by matching a local box, or else since
//     the frame the cloud saw (FuseAged's replyAge; Fuse: since the reply
//     arrived); Score is the cloud's score × Decay^Age, and the box
//     is left out once that falls below MinScore. A match restores the full
//     cloud score because the object has just been seen again. Without any
//     re-confirmation Age is simply the number of frames since the reply.
//
// With no cloud boxes the local boxes pass through unchanged; with no local boxes
// the output is the (decayed) cloud boxes.
//
// Cloud box identity across frames: the caller passes the same reply's boxes,
// fast-forwarded, on every frame until the next reply (cloudFresh true on the
// first frame of a reply). Per-box decay state follows a box by its TrackID when
// that is non-zero (so the caller may drop boxes its tracker lost) and by its
// position in the slice otherwise (so the order must then be kept). A box that
// cannot be traced back is treated as unconfirmed since the reply. A carried set
// seen for the first time without cloudFresh (e.g. after Reset) counts as fresh.
//
// Cloud boxes that are empty, have non-finite coordinates or a NaN score are
// skipped (a tracker that pushed a box off the frame must not produce a ghost).
// Local boxes are never dropped or altered except by a match.
//
// Fuse is deterministic: the same sequence of calls gives the same outputs in
// the same order.
package fusion

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gst-react/gst-react/internal/assign"
	"github.com/gst-react/gst-react/internal/detection"
)

// Config tunes fusion. The defaults were chosen with `gstreact eval` on real
// sequences played once (TUD-Stadtmitte, OxfordTownCentre; README
// "Accuracy"), over k ∈ {1,5,10}, m ∈ {10,30,60} and latency 0, 300 ms and
// 1 s (54 points), with decay counted from the frame the cloud saw
// (FuseAged) and matched pairs keeping the higher score: IoU 0.6 with decay
// 0.97 gave a mean fused mAP@0.5 of 82.4 % (+2.6 points over the better of
// edge-only and cloud-only, ahead of both at 49 points) and was never more
// than 0.5 points below the better mode; IoU 0.5 was 0.1 higher on the mean
// but 0.6 below at its worst point, within noise of each other. Decay 0.99, tuned on ping-pong
// replays of 8-frame clips where people never leave, kept stale cloud boxes
// too long (11 of the 54 points more than a point below the better mode,
// before the other two changes). 0.97 halves an unconfirmed box's score in
// 23 frames.
type Config struct {
	// IoUThreshold is the smallest IoU at which a local and a cloud box may be
	// the same object; range (0, 1], default 0.6. A pair exactly at the threshold
	// matches.
	IoUThreshold float32
	// Decay multiplies a cloud-only box's score once per frame since it was last
	// confirmed; range (0, 1], default 0.97. 1 disables decay.
	Decay float32
	// MinScore drops a cloud-only box once its decayed score falls below it;
	// range [0, 1], default 0.2. 0 keeps cloud-only boxes for as long as the caller
	// carries them. Matched boxes are never dropped: the local box would have been
	// emitted anyway.
	MinScore float32
	// MatchClassAware, when true, lets only boxes of the same class match. The
	// default, false, matches on geometry alone and lets the cloud's class win,
	// which is how the cloud corrects edge misclassifications; with true, a local
	// and a cloud box that disagree on the class both appear.
	MatchClassAware bool
	// DuplicateIoU, when > 0, drops a cloud-only box whose IoU with any local box
	// is ≥ DuplicateIoU: the local box already covers that object (it lost the
	// assignment to another cloud box, or differs in class under
	// MatchClassAware). Range [0, 1], default 0 (off, as in REACT).
	DuplicateIoU float32
}

// DefaultConfig returns IoUThreshold 0.6, Decay 0.97, MinScore 0.2,
// MatchClassAware false and DuplicateIoU 0 (off).
func DefaultConfig() Config {
	return Config{IoUThreshold: 0.6, Decay: 0.97, MinScore: 0.2}
}

// Validate reports the first field out of its allowed range.
func (c Config) Validate() error {
	// Comparisons are written so that NaN fails them.
	if !(c.IoUThreshold > 0 && c.IoUThreshold <= 1) {
		return fmt.Errorf("fusion: IoUThreshold %v out of range (0, 1]", c.IoUThreshold)
	}
	if !(c.Decay > 0 && c.Decay <= 1) {
		return fmt.Errorf("fusion: Decay %v out of range (0, 1] (1 = no decay)", c.Decay)
	}
	if !(c.MinScore >= 0 && c.MinScore <= 1) {
		return fmt.Errorf("fusion: MinScore %v out of range [0, 1]", c.MinScore)
	}
	if !(c.DuplicateIoU >= 0 && c.DuplicateIoU <= 1) {
		return fmt.Errorf("fusion: DuplicateIoU %v out of range [0, 1] (0 = off)", c.DuplicateIoU)
	}
	return nil
}

// Stats counts what the last Fuse call did.
type Stats struct {
	Local, Cloud int // input sizes
	Matched      int // local boxes that took a cloud class and score
	LocalOnly    int // local boxes passed through unchanged
	CloudOnly    int // cloud boxes emitted without a local match
	Expired      int // cloud-only boxes dropped: decayed score below MinScore
	Duplicates   int // cloud-only boxes dropped by DuplicateIoU
	Invalid      int // cloud boxes skipped: empty or non-finite box, NaN score
}

// Fuser fuses one stream, frame by frame. It keeps the decay state of the
// current cloud reply's boxes and reusable buffers, so a steady-state Fuse call
// does not allocate. The zero Fuser uses DefaultConfig. Not safe for concurrent
// use; use one per stream.
type Fuser struct {
	cfg   Config
	ready bool // cfg is set (NewFuser, or DefaultConfig on first use)

	solver assign.Solver
	iou    []float32     // local×cloud IoU matrix, row-major
	pairs  []assign.Pair // assignment of the last frame
	lmatch []int         // per local box: matched cloud index or -1
	cmatch []int         // per cloud box: matched local index or -1
	cvalid []bool        // per cloud box: valid(box)

	// Decay state per cloud box of the current frame, and of the previous one
	// (swapped every frame) so boxes can be traced back.
	key, prevKey   []int // TrackID of the box
	since, prevSin []int // frames since last confirmation

	haveReply  bool // a reply has been seen since construction/Reset
	sinceReply int  // frames since the last fresh reply

	stats Stats
}

// NewFuser returns a Fuser for cfg, or cfg's validation error.
func NewFuser(cfg Config) (*Fuser, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Fuser{cfg: cfg, ready: true}
	f.reserve()
	return f, nil
}

// ReserveBoxes is how many local and cloud boxes each a Fuser's buffers hold
// from the start (a busy street scene), so that the first frame with more
// boxes than any before does not allocate mid-stream; beyond it they grow
// once. A caller's output buffer wants twice as many: every local box and
// every cloud-only one.
const ReserveBoxes = 64

func (f *Fuser) reserve() {
	n := ReserveBoxes
	f.iou = make([]float32, 0, n*n)
	f.pairs = make([]assign.Pair, 0, n)
	f.lmatch, f.cmatch, f.cvalid = make([]int, 0, n), make([]int, 0, n), make([]bool, 0, n)
	f.key, f.prevKey = make([]int, 0, n), make([]int, 0, n)
	f.since, f.prevSin = make([]int, 0, n), make([]int, 0, n)
	f.solver.Reserve(n)
}

// Config returns the Fuser's configuration.
func (f *Fuser) Config() Config {
	f.init()
	return f.cfg
}

func (f *Fuser) init() {
	if !f.ready {
		f.cfg, f.ready = DefaultConfig(), true
		f.reserve()
	}
}

// Reset forgets the cloud decay state (stream restart, flush, seek); buffers
// and configuration are kept.
func (f *Fuser) Reset() {
	f.key, f.prevKey = f.key[:0], f.prevKey[:0]
	f.since, f.prevSin = f.since[:0], f.prevSin[:0]
	f.haveReply, f.sinceReply = false, 0
	f.stats = Stats{}
}

// Stats reports the counts of the last Fuse call.
func (f *Fuser) Stats() Stats { return f.stats }

// Fuse fuses one frame and appends the result to dst (pass dst[:0] to reuse a
// buffer). local holds the frame's edge or tracked boxes, cloud the current
// reply's boxes fast-forwarded to this frame, and cloudFresh is true on the
// first frame a reply is fused. See the package documentation for the rules.
// Fuse must be called once per frame, also when both sides are empty, because
// every call is one frame of decay. The inputs are not modified.
func (f *Fuser) Fuse(local, cloud []detection.Detection, cloudFresh bool, dst []detection.Detection) []detection.Detection {
	return f.FuseAged(local, cloud, cloudFresh, 0, dst)
}

// FuseAged is Fuse for a reply that is already replyAge frames old when it is
// first fused (cloudFresh): the frames from the one the cloud saw to this
// one. Its unconfirmed boxes start decaying from that age, not from 0, so
// the trust in a cloud box falls with the time since the cloud saw the
// scene, not since the answer arrived: a box from a second ago is worth
// less than one from a tenth of a second ago however carefully it was
// carried forward. A local match still restores the full score.
func (f *Fuser) FuseAged(local, cloud []detection.Detection, cloudFresh bool, replyAge int, dst []detection.Detection) []detection.Detection {
	f.init()
	cfg := &f.cfg
	nl, nc := len(local), len(cloud)
	f.stats = Stats{Local: nl, Cloud: nc}

	fresh := cloudFresh || (!f.haveReply && nc > 0)
	if fresh {
		f.haveReply, f.sinceReply = true, max(0, replyAge)
	} else if f.haveReply {
		f.sinceReply++
	}
	f.carry(cloud, fresh)

	// Match.
	f.lmatch = resize(f.lmatch, nl)
	f.cmatch = resize(f.cmatch, nc)
	for i := range f.lmatch {
		f.lmatch[i] = -1
	}
	for j := range f.cmatch {
		f.cmatch[j] = -1
	}
	if nl > 0 && nc > 0 {
		f.iou = resize(f.iou, nl*nc)
		f.cvalid = resize(f.cvalid, nc)
		for j := range cloud {
			f.cvalid[j] = valid(&cloud[j])
		}
		iou, cvalid := f.iou, f.cvalid
		for i := range local {
			a := &local[i].Box
			cls := local[i].Class
			row := iou[i*nc : i*nc+nc]
			for j := range cloud {
				b := &cloud[j].Box
				w := float32(0)
				// Most pairs do not overlap at all; rejecting them inline keeps the
				// dense local×cloud pass cheap.
				if a.X1 < b.X2 && b.X1 < a.X2 && a.Y1 < b.Y2 && b.Y1 < a.Y2 && cvalid[j] &&
					(!cfg.MatchClassAware || cls == cloud[j].Class) {
					w = detection.IoU(*a, *b)
				}
				row[j] = w
			}
		}
		var err error
		f.pairs, err = f.solver.MaximizeIoU(iou, nl, nc, cfg.IoUThreshold, f.pairs[:0])
		if err != nil {
			// Shapes and threshold are checked above and by Validate.
			panic("fusion: " + err.Error())
		}
		for _, p := range f.pairs {
			f.lmatch[p.Row] = p.Col
			f.cmatch[p.Col] = p.Row
			f.since[p.Col] = 0 // re-confirmed: decay starts over
		}
	}

	// Emit local boxes, fused where matched.
	for i := range local {
		d := local[i]
		if j := f.lmatch[i]; j >= 0 {
			d.Class = cloud[j].Class
			// Both detectors saw this object: it is at least as likely as the
			// more confident of the two says (the cloud's score alone ranked a
			// sure fresh edge box below a doubtful stale cloud one).
			d.Score = max(d.Score, cloud[j].Score)
			// Geometry from the fresher source: each side's box weighs
			// 1/(1+frames since its detector saw the object), so a box
			// carried for many frames yields to a just-detected one, and two
			// boxes of the same age meet halfway.
			d.Box = blend(d.Box, d.Age, cloud[j].Box, f.sinceReply)
			d.Source = detection.SourceCloud
			f.stats.Matched++
		} else {
			f.stats.LocalOnly++
		}
		dst = append(dst, d)
	}

	// Emit cloud-only boxes, decayed.
	for j := range cloud {
		if f.cmatch[j] >= 0 {
			continue
		}
		d := cloud[j]
		if !valid(&d) { // not cvalid: that is only filled when there are local boxes
			f.stats.Invalid++
			continue
		}
		age := f.since[j]
		score := d.Score
		if age > 0 && cfg.Decay < 1 {
			score = float32(float64(score) * math.Pow(float64(cfg.Decay), float64(age)))
		}
		if score < cfg.MinScore {
			f.stats.Expired++
			continue
		}
		if cfg.DuplicateIoU > 0 && coveredBy(d.Box, local, cfg.DuplicateIoU) {
			f.stats.Duplicates++
			continue
		}
		d.Score = score
		d.Source = detection.SourceCloud
		d.Age = age
		dst = append(dst, d)
		f.stats.CloudOnly++
	}
	return dst
}

// carry sets f.key and f.since for this frame's cloud boxes, tracing each back to
// the previous frame's state (see the package documentation).
func (f *Fuser) carry(cloud []detection.Detection, fresh bool) {
	f.key, f.prevKey = f.prevKey, f.key
	f.since, f.prevSin = f.prevSin, f.since
	prevKey, prevSin := f.prevKey, f.prevSin
	f.key = resize(f.key, len(cloud))
	f.since = resize(f.since, len(cloud))
	hint := 0 // where the previous lookup succeeded: deletions keep order
	for i := range cloud {
		id := cloud[i].TrackID
		f.key[i] = id
		if fresh {
			f.since[i] = f.sinceReply // the reply's age
			continue
		}
		j := -1
		switch {
		case i < len(prevKey) && prevKey[i] == id:
			j = i
		case id != 0:
			j = find(prevKey, id, hint)
		}
		if j >= 0 {
			f.since[i] = prevSin[j] + 1
			hint = j + 1
		} else {
			f.since[i] = f.sinceReply // unknown: as old as the reply
		}
	}
}

// find returns the index of id in keys, searching from hint onwards first.
func find(keys []int, id, hint int) int {
	hint = min(hint, len(keys))
	for j := hint; j < len(keys); j++ {
		if keys[j] == id {
			return j
		}
	}
	for j := range hint {
		if keys[j] == id {
			return j
		}
	}
	return -1
}

// valid reports whether a cloud box can be shown.
func valid(d *detection.Detection) bool {
	b := d.Box
	if !finite(b.X1) || !finite(b.Y1) || !finite(b.X2) || !finite(b.Y2) || d.Score != d.Score {
		return false
	}
	return !b.Empty()
}

func finite(x float32) bool { return x-x == 0 }

// blend averages two boxes of the same object weighted by freshness: a box
// whose detector saw the object age frames ago weighs 1/(1+age).
func blend(a detection.Rect, ageA int, b detection.Rect, ageB int) detection.Rect {
	wa, wb := 1/float32(1+max(ageA, 0)), 1/float32(1+max(ageB, 0))
	n := wa + wb
	wa, wb = wa/n, wb/n
	return detection.Rect{X1: wa*a.X1 + wb*b.X1, Y1: wa*a.Y1 + wb*b.Y1, X2: wa*a.X2 + wb*b.X2, Y2: wa*a.Y2 + wb*b.Y2}
}

// coveredBy reports whether some local box overlaps box by IoU ≥ thr.
func coveredBy(box detection.Rect, local []detection.Detection, thr float32) bool {
	for i := range local {
		if detection.IoU(box, local[i].Box) >= thr {
			return true
		}
	}
	return false
}

// resize returns s with length n, reallocating only when capacity is short.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Decimal is the shortest decimal that names the float32 v (0.85, not
// 0.8500000238), for showing Config's float32 fields to people: property
// read-back, sweep tables.
func Decimal(v float32) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	return f
}
