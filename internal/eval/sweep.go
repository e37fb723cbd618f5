package eval

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/fusion"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/tracker"
)

// FusionParams are the fusion settings a sweep varies, kept as the decimal
// values the user gave (they become fusion.Config's float32 fields).
type FusionParams struct {
	IoUThreshold float64 `json:"iou_threshold"`
	Decay        float64 `json:"decay"`
	MinScore     float64 `json:"min_score"`
}

// DefaultFusionParams are fusion.DefaultConfig's values.
func DefaultFusionParams() FusionParams {
	d := fusion.DefaultConfig()
	return FusionParams{IoUThreshold: fusion.Decimal(d.IoUThreshold), Decay: fusion.Decimal(d.Decay), MinScore: fusion.Decimal(d.MinScore)}
}

// Config is the fusion.Config for these values (other fields at defaults).
func (f FusionParams) Config() fusion.Config {
	c := fusion.DefaultConfig()
	c.IoUThreshold, c.Decay, c.MinScore = float32(f.IoUThreshold), float32(f.Decay), float32(f.MinScore)
	return c
}

func (f FusionParams) String() string {
	return fmt.Sprintf("iou-threshold %g, decay %g, min-score %g", f.IoUThreshold, f.Decay, f.MinScore)
}

// Grid is the set of points a sweep evaluates: every combination of the
// values, in the order given.
type Grid struct {
	K         []int           // edge detector every k-th frame
	M         []int           // cloud request every m-th frame
	Latencies []time.Duration // cloud reply latency
	Fusion    []FusionParams
}

