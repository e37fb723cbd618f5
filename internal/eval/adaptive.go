package eval

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/policy"
	"github.com/gst-react/gst-react/internal/tracker"
)

// Policy values of Result.
const (
	PolicyFixed    = "fixed"
	PolicyAdaptive = "adaptive"
)

// PolicyRun is one joint replay: the edge path's boxes, the cloud sets and
// what the policy spent and why.
type PolicyRun struct {
	Local [][]detection.Detection
	Cloud *CloudSets
	// Detected marks the replayed frames the edge detector ran on.
	Detected []bool
	// DetectReasons and OffloadReasons count the decisions by reason
	// (offloads: decided; a request skipped for MaxInflight still counts).
	DetectReasons, OffloadReasons map[string]int
}

// EdgeRuns is the number of edge detector runs.
func (r *PolicyRun) EdgeRuns() int {
	n := 0
	for _, d := range r.Detected {
		if d {
			n++
		}
	}
	return n
}

// PolicyReplay replays the edge path, the cloud path and their signals
// together on the simulated clock, with pol deciding on every frame whether
// it is offloaded and whether the edge detector runs on the next one, as
// reactcloud decides for reactdetect live. The edge path is EdgeStream's
// (tracker Update on detected frames, Step otherwise), the cloud path
// CloudStream's (MaxInflight, the ring, MaxJump, MaxCloudAge); the policy
// sees what the element sees: the frame's live boxes, whether it was
// detected, the scene-change test, requests in flight, replies and their
// round trip (the simulated latency), and each request's bytes as
// reactcloud's encoder makes them (bytes, by source frame) on the frame
// after it is sent, as the engine's counters report them. With a Fixed
// policy of k and m it reproduces EdgeStream(k) and CloudStream(m) exactly.
func PolicyReplay(ctx context.Context, p *Prepared, order []int, delay int, trk tracker.Config, cfg CloudConfig,
	pol *policy.Policy, bytes map[int]int) (*PolicyRun, error) {
	n := len(order)
	run := &PolicyRun{Local: make([][]detection.Detection, n), Detected: make([]bool, n),
		DetectReasons: map[string]int{}, OffloadReasons: map[string]int{}}
	tr := tracker.NewTracks(trk)
	// The carrier follows live tracks only when anchoring, as in Sweep.
	var live [][]detection.Detection
	if cfg.anchors() {
		live = run.Local
	}
	c := newCloudPath(p, order, live, ConstantDelay(delay), cfg)
	rtt := time.Duration(float64(delay) / p.Seq.FPS * float64(time.Second))
	var sig policy.Signals
	detect := true // the first frame is detected, as reactdetect's is
	for j, src := range order {
		if j%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		var cur []detection.Detection
		if detect {
			cur = tr.Update(p.Edge[src], &p.Pyr[src])
		} else {
			cur = tr.Step(&p.Pyr[src])
		}
		run.Local[j], run.Detected[j] = clone(cur), detect
		c.deliver(j)
		sig.Frame, sig.Boxes, sig.Detected = uint64(j), run.Local[j], detect
		sig.SceneChange = c.scene.due(j, c.pyr(j))
		sig.Inflight, sig.Replies = len(c.pending), uint64(c.replies)
		if c.replies > 0 {
			sig.Cloud, sig.RTT = policy.CloudUp, rtt
		}
		d := pol.Decide(&sig)
		if d.Offload {
			run.OffloadReasons[d.OffloadReason.String()]++
			if c.send(j, d.OffloadReason == policy.ReasonSceneChange) {
				pol.Sent()
				// The engine counts a request's bytes once it is encoded
				// and published: the policy sees them on the next frame.
				sig.SentRequests++
				sig.SentBytes += uint64(bytes[src])
			}
		}
		c.follow(j)
		detect = d.DetectNext
		if detect {
			run.DetectReasons[d.DetectReason.String()]++
		}
	}
	run.Cloud = c.cs
	return run, nil
}

// AdaptiveOptions are the adaptive policy's settings a sweep replays with;
// the frame rate, MaxInflight and the scene-change gap come from the
// sequence and Options.Cloud.
type AdaptiveOptions struct {
	Budgets      policy.Budgets
	MaxInterval  int
	OffloadEvery time.Duration
}

