package offload

import (
	"github.com/gst-react/gst-react/internal/assign"
	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/tracker"
)

// Carrier carries one cloud reply from the frame the cloud saw to the
// present, using what the edge already knows. The live tracks (reacttrack's
// boxes, with their track ids) have followed the scene through every frame
// since then: a cloud box that matches a live track's box on the cloud's
// frame rides along that track's path, mapped by the track's own shift and
// scale, with no tracking and no drift of its own. Only the cloud boxes no
// live track explains, the objects the edge missed and REACT's whole gain,
// are tracked over the frames by a Follower. An anchored box whose track
// ends (the edge lost it) is handed to the Follower where it was last seen.
//
// Without live track ids (no reacttrack upstream, or nil local boxes) every
// box goes to the Follower, which is the plain REACT fast-forward. Output
// track ids come from the Follower's id space, so they are unique and stable
// for as long as a box is carried. Not safe for concurrent use.
type Carrier struct {
	follow    *Follower
	anchorIoU float32

	anchors []anchor
	out     []detection.Detection
	orphans []detection.Detection

	solver assign.Solver
	iou    []float32
	pairs  []assign.Pair
	local  []int // indices of the local boxes that carry a live track id
	taken  []bool
	loose  []detection.Detection
}

// anchor is a cloud box riding along a live track.
type anchor struct {
	det   detection.Detection // the cloud box as of the last step
	track int                 // the live track's id
	ref   detection.Rect      // the track's box on the frame det.Box is for
}

// NewCarrier makes a Carrier whose Follower uses cfg (see NewFollower). A
// cloud box and a live track's box on the cloud's frame overlapping by at
// least anchorIoU are taken for the same object; anchorIoU 0 anchors nothing
// (every box is followed, as in REACT).
func NewCarrier(cfg tracker.Config, anchorIoU float32) *Carrier {
	return &Carrier{follow: NewFollower(cfg), anchorIoU: anchorIoU}
}

// Seed starts carrying cloud, a reply's boxes for the frame whose pyramid is
// pyr and whose live boxes were local, dropping whatever was carried before.
// It returns the carried boxes, in a slice reused by the next call.
func (c *Carrier) Seed(cloud, local []detection.Detection, pyr *tracker.Pyramid) []detection.Detection {
	c.anchors = c.anchors[:0]
	c.loose = c.loose[:0]
	c.match(cloud, local)
	for j := range cloud {
		if c.taken[j] {
			continue
		}
		c.loose = append(c.loose, cloud[j])
	}
	c.follow.Seed(c.loose, pyr)
	return c.collect()
}

// match pairs cloud boxes with live tracks' boxes one to one by maximum total
// IoU and anchors the pairs; c.taken marks the anchored cloud boxes.
func (c *Carrier) match(cloud, local []detection.Detection) {
	c.taken = resizeSlice(c.taken, len(cloud))
	clear(c.taken)
	c.local = c.local[:0]
	for i := range local {
		if id := local[i].TrackID; id > 0 && id < detection.CloudTrackIDBase && !local[i].Box.Empty() {
			c.local = append(c.local, i)
		}
	}
	nl, nc := len(c.local), len(cloud)
	if nl == 0 || nc == 0 || !(c.anchorIoU > 0) {
		return
	}
	c.iou = resizeSlice(c.iou, nl*nc)
	for r, i := range c.local {
		a := local[i].Box
		for j := range cloud {
			c.iou[r*nc+j] = detection.IoU(a, cloud[j].Box)
		}
	}
	var err error
	c.pairs, err = c.solver.MaximizeIoU(c.iou, nl, nc, c.anchorIoU, c.pairs[:0])
	if err != nil {
		panic("offload: " + err.Error()) // shapes and threshold are valid here
	}
	for _, p := range c.pairs {
		l := &local[c.local[p.Row]]
		d := cloud[p.Col]
		d.TrackID = c.follow.tracks.ReserveID() + detection.CloudTrackIDBase
		d.Source = detection.SourceCloud
		c.anchors = append(c.anchors, anchor{det: d, track: l.TrackID, ref: l.Box})
		c.taken[p.Col] = true
	}
}

// Step carries the boxes to the frame of pyr, whose live boxes are local,
// and returns them in a slice reused by the next call.
func (c *Carrier) Step(local []detection.Detection, pyr *tracker.Pyramid) []detection.Detection {
	c.follow.Step(pyr)
	c.orphans = c.orphans[:0]
	keep := c.anchors[:0]
	for _, a := range c.anchors {
		now, ok := findTrack(local, a.track)
		if !ok {
			c.orphans = append(c.orphans, a.det)
			continue
		}
		a.det.Box = mapBox(a.det.Box, a.ref, now)
		a.ref = now
		keep = append(keep, a)
	}
	c.anchors = keep
	if len(c.orphans) > 0 {
		c.follow.Adopt(c.orphans, pyr)
	}
	return c.collect()
}

// Current is the output of the last Seed or Step.
func (c *Carrier) Current() []detection.Detection { return c.out }

// Reset stops carrying.
func (c *Carrier) Reset() {
	c.anchors = c.anchors[:0]
	c.follow.Reset()
	c.out = c.out[:0]
}

// Anchored is how many boxes ride along live tracks now.
func (c *Carrier) Anchored() int { return len(c.anchors) }

func (c *Carrier) collect() []detection.Detection {
	c.out = c.out[:0]
	for i := range c.anchors {
		c.out = append(c.out, c.anchors[i].det)
	}
	c.out = append(c.out, c.follow.Current()...)
	return c.out
}

// findTrack returns the box of the live track id in local.
func findTrack(local []detection.Detection, id int) (detection.Rect, bool) {
	for i := range local {
		if local[i].TrackID == id {
			return local[i].Box, !local[i].Box.Empty()
		}
	}
	return detection.Rect{}, false
}

// mapBox moves b the way the track's box moved from ref to now: the same
// shift of the centre in units of the track's size, and the same scale.
func mapBox(b, ref, now detection.Rect) detection.Rect {
	rw, rh := ref.X2-ref.X1, ref.Y2-ref.Y1
	sx, sy := float32(1), float32(1)
	if rw > 0 && rh > 0 {
		sx, sy = (now.X2-now.X1)/rw, (now.Y2-now.Y1)/rh
	}
	return detection.Rect{
		X1: now.X1 + (b.X1-ref.X1)*sx, Y1: now.Y1 + (b.Y1-ref.Y1)*sy,
		X2: now.X1 + (b.X2-ref.X1)*sx, Y2: now.Y1 + (b.Y2-ref.Y1)*sy,
	}
}

func resizeSlice[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
