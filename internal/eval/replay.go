package eval

import (
	"context"
	"math"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/evalmetrics"
	"github.com/gst-react/gst-react/internal/fusion"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/tracker"
)

// PersonClass is the COCO class evaluated against MOT pedestrians.
const PersonClass = 0

// DelayFrames is the simulated clock's reply delay: the cloud's answer for
// frame t is first used on frame t + DelayFrames(latency, fps), i.e. on the
// first frame that starts at or after t/fps + latency: ceil(latency × fps).
// Integer arithmetic when fps is a whole number, so 300 ms at 30 fps is
// exactly 9 frames on every machine.
func DelayFrames(latency time.Duration, fps float64) int {
	if latency <= 0 || !(fps > 0) {
		return 0
	}
	if f := int64(fps); float64(f) == fps && int64(latency) < math.MaxInt64/max(f, 1) {
		num := int64(latency) * f
		return int((num + int64(time.Second) - 1) / int64(time.Second))
	}
	return int(math.Ceil(latency.Seconds()*fps - 1e-9))
}

// EdgeStream replays the live edge path (reactdetect + reacttrack): on every
// replayed frame i ≡ 0 (mod k) the edge detector's boxes re-seed the live
// Tracks (Update), on every other frame the Tracks follow the previous boxes
// (Step), exactly as elements/reacttrack does. It returns the boxes leaving
// reacttrack on each replayed frame (order[i] is the source frame shown).
func EdgeStream(ctx context.Context, p *Prepared, order []int, k int, cfg tracker.Config) ([][]detection.Detection, error) {
	tr := tracker.NewTracks(cfg)
	out := make([][]detection.Detection, len(order))
	for i, src := range order {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		var cur []detection.Detection
		if i%k == 0 {
			cur = tr.Update(p.Edge[src], &p.Pyr[src])
		} else {
			cur = tr.Step(&p.Pyr[src])
		}
		out[i] = clone(cur)
	}
	return out, nil
}

// EdgeRuns is how many times EdgeStream(k) runs the edge detector on n
// replayed frames (frames 0, k, 2k, ...): the runs actually made, as
// PolicyRun.EdgeRuns counts them for any policy.
func EdgeRuns(n, k int) int {
	if n <= 0 || k <= 0 {
		return 0
	}
	return (n + k - 1) / k
}

// CloudConfig is what the cloud path of the replay takes from offload.Config.
type CloudConfig struct {
	// Tracker tunes the fast-forward tracker (zero fields: offload's defaults,
	// GridSize 6).
	Tracker tracker.Config
	// MaxJump: the fast-forward catches up in steps of at most this many
	// frames (offload default 2).
	MaxJump int
	// MaxCloudAge: stop following a reply this many frames after its frame
	// (offload default 150; 0 = until lost).
	MaxCloudAge int
	// RingFrames and RingBytes bound the frame ring: a reply for a frame no
	// longer in it is dropped (offload defaults 60 frames, 64 MiB).
	RingFrames int
	RingBytes  int64
	// MaxInflight: a frame due for the cloud while this many requests are
	// outstanding is skipped (offload default 2; 0 = no limit).
	MaxInflight int
	// ChangeThreshold and ChangeMinGap: scene-change offloads as reactcloud
	// sends them besides every m-th frame (offload defaults 0.1 and 10
	// frames; threshold 0 = none).
	ChangeThreshold float64
	ChangeMinGap    int
	// AnchorIoU: a cloud box matching a live track's box on the cloud's frame
	// at this IoU rides along that track (offload.Carrier; default 0: every
	// box is tracked).
	AnchorIoU float32
}

func (c CloudConfig) anchors() bool { return c.AnchorIoU > 0 }

// CloudConfigFrom takes the replay's settings from an engine configuration.
func CloudConfigFrom(c offload.Config) CloudConfig {
	return CloudConfig{Tracker: c.Tracker, MaxJump: c.MaxJump, MaxCloudAge: c.MaxCloudAge,
		RingFrames: c.RingFrames, RingBytes: c.RingBytes, MaxInflight: c.MaxInflight, AnchorIoU: c.AnchorIoU,
		ChangeThreshold: c.ChangeThreshold, ChangeMinGap: c.ChangeMinGap}
}

// DefaultCloudConfig is CloudConfigFrom(offload.DefaultConfig()): what the
// reactcloud element runs with by default.
func DefaultCloudConfig() CloudConfig { return CloudConfigFrom(offload.DefaultConfig()) }

// ringFrames sizes the ring the way offload.Engine does for this geometry.
func (c CloudConfig) ringFrames(p *Prepared) int {
	n := int64(c.RingFrames)
	if n <= 0 {
		n = offload.DefaultRingFrames
	}
	rb := c.RingBytes
	if rb <= 0 {
		rb = offload.DefaultRingBytes
	}
	gw, gh := int64(p.Width/p.Scale), int64(p.Height/p.Scale)
	perFrame := max(1, gw*gh*4/3)
	if byBytes := rb / perFrame; byBytes < n {
		n = max(2, byBytes)
	}
	return int(n)
}