// Validate checks every value and that no list is empty.
func (g Grid) Validate() error {
	if len(g.K) == 0 || len(g.M) == 0 || len(g.Latencies) == 0 || len(g.Fusion) == 0 {
		return errors.New("eval: the grid needs at least one k, m, latency and fusion setting")
	}
	for _, k := range g.K {
		if k < 1 {
			return fmt.Errorf("k %d must be >= 1 (edge detector every k-th frame)", k)
		}
	}
	for _, m := range g.M {
		if m < 1 {
			return fmt.Errorf("m %d must be >= 1 (cloud request every m-th frame)", m)
		}
	}
	for _, l := range g.Latencies {
		if l < 0 {
			return fmt.Errorf("latency %v must not be negative", l)
		}
	}
	for _, f := range g.Fusion {
		if err := f.Config().Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Points is the number of grid points per sequence.
func (g Grid) Points() int { return len(g.K) * len(g.M) * len(g.Latencies) * len(g.Fusion) }

// Result is one grid point on one sequence. Scores are fractions in [0,1].
type Result struct {
	Sequence string `json:"sequence"`
	// Policy is PolicyFixed (REACT's k and m) or PolicyAdaptive, whose K
	// and M are the effective intervals (see SweepAdaptive).
	Policy    string  `json:"policy"`
	K         int     `json:"k"`
	M         int     `json:"m"`
	LatencyMS float64 `json:"latency_ms"`
	// DelayFrames is ceil(latency × fps): the reply for frame t is used
	// first on frame t+DelayFrames.
	DelayFrames int `json:"delay_frames"`
	// LatencyTrace names the RTT log replayed instead of a constant latency
	// (Options.Trace); LatencyMS and DelayFrames are then its mean's.
	LatencyTrace string `json:"latency_trace,omitempty"`
	// Frames is the number of replayed frames scored (after --loop).
	Frames int `json:"frames"`
	// Tracker is the live and fast-forward trackers' method (medianflow,
	// kcf; Options.Tracker.Method, tracker.Method's String).
	Tracker string `json:"tracker"`
	// Playback is PlayedOnce, or PlayedPingPong when the sequence was extended by
	// ping-pong replay (a smoke test, never evidence: people never leave).
	Playback string `json:"playback"`
	// Reference is what the scores are against: ReferenceGT or
	// ReferenceCloud (agreement with the cloud model, not truth), over
	// Classes (COCO ids, FormatClasses).
	Reference string `json:"reference"`
	Classes   string `json:"classes"`
	// AP names the interpolation when it is not COCO's 101-point (eval --ap
	// voc: "every-point"); empty for COCO.
	AP string `json:"ap,omitempty"`
	FusionParams
	Cost
	EdgeOnly  Score `json:"edge_only"`
	CloudOnly Score `json:"cloud_only"`
	Fused     Score `json:"fused"`
	// Adaptive rows: the unrounded effective intervals and the decisions
	// by reason.
	EffectiveK     float64        `json:"effective_k,omitempty"`
	EffectiveM     float64        `json:"effective_m,omitempty"`
	DetectReasons  map[string]int `json:"detect_reasons,omitempty"`
	OffloadReasons map[string]int `json:"offload_reasons,omitempty"`
}

// playbackOf says how order plays p: once, or extended by ping-pong replay.
func playbackOf(p *Prepared, order []int) string {
	if len(order) > len(p.Seq.Frames) {
		return PlayedPingPong
	}
	return PlayedOnce
}

// Playback values of Result.
const (
	PlayedOnce     = "once"
	PlayedPingPong = "ping-pong"
)

// Options tunes a sweep. Results never depend on Jobs.
type Options struct {
	// Tracker is the live (reacttrack) tracker; zero fields take defaults.
	Tracker tracker.Config
	// Cloud is the offload side; see DefaultCloudConfig.
	Cloud CloudConfig
	// Jobs runs this many replays at once; 0 = GOMAXPROCS.
	Jobs int
	// Progress, when set, is advanced by Units' units over the sweep.
	Progress *Progress
	// Reference scores every mode (zero: the ground truth).
	Reference Reference
	// Uplink holds the JPEG and wire settings the uplink cost is measured
	// with (reactcloud's; zero JPEGQuality: offload.DefaultConfig()).
	Uplink offload.Config
	// Trace, when set, replaces the grid's latencies: the n-th cloud request
	// is answered after the trace's n-th round trip (cycling). Give the grid
	// one latency (the trace's Mean, which the rows report).
	Trace *LatencyTrace
}

// traceDelay is the cloudKey delay of a replay that follows Options.Trace.
const traceDelay = -1

// delays is the per-request delay of the cloud replay keyed ck.
func (o Options) delays(ck cloudKey, fps float64) Delays {
	if ck.delay == traceDelay {
		return o.Trace.Delays(fps)
	}
	return ConstantDelay(ck.delay)
}

// delayKey is the cloudKey delay of latency l: with a trace, every latency
// is the trace.
func (o Options) delayKey(l time.Duration, fps float64) int {
	if o.Trace != nil {
		return traceDelay
	}
	return DelayFrames(l, fps)
}

// DefaultOptions are the elements' defaults: reacttrack's tracker and
// reactcloud's offload settings.
func DefaultOptions() Options {
	return Options{Tracker: tracker.DefaultConfig(), Cloud: DefaultCloudConfig(), Uplink: offload.DefaultConfig()}
}

// Progress weights: a tracker replay costs far more than fusing one.
const (
	streamUnits = 10
	fuseUnits   = 1
)

type cloudKey struct{ m, delay int }

func (g Grid) cloudKeys(fps float64) []cloudKey {
	var keys []cloudKey
	for _, m := range g.M {
		for _, l := range g.Latencies {
			k := cloudKey{m, DelayFrames(l, fps)}
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	return keys
}

// Units is the progress a Sweep of a sequence at fps reports in total.
func (g Grid) Units(fps float64) int {
	return (len(uniq(g.K))+len(g.cloudKeys(fps)))*streamUnits + g.Points()*fuseUnits
}

func uniq(v []int) []int {
	var out []int
	for _, x := range v {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// Sweep replays p (in the frame order given, see PingPong) at every grid
// point and scores edge-only, cloud-only and fused output. The edge path
// depends only on k and the cloud path only on (m, delay), so each is
// replayed once and shared by the points that use it; fusion runs per point.
// Results come in grid order (k, then m, then latency, then fusion settings,
// each in the order given), identical for any Jobs.
func Sweep(ctx context.Context, p *Prepared, order []int, g Grid, o Options) ([]Result, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := o.Reference.Check(p.Seq); err != nil {
		return nil, err
	}
	fps := p.Seq.FPS
	ks, cks := uniq(g.K), g.cloudKeys(fps)
	if o.Trace != nil {
		cks = nil
		for _, m := range uniq(g.M) {
			cks = append(cks, cloudKey{m, traceDelay})
		}
	}
	local := make([][][]detection.Detection, len(ks))
	localScore := make([]Score, len(ks))
	cloud := make([]*CloudSets, len(cks))
	cloudScore := make([]Score, len(cks))
	name := p.Seq.Name

	err := parallel(ctx, o.Jobs, len(ks)+len(cks), func(i int) error {
		if i < len(ks) {
			k := ks[i]
			s, err := EdgeStream(ctx, p, order, k, o.Tracker)
			if err != nil {
				return err
			}
			local[i] = s
			localScore[i], err = o.Reference.ScoreStream(p, order, s)
			o.Progress.Add(streamUnits, fmt.Sprintf("%s edge k=%d", name, k))
			return err
		}
		ck := cks[i-len(ks)]
		cs, err := CloudStreamDelays(ctx, p, order, nil, ck.m, o.delays(ck, fps), o.Cloud)
		if err != nil {
			return err
		}
		cloud[i-len(ks)] = cs
		cloudScore[i-len(ks)], err = o.Reference.ScoreStream(p, order, cs.Sets)
		o.Progress.Add(streamUnits, fmt.Sprintf("%s cloud m=%d delay=%d", name, ck.m, ck.delay))
		return err
	})
	if err != nil {
		return nil, err
	}

	playback := playbackOf(p, order)
	results := make([]Result, 0, g.Points())
	type ref struct{ li, ci int }
	var refs []ref
	for _, k := range g.K {
		for _, m := range g.M {
			for _, l := range g.Latencies {
				d := DelayFrames(l, fps)
				li, ci := slices.Index(ks, k), slices.Index(cks, cloudKey{m, o.delayKey(l, fps)})
				var traceName string
				if o.Trace != nil {
					traceName = o.Trace.Name
				}
				for _, fp := range g.Fusion {
					results = append(results, Result{
						Sequence: name, Policy: PolicyFixed, K: k, M: m, LatencyMS: float64(l) / float64(time.Millisecond),
						DelayFrames: d, LatencyTrace: traceName, Frames: len(order), Playback: playback, FusionParams: fp,
						Reference: o.Reference.kind(), Classes: FormatClasses(o.Reference.ScoredClasses()), AP: o.Reference.apName(),
						EdgeOnly: localScore[li], CloudOnly: cloudScore[ci], Tracker: o.Tracker.Method.Resolve().String(),
					})
					refs = append(refs, ref{li, ci})
				}
			}
		}
	}
	// With anchoring, fusion's cloud boxes ride the live tracks of its own
	// edge path, so each (k, m, delay) has its own carried cloud stream;
	// without, every k shares the cloud-only stream.
	carried := make([]*CloudSets, len(ks)*len(cks))
	err = parallel(ctx, o.Jobs, len(carried), func(i int) error {
		li, ci := i/len(cks), i%len(cks)
		if !o.Cloud.anchors() {
			carried[i] = cloud[ci]
			return nil
		}
		ck := cks[ci]
		// Not counted in Units: anchoring is an option, off by default.
		cs, err := CloudStreamDelays(ctx, p, order, local[li], ck.m, o.delays(ck, fps), o.Cloud)
		carried[i] = cs
		return err
	})
	if err != nil {
		return nil, err
	}
	err = parallel(ctx, o.Jobs, len(results), func(i int) error {
		r := &results[i]
		s := o.Reference.NewScorer(p, order)
		if err := Fuse(local[refs[i].li], carried[refs[i].li*len(cks)+refs[i].ci], r.FusionParams.Config(), s.Add); err != nil {
			return err
		}
		r.Fused = s.Score()
		o.Progress.Add(fuseUnits, fmt.Sprintf("%s fuse k=%d m=%d L=%gms", name, r.K, r.M, r.LatencyMS))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := addCosts(ctx, p, order, results, func(i int) *CloudSets { return cloud[refs[i].ci] }, o); err != nil {
		return nil, err
	}
	return results, nil
}

// parallel runs fn(0..n-1) on up to jobs goroutines. Each call must write
// only its own outputs, so results do not depend on scheduling. It returns
// the error of the lowest index that failed.
func parallel(ctx context.Context, jobs, n int, fn func(i int) error) error {
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(jobs, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(i)
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Ranked is one fusion setting's mean accuracy over a sweep.
type Ranked struct {
	FusionParams
	Points     int     // grid points averaged
	MeanFused  float64 // mean fused mAP@0.5
	MeanFused2 float64 // mean fused mAP@[.5:.95]
	MeanGain   float64 // mean of fused − max(edge-only, cloud-only), mAP@0.5
	Wins       int     // points where fused mAP@0.5 beats both other modes
}

// RankFusion averages the results per fusion setting and sorts the settings
// by mean fused mAP@0.5, best first (ties: mAP@[.5:.95], then input order).
func RankFusion(results []Result) []Ranked {
	var out []Ranked
	idx := map[FusionParams]int{}
	for _, r := range results {
		i, ok := idx[r.FusionParams]
		if !ok {
			i = len(out)
			idx[r.FusionParams] = i
			out = append(out, Ranked{FusionParams: r.FusionParams})
		}
		x := &out[i]
		x.Points++
		x.MeanFused += r.Fused.MAP50
		x.MeanFused2 += r.Fused.MAP5095
		best := max(r.EdgeOnly.MAP50, r.CloudOnly.MAP50)
		x.MeanGain += r.Fused.MAP50 - best
		if r.Fused.MAP50 > best {
			x.Wins++
		}
	}
	for i := range out {
		n := float64(out[i].Points)
		out[i].MeanFused /= n
		out[i].MeanFused2 /= n
		out[i].MeanGain /= n
	}
	slices.SortStableFunc(out, func(a, b Ranked) int {
		if a.MeanFused != b.MeanFused {
			if a.MeanFused > b.MeanFused {
				return -1
			}
			return 1
		}
		if a.MeanFused2 != b.MeanFused2 {
			if a.MeanFused2 > b.MeanFused2 {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}
