package offload

import (
	"runtime"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/tracker"
)

// Follower is REACT's second tracker instance: it carries one cloud reply's
// boxes from the frame they were detected on, frame by frame (or a few frames
// at a time), to the present. Its output is marked as the cloud's, with track
// ids from detection.CloudTrackIDBase up. The Engine runs one on its fast-forward
// goroutine; the offline evaluation runs the same on a simulated clock. Not
// safe for concurrent use.
type Follower struct {
	tracks *tracker.Tracks
	out    []detection.Detection
	adopt  []detection.Detection
}

// NewFollower makes a Follower; zero fields of cfg take the tracker defaults,
// GridSize DefaultFFGridSize (see Config.Tracker).
func NewFollower(cfg tracker.Config) *Follower {
	if cfg.GridSize == 0 {
		cfg.GridSize = DefaultFFGridSize
	}
	// The velocity check needs detections one frame per Update or Step
	// apart; the fast-forward jumps frames while it catches up and Adopts
	// its own boxes on the frame it is at.
	cfg.NoVelocityCheck = true
	return &Follower{tracks: tracker.NewTracks(cfg)}
}

// Seed starts following dets, a reply's boxes for the frame whose pyramid is
// pyr, dropping whatever was followed before.
func (f *Follower) Seed(dets []detection.Detection, pyr *tracker.Pyramid) []detection.Detection {
	f.tracks.Reset()
	return f.mark(f.tracks.Update(dets, pyr))
}

// Step moves the boxes to the frame of pyr and returns the ones still
// followed, in a slice reused by the next call.
func (f *Follower) Step(pyr *tracker.Pyramid) []detection.Detection {
	return f.mark(f.tracks.Step(pyr))
}

// Adopt adds dets, boxes on the frame of pyr (the frame of the last Seed or
// Step), to the ones followed, and returns them all. Adopted boxes get fresh
// ids.
func (f *Follower) Adopt(dets []detection.Detection, pyr *tracker.Pyramid) []detection.Detection {
	f.adopt = append(append(f.adopt[:0], f.tracks.Current()...), dets...)
	return f.mark(f.tracks.Update(f.adopt, pyr))
}

// Current is the output of the last Seed or Step.
func (f *Follower) Current() []detection.Detection { return f.out }

// Reset stops following.
func (f *Follower) Reset() { f.tracks.Reset(); f.out = f.out[:0] }

func (f *Follower) mark(tracked []detection.Detection) []detection.Detection {
	f.out = cloudDetections(f.out, tracked)
	return f.out
}

// fastForward is the state of the fast-forward goroutine: a Carrier taking
// the newest reply's boxes over the ring's frames to the present, then
// following live until the next reply.
type fastForward struct {
	follow *Carrier
	active bool
	gen    uint64
	origin uint64 // frame the reply was for
	frame  uint64 // frame the tracks are on
}

func (e *Engine) fastForwardLoop() {
	defer e.wg.Done()
	ff := &fastForward{follow: NewCarrier(e.cfg.Tracker, e.cfg.AnchorIoU)}
	for {
		select {
		case <-e.ctx.Done():
			return
		case r := <-e.replies:
			e.seed(ff, r)
		case <-e.frameSig:
		}
		e.advance(ff)
	}
}

// acquire takes slot n of the current ring for reading, waiting out a
// concurrent pyramid build (a millisecond or two). It returns nil when the
// ring no longer holds frame n.
func (e *Engine) acquire(gen, n uint64) *slot {
	r := e.ring.Load()
	if r == nil || r.gen != gen {
		return nil
	}
	s := &r.slots[n%uint64(len(r.slots))]
	for !s.state.CompareAndSwap(slotFree, slotReading) {
		if e.ctx.Err() != nil {
			return nil
		}
		runtime.Gosched()
	}
	if !s.ok || s.frame != n {
		s.state.Store(slotFree)
		return nil
	}
	return s
}