// CloudSets is the cloud path of one replay: per replayed frame, the newest
// reply's boxes fast-forwarded to that frame, as reactcloud hands them to
// fusion.
type CloudSets struct {
	Sets [][]detection.Detection
	// Fresh marks the first frame a reply's set is used (Fuse's cloudFresh).
	Fresh []bool
	// Origin is the frame the set was detected on (-1: none).
	Origin []int
	// Sent requests, Skipped frames (MaxInflight reached), Dropped replies
	// (their frame had left the ring, or a newer frame's reply overtook
	// them: only with varying delays).
	Sent, Skipped, Dropped int
	// SentFrames are the replayed frames sent, in order (what the uplink
	// carries); SceneChanges counts those sent for a scene change.
	SentFrames   []int
	SceneChanges int
}

// CloudStream replays the cloud path (reactcloud's offload and fast-forward)
// on the simulated clock: every replayed frame i ≡ 0 (mod m) is sent; its
// reply (the cloud detector's boxes on that frame) is delivered on frame
// i + delay. On delivery an offload.Carrier is seeded with the boxes, the
// live boxes local[i] and the pyramid of frame i, and steps to the delivery
// frame in jumps of at most MaxJump frames, exactly like the engine's
// fast-forward goroutine catching up over its ring; from then on it follows
// frame by frame until the next reply replaces it. local is the edge path's
// output (EdgeStream), whose track ids carry the boxes they explain; nil
// tracks every cloud box, which is cloud-only REACT. Unlike the live engine
// the fast-forward is never late: the set for frame j is always carried to
// frame j (the live MaxLag is moot).
func CloudStream(ctx context.Context, p *Prepared, order []int, local [][]detection.Detection, m, delay int, cfg CloudConfig) (*CloudSets, error) {
	return CloudStreamDelays(ctx, p, order, local, m, ConstantDelay(delay), cfg)
}

// CloudStreamDelays is CloudStream with each request's delay from delays
// (e.g. a recorded LatencyTrace). Replies may then overtake each other: as
// in the engine, a reply older than the one last delivered is dropped.
func CloudStreamDelays(ctx context.Context, p *Prepared, order []int, local [][]detection.Detection, m int, delays Delays, cfg CloudConfig) (*CloudSets, error) {
	c := newCloudPath(p, order, local, delays, cfg)
	for j := range len(order) {
		if j%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		c.deliver(j) // replies that arrived since the last frame free their slot
		if byInterval := j%m == 0; byInterval || c.scene.due(j, c.pyr(j)) {
			c.send(j, !byInterval)
		}
		c.follow(j)
	}
	return c.cs, nil
}

// cloudPath is the cloud side of a replay, frame by frame: CloudStream
// drives it on REACT's fixed schedule, PolicyReplay as a policy decides.
type cloudPath struct {
	p         *Prepared
	order     []int
	local     [][]detection.Detection
	delays    Delays
	cfg       CloudConfig
	cs        *CloudSets
	maxJump   int
	ring      int
	scene     *sceneTrigger
	ff        *offload.Carrier
	pending   []pendingReply // outstanding requests, in send order
	newest    int            // origin of the newest reply delivered (-1: none)
	active    bool
	origin    int
	at        int // frame the followed boxes are on
	fusedFrom int
	replies   int // replies delivered (dropped ones included)
}

// pendingReply is an outstanding request: the frame it was for and the
// frame its reply arrives on.
type pendingReply struct{ origin, due int }

func newCloudPath(p *Prepared, order []int, local [][]detection.Detection, delays Delays, cfg CloudConfig) *cloudPath {
	n := len(order)
	maxJump := cfg.MaxJump
	if maxJump <= 0 {
		maxJump = offload.DefaultMaxJump
	}
	return &cloudPath{p: p, order: order, local: local, delays: delays, cfg: cfg, newest: -1,
		cs:      &CloudSets{Sets: make([][]detection.Detection, n), Fresh: make([]bool, n), Origin: make([]int, n)},
		maxJump: maxJump, ring: cfg.ringFrames(p), scene: newSceneTrigger(cfg),
		ff: offload.NewCarrier(cfg.Tracker, cfg.AnchorIoU), fusedFrom: -1}
}

func (c *cloudPath) pyr(j int) *tracker.Pyramid { return &c.p.Pyr[c.order[j]] }

func (c *cloudPath) liveAt(i int) []detection.Detection {
	if c.local == nil {
		return nil
	}
	return c.local[i]
}

// full reports whether MaxInflight requests are outstanding.
func (c *cloudPath) full() bool {
	return c.cfg.MaxInflight > 0 && len(c.pending) >= c.cfg.MaxInflight
}

