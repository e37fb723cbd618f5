package policy

import (
	"cmp"
	"slices"

	"github.com/gst-react/gst-react/internal/detection"
)

// trackScore is one live track as of the previous frame.
type trackScore struct {
	id    int
	score float32
}

// edgeObserver turns the edge path's boxes, frame after frame, into signals:
// tracks lost (gone since the previous frame) or failing (a tracked box whose
// score fell: the tracker lost it and it is coasting), and on detection frames
// the boxes no previous track explained (the tracker gave them fresh ids) and
// those the edge model was unsure of. Boxes without a track id are ignored.
type edgeObserver struct {
	prev, cur []trackScore
	primed    bool // a frame was seen: on the first, no track could explain anything
}

type edgeSignals struct {
	lost, failing, unexplained, unsure int
}

func (o *edgeObserver) reset() { o.prev, o.primed = o.prev[:0], false }

func (o *edgeObserver) observe(boxes []detection.Detection, detected bool, lowConfidence float32) edgeSignals {
	var s edgeSignals
	o.cur = o.cur[:0]
	for i := range boxes {
		b := &boxes[i]
		if b.TrackID <= 0 {
			continue
		}
		o.cur = append(o.cur, trackScore{b.TrackID, b.Score})
	}
	slices.SortFunc(o.cur, func(a, b trackScore) int { return cmp.Compare(a.id, b.id) })
	if detected {
		for i := range boxes {
			if o.primed && boxes[i].TrackID > 0 && !o.had(boxes[i].TrackID) {
				s.unexplained++
			}
			if boxes[i].Score < lowConfidence {
				s.unsure++
			}
		}
	} else {
		for _, p := range o.prev {
			j, ok := slices.BinarySearchFunc(o.cur, p.id, func(t trackScore, id int) int { return cmp.Compare(t.id, id) })
			switch {
			case !ok:
				s.lost++
			case o.cur[j].score < p.score:
				s.failing++
			}
		}
	}
	o.prev, o.cur = o.cur, o.prev
	o.primed = true
	return s
}

func (o *edgeObserver) had(id int) bool {
	_, ok := slices.BinarySearchFunc(o.prev, id, func(t trackScore, id int) int { return cmp.Compare(t.id, id) })
	return ok
}