// seed starts following a reply's boxes from their frame.
func (e *Engine) seed(ff *fastForward, r reply) {
	if l := e.latest.Load(); ff.active && l > 0 && ff.frame+1 < l {
		e.ctr.ffDropped.Add(1) // superseded before it caught up
	}
	ff.active = false
	if r.gen != e.gen.Load() {
		return
	}
	s := e.acquire(r.gen, r.frame)
	if s == nil {
		e.ctr.lateBeyondRing.Add(1)
		e.log.Debug("reactcloud: reply for a frame no longer in the ring", "frame", r.frame)
		return
	}
	ff.follow.Seed(r.dets, s.local, &s.pyr)
	s.state.Store(slotFree)
	e.ctr.ffAnchored.Add(uint64(ff.follow.Anchored()))
	ff.active, ff.gen, ff.origin, ff.frame = true, r.gen, r.frame, r.frame
	e.publish(ff)
}

// advance steps the tracks frame by frame up to the newest stored frame,
// publishing after every step so Process always sees the newest position.
func (e *Engine) advance(ff *fastForward) {
	for ff.active {
		if ff.gen != e.gen.Load() {
			ff.active = false
			return
		}
		latest := e.latest.Load()
		if latest == 0 || ff.frame+1 >= latest {
			return // caught up: wait for the next frame
		}
		if len(e.replies) > 0 {
			return // a newer reply replaces this one
		}
		// Jump straight to the newest frame when it is near: fewer steps
		// catch up sooner, and at these motions LK follows several frames'
		// worth of movement at once (see Config.MaxJump).
		n := min(latest-1, ff.frame+uint64(e.cfg.MaxJump))
		if e.cfg.MaxCloudAge > 0 && n-ff.origin > uint64(e.cfg.MaxCloudAge) {
			ff.active = false
			ff.follow.Reset()
			e.publish(ff)
			return
		}
		s := e.acquire(ff.gen, n)
		if s == nil {
			r := e.ring.Load()
			if r != nil && r.gen == ff.gen && e.ringHolds(r, n) && n > ff.frame+1 {
				// Frame n was never stored (a gap or a skipped slot): try
				// the one before it.
				if s = e.acquire(ff.gen, n-1); s != nil {
					n--
				}
			}
		}
		if s == nil {
			e.ctr.ffDropped.Add(1) // the ring moved past the tracks
			ff.active = false
			ff.follow.Reset()
			e.publish(ff)
			return
		}
		ff.follow.Step(s.local, &s.pyr)
		s.state.Store(slotFree)
		ff.frame = n
		e.ctr.ffStepped.Add(1)
		e.publish(ff)
	}
}

// ringHolds reports whether frame n is still within the ring's window, i.e.
// a missing slot for it is a gap rather than an overwrite.
func (e *Engine) ringHolds(r *ring, n uint64) bool {
	latest := e.latest.Load()
	return latest > 0 && n < latest && latest-1-n < uint64(len(r.slots))
}

// publish hands the tracks' current boxes to Process.
func (e *Engine) publish(ff *fastForward) {
	var out []detection.Detection
	if ff.active {
		out = ff.follow.Current()
	}
	e.pubMu.Lock()
	e.pub.dets = append(e.pub.dets[:0], out...)
	e.pub.gen, e.pub.origin, e.pub.frame = ff.gen, ff.origin, ff.frame
	e.pub.version++
	e.pubMu.Unlock()
}

// thumbnail averages g into a thumbW x thumbH grey thumbnail.
func thumbnail(dst *[thumbW * thumbH]uint8, g *tracker.Gray) {
	if g.W < thumbW || g.H < thumbH {
		*dst = [thumbW * thumbH]uint8{}
		return
	}
	for ty := range thumbH {
		y0, y1 := ty*g.H/thumbH, (ty+1)*g.H/thumbH
		for tx := range thumbW {
			x0, x1 := tx*g.W/thumbW, (tx+1)*g.W/thumbW
			// Every other row and column: a thumbnail needs no more.
			var sum, n uint32
			for y := y0; y < y1; y += 2 {
				row := g.Pix[y*g.W:]
				for x := x0; x < x1; x += 2 {
					sum += uint32(row[x])
					n++
				}
			}
			dst[ty*thumbW+tx] = uint8(sum / max(n, 1))
		}
	}
}

// thumbDiff is the mean absolute difference of two thumbnails, 0..1.
func thumbDiff(a, b *[thumbW * thumbH]uint8) float64 {
	var sum int
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return float64(sum) / float64(len(a)*255)
}