// deliver hands over the replies due by frame j.
func (c *cloudPath) deliver(j int) {
	for {
		// The earliest arrival due by j, the earlier request on a tie: with
		// a constant delay that is always the head, in send order.
		next := -1
		for i, r := range c.pending {
			if r.due <= j && (next < 0 || r.due < c.pending[next].due) {
				next = i
			}
		}
		if next < 0 {
			return
		}
		t := c.pending[next].origin
		c.pending = append(c.pending[:next], c.pending[next+1:]...)
		c.replies++
		if t < c.newest {
			// Overtaken by a newer frame's reply: the engine drops it too
			// (only its in-flight slot is freed).
			c.cs.Dropped++
			continue
		}
		c.newest = t
		// A newer reply replaces whatever was followed (engine: seed).
		c.active = false
		if j-t >= c.ring {
			c.cs.Dropped++ // its frame is no longer in the ring
			c.ff.Reset()
			continue
		}
		src := c.order[t]
		c.ff.Seed(c.p.Cloud[src], c.liveAt(t), &c.p.Pyr[src])
		c.active, c.origin, c.at = true, t, t
	}
}

// send offloads frame j unless MaxInflight requests wait (then it is
// skipped, as the engine does); it reports whether the request went.
func (c *cloudPath) send(j int, sceneChange bool) bool {
	if c.full() {
		c.cs.Skipped++
		return false
	}
	c.pending = append(c.pending, pendingReply{origin: j, due: j + c.delays(c.cs.Sent)})
	c.cs.Sent++
	c.cs.SentFrames = append(c.cs.SentFrames, j)
	if sceneChange {
		c.cs.SceneChanges++
	}
	c.scene.sent(j, c.pyr(j))
	return true
}

// follow delivers a zero-latency reply, carries the followed boxes to frame
// j and records the frame's cloud set.
func (c *cloudPath) follow(j int) {
	c.deliver(j) // a zero-latency reply is usable on its own frame
	for c.active && c.at < j {
		next := min(j, c.at+c.maxJump)
		if c.cfg.MaxCloudAge > 0 && next-c.origin > c.cfg.MaxCloudAge {
			c.active = false
			c.ff.Reset()
			break
		}
		c.ff.Step(c.liveAt(next), c.pyr(next))
		c.at = next
	}
	cs := c.cs
	cs.Origin[j] = -1
	if c.active {
		cs.Sets[j] = clone(c.ff.Current())
		cs.Origin[j] = c.origin
		if len(cs.Sets[j]) > 0 && c.fusedFrom != c.origin {
			cs.Fresh[j], c.fusedFrom = true, c.origin
		}
	}
}

// Fuse runs the real fusion.Fuser over a replay: local (the edge path's
// boxes) and the cloud sets, frame by frame, calling visit with each frame's
// fused boxes (valid only during the call).
func Fuse(local [][]detection.Detection, cloud *CloudSets, cfg fusion.Config, visit func(i int, fused []detection.Detection) error) error {
	fu, err := fusion.NewFuser(cfg)
	if err != nil {
		return err
	}
	var buf []detection.Detection
	for i := range local {
		age := 0
		if cloud.Fresh[i] {
			age = i - cloud.Origin[i]
		}
		buf = fu.FuseAged(local[i], cloud.Sets[i], cloud.Fresh[i], age, buf[:0])
		if err := visit(i, buf); err != nil {
			return err
		}
	}
	return nil
}

// Score is one mode's accuracy on the person class, as fractions in [0,1].
type Score struct {
	MAP50   float64 `json:"map50"`    // COCO AP at IoU 0.5 (101-point)
	MAP5095 float64 `json:"map50_95"` // COCO AP averaged over IoU 0.5:0.05:0.95
}

// Scorer accumulates one replay's boxes against the sequence's ground truth:
// eval=1 rows are persons to find, every other row is an ignore region
// (evalmetrics.FromMOT); only person detections (COCO class 0) count.
type Scorer struct {
	p     *Prepared
	order []int
	acc   *evalmetrics.Accumulator
	ap    evalmetrics.Interpolation // Reference.AP
	gts   []evalmetrics.GT
	dets  []evalmetrics.Det
}

// NewScorer starts scoring a replay of p in the given frame order.
func NewScorer(p *Prepared, order []int) *Scorer {
	return &Scorer{p: p, order: order, acc: evalmetrics.New(PersonClass)}
}

// Add records replayed frame i's boxes (image id i+1).
func (s *Scorer) Add(i int, ds []detection.Detection) error {
	sf := s.p.Seq.Frames[s.order[i]]
	s.gts = evalmetrics.FromMOT(s.gts[:0], s.p.Seq.GT.Frames[sf.Number], PersonClass)
	s.dets = evalmetrics.FromDetections(s.dets[:0], ds)
	return s.acc.Add(i+1, s.gts, s.dets)
}

// Score is the accuracy so far.
func (s *Scorer) Score() Score { return scoreOf(s.acc, s.ap) }

// ScoreStream scores per-frame boxes.
func ScoreStream(p *Prepared, order []int, frames [][]detection.Detection) (Score, error) {
	s := NewScorer(p, order)
	for i, ds := range frames {
		if err := s.Add(i, ds); err != nil {
			return Score{}, err
		}
	}
	return s.Score(), nil
}

func clone(ds []detection.Detection) []detection.Detection {
	if len(ds) == 0 {
		return nil
	}
	return append([]detection.Detection(nil), ds...)
}