// PolicyConfig is the adaptive policy for sequence p under o.
func (a AdaptiveOptions) PolicyConfig(p *Prepared, o Options) policy.Config {
	return policy.Config{Mode: policy.Adaptive, FPS: p.Seq.FPS, Budgets: a.Budgets,
		MaxInterval: a.MaxInterval, OffloadEvery: a.OffloadEvery,
		MinOffloadGap: o.Cloud.ChangeMinGap, MaxInflight: o.Cloud.MaxInflight, Timeout: offload.DefaultTimeout}
}

// SweepAdaptive replays p under the adaptive policy, once per latency in g,
// and scores edge-only, cloud-only and fused output for every fusion setting
// in g (g.K and g.M are the fixed policy's and are not used). Rows carry
// policy "adaptive", what was spent (measured as for fixed rows) and, as K
// and M, the effective intervals: replayed frames per edge run and per
// request, rounded (EffectiveK and EffectiveM unrounded).
func SweepAdaptive(ctx context.Context, p *Prepared, order []int, g Grid, o Options, a AdaptiveOptions) ([]Result, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := o.Reference.Check(p.Seq); err != nil {
		return nil, err
	}
	cfg := a.PolicyConfig(p, o)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	uplink := o.uplinkConfig()
	// Any frame may be sent: measure every source frame's request.
	srcs := make([]int, len(p.Seq.Frames))
	for i := range srcs {
		srcs[i] = i
	}
	bytes, err := p.RequestBytes(ctx, srcs, uplink, o.Jobs)
	if err != nil {
		return nil, err
	}
	fps, name := p.Seq.FPS, p.Seq.Name
	var delays []int
	for _, l := range g.Latencies {
		delays = append(delays, DelayFrames(l, fps))
	}
	runs := make([]*PolicyRun, len(delays))
	err = parallel(ctx, o.Jobs, len(delays), func(i int) error {
		pol, err := policy.New(cfg)
		if err != nil {
			return err
		}
		runs[i], err = PolicyReplay(ctx, p, order, delays[i], o.Tracker, o.Cloud, pol, bytes)
		o.Progress.Add(streamUnits, fmt.Sprintf("%s adaptive delay=%d", name, delays[i]))
		return err
	})
	if err != nil {
		return nil, err
	}
	playback := playbackOf(p, order)
	var results []Result
	var runOf []int
	for i, l := range g.Latencies {
		r := runs[i]
		edgeScore, err := o.Reference.ScoreStream(p, order, r.Local)
		if err != nil {
			return nil, err
		}
		cloudScore, err := o.Reference.ScoreStream(p, order, r.Cloud.Sets)
		if err != nil {
			return nil, err
		}
		edgeRuns, reqs := r.EdgeRuns(), len(r.Cloud.SentFrames)
		ek, em := float64(len(order))/float64(max(1, edgeRuns)), float64(len(order))/float64(max(1, reqs))
		cost := costOf(p, order, edgeRuns, r.Cloud, bytes) // as for fixed rows
		for _, fp := range g.Fusion {
			results = append(results, Result{
				Sequence: name, Policy: PolicyAdaptive, K: int(math.Round(ek)), M: int(math.Round(em)),
				EffectiveK: round3(ek), EffectiveM: round3(em),
				DetectReasons: r.DetectReasons, OffloadReasons: r.OffloadReasons,
				LatencyMS: float64(l) / float64(time.Millisecond), DelayFrames: delays[i], Frames: len(order),
				Playback: playback, FusionParams: fp, Cost: cost, Tracker: o.Tracker.Method.Resolve().String(),
				Reference: o.Reference.kind(), Classes: FormatClasses(o.Reference.ScoredClasses()), AP: o.Reference.apName(),
				EdgeOnly: edgeScore, CloudOnly: cloudScore,
			})
			runOf = append(runOf, i)
		}
	}
	err = parallel(ctx, o.Jobs, len(results), func(i int) error {
		res := &results[i]
		r := runs[runOf[i]]
		s := o.Reference.NewScorer(p, order)
		if err := Fuse(r.Local, r.Cloud, res.FusionParams.Config(), s.Add); err != nil {
			return err
		}
		res.Fused = s.Score()
		o.Progress.Add(fuseUnits, fmt.Sprintf("%s fuse adaptive L=%gms", name, res.LatencyMS))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// AdaptiveUnits is the progress SweepAdaptive reports for a sequence.
func (g Grid) AdaptiveUnits() int {
	return len(g.Latencies)*streamUnits + len(g.Latencies)*len(g.Fusion)*fuseUnits
}
