package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gst-react/gst-react/internal/detector"
	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/evalmetrics"
	"github.com/gst-react/gst-react/internal/fusion"
	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/onnx"
	"github.com/gst-react/gst-react/internal/ortlib"
	"github.com/gst-react/gst-react/internal/preprocess"
	"github.com/gst-react/gst-react/internal/runner"
	"github.com/gst-react/gst-react/internal/tracker"
	"github.com/gst-react/gst-react/internal/yolo"
)

// Where `gstreact eval` writes; tests replace them.
var (
	evalStdout io.Writer = os.Stdout
	evalStderr io.Writer = os.Stderr
)

func (l *listFlag) ints(name string, lo int) ([]int, error) {
	var out []int
	for _, s := range l.vals {
		v, err := strconv.Atoi(s)
		if err != nil || v < lo {
			return nil, fmt.Errorf("--%s %q: want whole numbers >= %d, comma-separated", name, s, lo)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--%s is empty", name)
	}
	return out, nil
}

func (l *listFlag) floats(name string, lo, hi float64, loOpen bool) ([]float64, error) {
	var out []float64
	for _, s := range l.vals {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v > hi || v < lo || (loOpen && v == lo) {
			rng := fmt.Sprintf("[%g, %g]", lo, hi)
			if loOpen {
				rng = fmt.Sprintf("(%g, %g]", lo, hi)
			}
			return nil, fmt.Errorf("--%s %q: want numbers in %s, comma-separated", name, s, rng)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--%s is empty", name)
	}
	return out, nil
}

// parseLatency takes milliseconds ("300") or a Go duration ("300ms", "1.5s").
func parseLatency(s string) (time.Duration, error) {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if v < 0 || v > 3.6e6 {
			return 0, fmt.Errorf("--latency %q: want 0..3600000 ms", s)
		}
		return time.Duration(v * float64(time.Millisecond)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--latency %q: want milliseconds (300) or a duration (300ms, 1s), not negative", s)
	}
	return d, nil
}

// modelThreshold is thr, or when it is 0 the model file's manifest
// threshold, else the decoder's default.
func modelThreshold(path string, thr float64) float64 {
	if thr > 0 {
		return thr
	}
	if e, ok := models.Embedded().ForFile(path); ok && e.Threshold > 0 {
		return fusion.Decimal(e.Threshold)
	}
	return yolo.DefaultScoreThreshold
}

func defaultModelName(role string) string {
	if e, ok := models.Embedded().ByRole(role); ok {
		return e.Name
	}
	return ""
}

func fmtList(v []float64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return out
}

// runEval is `gstreact eval`: the deterministic accuracy harness.
func runEval(ctx context.Context, args []string) error { return runEvalTo(ctx, args, evalStdout) }

// runEvalTo is runEval writing its results to stdout (gstreact tune reads
// eval's JSON from a buffer, so both commands score with the same code).
func runEvalTo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(evalStderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gstreact eval --sequence DIR|VIDEO [flags]\n\n"+
			"Replays MOT-format sequences (img1/*.jpg, seqinfo.ini, gt/gt.txt if labelled) or video files\n"+
			"(any format GStreamer decodes; frames decoded once into the cache) on a simulated clock through\n"+
			"the real edge detector, live tracker, cloud detector, fast-forward tracker and fusion, and\n"+
			"reports mAP@0.5 and mAP@[.5:.95] for edge-only, cloud-only and fused output at every\n"+
			"combination of --k, --m, --latency and the fusion flags, with what each spends (edge detector\n"+
			"runs/s, cloud requests/s, uplink kbit/s). Scores are against the ground truth (person class)\n"+
			"or, for unlabelled footage, against the cloud model run on every frame at latency 0\n"+
			"(--reference cloud: agreement with the cloud model, not truth). Edge results on frames i with\n"+
			"i mod k = 0; the cloud answer for frame t (t mod m = 0, or a scene change) is used first on\n"+
			"frame t + ceil(latency x fps). Same inputs, same numbers. Lists are comma-separated.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	seqFlag := newList()
	fs.Var(seqFlag, "sequence", "MOT sequence folder, video file, or a folder of them (both may mix); repeatable or comma-separated (required)")
	refFlag := newList()
	apFlag := fs.String("ap", "coco", "how precision/recall curves become AP: coco (101-point, pycocotools) or voc (every-point, PASCAL VOC 2010+, the metric of ../shared/tools/react_peer.py); both match boxes the COCO way")
	fs.Var(refFlag, "reference", "score against gt (gt/gt.txt, person class) or cloud (the cloud model on every frame at latency 0: agreement with it, not truth); gt,cloud scores both and prints their rank correlation (default: gt where gt/gt.txt exists, else cloud)")
	classFlag := newList()
	fs.Var(classFlag, "classes", "classes the cloud reference scores: COCO names or ids, comma-separated (default: every class both models predict)")
	duration := fs.Duration("duration", 0, "replay only the first DURATION of each sequence or video (e.g. 60s; 0 = all of it)")
	loop := fs.Int("loop", 0, "0: play each sequence once (real motion: the evidence); N: replay at least N frames, a shorter sequence extended by ping-pong playback (1..n..2..1..), each frame keeping its ground truth (a smoke test for short clips; every output row says playback ping-pong)")
	kFlag := newList("5")
	fs.Var(kFlag, "k", "edge detector every k-th frame (the tracker in between); list")
	mFlag := newList("30")
	fs.Var(mFlag, "m", "cloud request every m-th frame; list")
	latFlag := newList("300ms")
	fs.Var(latFlag, "latency", "cloud reply latency: milliseconds (300) or a duration (300ms, 1s); list")
	tracePath := fs.String("latency-trace", "", "replay the round trips of an RTT log (gstreact run --rtt-log) instead of --latency: the n-th cloud request waits the n-th recorded round trip, cycling; rows say latency trace (latency_ms: its mean)")
	dfp := eval.DefaultFusionParams()
	iouFlag := newList(fmtList([]float64{dfp.IoUThreshold})...)
	fs.Var(iouFlag, "iou-threshold", "fusion: smallest IoU at which a local and a cloud box are one object, (0, 1]; list")
	decayFlag := newList(fmtList([]float64{dfp.Decay})...)
	fs.Var(decayFlag, "decay", "fusion: per-frame score factor of a cloud box no local box confirms, (0, 1]; list")
	minFlag := newList(fmtList([]float64{dfp.MinScore})...)
	fs.Var(minFlag, "min-score", "fusion: drop a decayed cloud-only box below this score, [0, 1]; list")
	format := fs.String("format", "table", "stdout format: table, csv or json")
	csvPath := fs.String("csv", "", "also write the results as CSV to this file")
	jsonPath := fs.String("json", "", "also write the results as JSON to this file")
	plotPath := fs.String("plot", "", "also draw mAP@0.5 of the three modes and the iso-accuracy maps of (k, m) to this PNG")
	edgeModel := fs.String("edge-model", defaultModelName(models.RoleEdge), "edge ONNX model: file path or manifest name")
	cloudModel := fs.String("cloud-model", defaultModelName(models.RoleCloud), "cloud ONNX model: file path or manifest name")
	edgeThr := fs.Float64("edge-threshold", 0, "edge detector score threshold (reactdetect's threshold); 0: the model's own from models/manifest.json, else 0.3")
	cloudThr := fs.Float64("cloud-threshold", 0, "cloud detector score threshold (cloudworker's --threshold); 0: the model's own from models/manifest.json, else 0.3")
	edgePre := fs.String("edge-preprocess", "", "override the edge model's preprocessing, naming only what differs: "+preprocess.SpecKeys)
	cloudPre := fs.String("cloud-preprocess", "", "override the cloud model's preprocessing (as --edge-preprocess)")
	nmsThr := fs.Float64("nms-threshold", 0.45, "NMS IoU threshold of both detectors")
	threads := fs.Int("threads", 0, "ONNX Runtime threads on a detector cache miss (0: all cores)")
	maxInflight := fs.Int("max-inflight", offload.DefaultMaxInflight, "cloud requests outstanding at once, as reactcloud's max-inflight; a frame due while that many wait is skipped; 0 = no limit")
	anchorIoU := fs.Float64("anchor-iou", 0, "reactcloud's anchor-iou: a reply box overlapping a live track's box on the reply's frame by at least this IoU rides along that track instead of being tracked (fused mode only; 0 = track every reply box, the default)")
	trackerFlag := newList(tracker.DefaultMethod.String())
	fs.Var(trackerFlag, "tracker", "live and fast-forward tracker (reacttrack's and reactcloud's tracker): "+tracker.MethodNames+"; list: each is swept and its rows say which (column tracker)")
	followScale := fs.Bool("follow-scale", tracker.DefaultConfig().FollowScale, "both trackers (reacttrack's follow-scale): boxes grow and shrink with the tracked points (Median Flow's zoom) instead of keeping their size between detections")
	coastDecay := fs.Float64("coast-decay", fusion.Decimal(tracker.DefaultConfig().CoastDecay), "live tracker (reacttrack's coast-decay): a lost box moves on and its score is multiplied by this each frame; 0 = drop lost boxes at once, the tracker before coasting")
	velocityCheck := fs.Float64("velocity-check", fusion.Decimal(tracker.DefaultConfig().VelocityCheck), "live tracker (reacttrack's velocity-check): a step against the direction the detector saw the object move, off its velocity by more than this fraction of the box width, moves the box with that velocity instead; 0 = off")
	keepOccluded := fs.Float64("keep-occluded", fusion.Decimal(tracker.DefaultConfig().KeepOccluded), "live tracker (reacttrack's keep-occluded): on a detection frame a track no detection matched is kept, coasting, when at least this fraction of its box lies inside a detection's box; 0 = drop them all")
	changeThreshold := fs.Float64("change-threshold", offload.DefaultChangeThreshold, "reactcloud's change-threshold: also send a frame whose thumbnail differs from the last sent one by this much, 0..1; 0 = only every m-th frame")
	maxJump := fs.Int("max-jump", offload.DefaultMaxJump, "frames the fast-forward tracker moves in one step while catching up, 1..64")
	cacheDir := fs.String("cache-dir", "", "detector output cache (default <gst-react cache>/eval, e.g. ~/.cache/gst-react/eval)")
	noCache := fs.Bool("no-cache", false, "neither read nor write the detector output cache")
	jobs := fs.Int("jobs", runtime.NumCPU(), "replays run at once (results do not depend on it)")
	policyFlags := addEvalPolicyFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if len(seqFlag.vals) == 0 {
		fs.Usage()
		return errors.New("no --sequence given")
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return fmt.Errorf("--format %q: want table, csv or json", *format)
	}
	if *duration < 0 {
		return fmt.Errorf("--duration %v must not be negative", *duration)
	}
	if *loop < 0 {
		return fmt.Errorf("--loop %d must be >= 0", *loop)
	}
	runFixed, runAdaptive, adaptive, policyErr := policyFlags.parse()
	if policyErr != nil {
		return policyErr
	}
	if !(*keepOccluded >= 0 && *keepOccluded <= 1) {
		return fmt.Errorf("--keep-occluded %v must be in [0, 1] (0: off)", *keepOccluded)
	}
	if !(*velocityCheck >= 0 && *velocityCheck < 1) {
		return fmt.Errorf("--velocity-check %v must be in [0, 1) (0: off)", *velocityCheck)
	}
	if !(*coastDecay >= 0 && *coastDecay < 1) {
		return fmt.Errorf("--coast-decay %v must be in [0, 1) (0: drop lost boxes at once)", *coastDecay)
	}
	if !(*anchorIoU >= 0 && *anchorIoU <= 1) {
		return fmt.Errorf("--anchor-iou %v must be in [0, 1] (0: track every reply box)", *anchorIoU)
	}
	if !(*changeThreshold >= 0 && *changeThreshold <= 1) {
		return fmt.Errorf("--change-threshold %v must be in [0, 1] (0 = no scene-change offloads)", *changeThreshold)
	}
	if *maxJump < 1 || *maxJump > 64 || *maxInflight < 0 || *maxInflight > 64 {
		return fmt.Errorf("--max-jump must be 1..64 and --max-inflight 0..64")
	}
	for _, t := range []*float64{edgeThr, cloudThr, nmsThr} {
		if !(*t >= 0 && *t <= 1) || t == nmsThr && *t == 0 {
			return fmt.Errorf("detector thresholds must be in (0, 1] (score thresholds 0: the model's own), got %v", *t)
		}
	}
	var methods []tracker.Method
	for _, s := range trackerFlag.vals {
		m, err := tracker.ParseMethod(s)
		if err != nil {
			return fmt.Errorf("--tracker: %w", err)
		}
		if !slices.Contains(methods, m) {
			methods = append(methods, m)
		}
	}
	if len(methods) == 0 {
		return errors.New("--tracker is empty")
	}
	var grid eval.Grid
	var err error
	if grid.K, err = kFlag.ints("k", 1); err != nil {
		return err
	}
	if grid.M, err = mFlag.ints("m", 1); err != nil {
		return err
	}
	for _, s := range latFlag.vals {
		d, err := parseLatency(s)
		if err != nil {
			return err
		}
		grid.Latencies = append(grid.Latencies, d)
	}
	if len(grid.Latencies) == 0 {
		return errors.New("--latency is empty")
	}
	var trace *eval.LatencyTrace
	if *tracePath != "" {
		if flagGiven(fs, "latency") {
			return errors.New("--latency-trace replaces --latency: give one of them")
		}
		if runAdaptive {
			return errors.New("--latency-trace replays the fixed policy only: add --policy fixed")
		}
		if trace, err = eval.ReadLatencyTrace(*tracePath); err != nil {
			return fmt.Errorf("--latency-trace: %w", err)
		}
		// One grid latency, the trace's mean: what the rows report.
		grid.Latencies = []time.Duration{trace.Mean()}
	}
	ious, err := iouFlag.floats("iou-threshold", 0, 1, true)
	if err != nil {
		return err
	}
	decays, err := decayFlag.floats("decay", 0, 1, true)
	if err != nil {
		return err
	}
	mins, err := minFlag.floats("min-score", 0, 1, false)
	if err != nil {
		return err
	}
	for _, iou := range ious {
		for _, d := range decays {
			for _, m := range mins {
				grid.Fusion = append(grid.Fusion, eval.FusionParams{IoUThreshold: iou, Decay: d, MinScore: m})
			}
		}
	}
	if err := grid.Validate(); err != nil {
		return err
	}
	refKinds, err := parseReferences(refFlag.vals)
	if err != nil {
		return err
	}
	ap, err := parseAP(*apFlag)
	if err != nil {
		return err
	}
	classes, err := parseClasses(classFlag.vals)
	if err != nil {
		return err
	}
	edgePath, err := resolveModel(*edgeModel)
	if err != nil {
		return fmt.Errorf("edge model: %w", err)
	}
	cloudPath, err := resolveModel(*cloudModel)
	if err != nil {
		return fmt.Errorf("cloud model: %w", err)
	}
	if len(classes) == 0 {
		classes = sharedClasses(edgePath, cloudPath)
	}

	paths, err := eval.FindSequences(seqFlag.vals)
	if err != nil {
		return err
	}
	cache := &eval.Cache{}
	if !*noCache {
		cache.Dir = *cacheDir
		if cache.Dir == "" {
			if cache.Dir, err = eval.DefaultCacheDir(); err != nil {
				return err
			}
		}
	}
	framesDir := filepath.Join(cache.Dir, "frames")
	if cache.Dir == "" { // --no-cache: video frames live only as long as the run
		tmp, err := os.MkdirTemp("", "gstreact-eval-frames-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		framesDir = tmp
	}
	tty := runner.IsTerminal(evalStderr)
	logLine := func(format string, args ...any) { fmt.Fprintf(evalStderr, format+"\n", args...) }
	seqs, err := loadSequences(ctx, paths, framesDir, *jobs, logLine)
	if err != nil {
		return err
	}
	for _, s := range seqs {
		s.LimitDuration(*duration)
	}
	// The references of each sequence, checked before any detector runs.
	refs := make([][]eval.Reference, len(seqs))
	for i, s := range seqs {
		if len(refKinds) == 0 {
			refs[i] = []eval.Reference{eval.DefaultReference(s, classes)}
		}
		for _, k := range refKinds {
			refs[i] = append(refs[i], eval.Reference{Kind: k, Classes: classes})
		}
		for j := range refs[i] {
			refs[i][j].AP = ap
		}
		for _, r := range refs[i] {
			if err := r.Check(s); err != nil {
				return err
			}
		}
	}
	// A threshold left at 0 is the model's own, resolved here because it is
	// part of the detection cache's key.
	*edgeThr, *cloudThr = modelThreshold(edgePath, *edgeThr), modelThreshold(cloudPath, *cloudThr)
	opener := func(path string, thr float64, pre string) func() (eval.FrameDetector, error) {
		return func() (eval.FrameDetector, error) {
			lib, err := ortlib.Locate()
			if err == nil {
				err = onnx.Init(lib)
			}
			if err != nil {
				return nil, err
			}
			return detector.New(detector.Config{ModelPath: path, Threads: *threads,
				ScoreThreshold: float32(thr), NMSThreshold: float32(*nmsThr), Preprocess: pre})
		}
	}
	for _, p := range []string{*edgePre, *cloudPre} {
		if _, err := preprocess.ParseSpec(p, preprocess.DefaultSpec()); err != nil {
			return err
		}
	}
	edge := &eval.Model{Role: "edge", Path: edgePath, ScoreThreshold: float32(*edgeThr), NMSThreshold: float32(*nmsThr),
		Preprocess: *edgePre, Open: opener(edgePath, *edgeThr, *edgePre)}
	cloud := &eval.Model{Role: "cloud", Path: cloudPath, ScoreThreshold: float32(*cloudThr), NMSThreshold: float32(*nmsThr),
		Preprocess: *cloudPre, Open: opener(cloudPath, *cloudThr, *cloudPre)}

	opts := eval.DefaultOptions()
	opts.Cloud.MaxInflight, opts.Cloud.MaxJump = *maxInflight, *maxJump
	opts.Cloud.ChangeThreshold = *changeThreshold
	opts.Cloud.AnchorIoU = float32(*anchorIoU)
	opts.Tracker.CoastDecay, opts.Tracker.NoCoast = float32(*coastDecay), *coastDecay == 0
	opts.Tracker.VelocityCheck, opts.Tracker.NoVelocityCheck = float32(*velocityCheck), *velocityCheck == 0
	opts.Tracker.KeepOccluded, opts.Tracker.NoKeepOccluded = float32(*keepOccluded), *keepOccluded == 0
	opts.Tracker.FollowScale, opts.Cloud.Tracker.FollowScale = *followScale, *followScale
	opts.Jobs = *jobs
	opts.Trace = trace
	total := 0
	orders := make([][]int, len(seqs))
	for i, s := range seqs {
		orders[i] = eval.PingPong(len(s.Frames), *loop)
		if runFixed {
			total += grid.Units(s.FPS) * len(refs[i]) * len(methods)
		}
		if runAdaptive {
			total += grid.AdaptiveUnits() * len(refs[i]) * len(methods)
		}
	}
	prog := eval.NewProgress(evalStderr, tty, total)
	opts.Progress = prog

	// Notes explain what was replayed; they lead the table, or go to stderr
	// when stdout carries CSV or JSON.
	var notes bytes.Buffer
	fmt.Fprintf(&notes, "gstreact eval: REACT replay on a simulated clock; edge %s (score >= %g) every k-th frame + tracker, cloud %s (score >= %g) every m-th frame, used ceil(latency x fps) frames later after fast-forwarding\n",
		filepath.Base(edgePath), *edgeThr, filepath.Base(cloudPath), *cloudThr)
	fmt.Fprintf(&notes, "references (column ref): gt = the person class against MOT ground truth (eval=1 rows count; other rows are ignore regions); cloud = the cloud model on every frame at latency 0, every box of the scored classes a truth: %s; table in %%, CSV/JSON in fractions\n", eval.CloudReferenceNote)
	if ap != evalmetrics.Interp101 {
		fmt.Fprintf(&notes, "AP: %s interpolation (--ap voc), not COCO's 101-point; matching as COCO\n", ap)
	}
	fmt.Fprintf(&notes, "cost per second of video (columns det, req, kbit): edge detector runs, cloud requests (every m-th frame and scene changes at change-threshold %g, as reactcloud sends them) and uplink in kbit/s, from the JPEG requests reactcloud's encoder makes of the sent frames (quality %d, at most %d columns)\n",
		opts.Cloud.ChangeThreshold, opts.Uplink.JPEGQuality, opts.Uplink.JPEGMaxWidth)
	var names []string
	for _, m := range methods {
		names = append(names, m.String())
	}
	fmt.Fprintf(&notes, "tracker (live and fast-forward): %s\n", strings.Join(names, ", "))
	if trace != nil {
		fmt.Fprintf(&notes, "latency trace %s: %d round trips (mean %s) replayed in order, the n-th cloud request waiting the n-th, cycling; the latency column says trace\n",
			trace.Name, len(trace.RTTs), trace.Mean().Round(time.Millisecond))
	}
	var results []eval.Result
	for i, s := range seqs {
		note := eval.LoopNote(s, orders[i])
		if s.Video != "" {
			note += " (video " + s.Video + ")"
		}
		var refNames []string
		for _, r := range refs[i] {
			refNames = append(refNames, r.String())
		}
		note += "; scored against " + strings.Join(refNames, " and ")
		fmt.Fprintf(&notes, "%s\n", note)
		prog.Logf("%s", note)
		if largest := slices.Max(grid.M); largest >= len(orders[i]) {
			warn := fmt.Sprintf("  warning: %s has %d replayed frames, not more than m=%d: only its first frame goes to the cloud by the interval", s.Name, len(orders[i]), largest)
			fmt.Fprintf(&notes, "%s\n", warn)
			prog.Logf("%s", warn)
		}
		p, err := eval.Prepare(ctx, s, edge, cloud, eval.PrepareOptions{Cache: cache, Jobs: *jobs,
			Progress: func(stage string, done, total int) {
				// About ten lines per sequence, however long it is.
				if stage == "detect" && (done == 1 || done == total || done*10/total != (done-1)*10/total) {
					prog.Logf("  %s: running the detectors on frames the cache lacks: %d/%d", s.Name, done, total)
				}
			}})
		if err != nil {
			return err
		}
		st := p.Stats
		src := fmt.Sprintf("  %s: %d source frames %dx%d; detections: edge %d cached + %d run, cloud %d cached + %d run (cache: %s)",
			s.Name, st.Frames, p.Width, p.Height, st.EdgeCached, st.EdgeRun, st.CloudCached, st.CloudRun, orNone(cache.Dir))
		prog.Logf("%s", src)
		fmt.Fprintf(&notes, "%s\n", src)
		for _, r := range refs[i] {
			opts.Reference = r
			for _, m := range methods {
				opts.Tracker.Method, opts.Cloud.Tracker.Method = m, m
				if runFixed {
					rs, err := eval.Sweep(ctx, p, orders[i], grid, opts)
					if err != nil {
						return err
					}
					results = append(results, rs...)
				}
				if runAdaptive {
					rs, err := eval.SweepAdaptive(ctx, p, orders[i], grid, opts, adaptive)
					if err != nil {
						return err
					}
					results = append(results, rs...)
				}
			}
		}
	}
	prog.Finish()
	// With two references, how far the cheap one (cloud) ranks the grid
	// like the ground truth does: the question behind tuning on unlabelled
	// footage.
	var agreement bytes.Buffer
	for _, a := range eval.RankAgreement(fixedRows(results)) {
		fmt.Fprintf(&agreement, "%s: Spearman rank correlation of fused mAP@0.5, reference %s vs %s, over %d configurations: %.3f\n",
			a.Sequence, a.A, a.B, a.Points, a.Spearman)
	}
	// Adaptive rows at equal spend: against the fixed rows that spend no
	// more uplink and no more edge detector runs.
	if runAdaptive && runFixed {
		fmt.Fprintf(&agreement, "adaptive against the fixed rows spending no more uplink and no more edge runs (%%):\n")
		if err := eval.WriteComparisons(&agreement, eval.CompareAdaptive(results, adaptive.Budgets.UplinkKbps, adaptive.Budgets.EdgeFPS)); err != nil {
			return err
		}
	}

	var out bytes.Buffer
	switch *format {
	case "table":
		out.Write(notes.Bytes())
		fmt.Fprintln(&out)
		if err := eval.WriteTable(&out, results); err != nil {
			return err
		}
		if len(grid.Fusion) > 1 {
			fmt.Fprintf(&out, "\nFusion settings ranked by mean fused mAP@0.5 (%%) over %d grid points each; gain = fused minus the better of edge-only and cloud-only; wins = points where fused beats both:\n",
				len(results)/len(grid.Fusion))
			if err := eval.WriteRanking(&out, eval.RankFusion(fixedRows(results)), 10); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(&out, "\nfusion: %s\n", grid.Fusion[0])
		}
		if agreement.Len() > 0 {
			fmt.Fprintf(&out, "\n%s", agreement.String())
		}
	case "csv":
		fmt.Fprint(evalStderr, notes.String()+agreement.String())
		if err := eval.WriteCSV(&out, results); err != nil {
			return err
		}
	case "json":
		fmt.Fprint(evalStderr, notes.String()+agreement.String())
		if err := eval.WriteJSON(&out, results); err != nil {
			return err
		}
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return err
	}
	write := func(path string, fn func(io.Writer) error) error {
		if path == "" {
			return nil
		}
		var b bytes.Buffer
		if err := fn(&b); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(evalStderr, "wrote %s\n", path)
		return nil
	}
	if err := write(*csvPath, func(w io.Writer) error { return eval.WriteCSV(w, results) }); err != nil {
		return err
	}
	if err := write(*jsonPath, func(w io.Writer) error { return eval.WriteJSON(w, results) }); err != nil {
		return err
	}
	return write(*plotPath, func(w io.Writer) error { return eval.WritePlot(w, fixedRows(results)) })
}

func orNone(s string) string {
	if s == "" {
		return "off"
	}
	return s
}

// parseAP reads eval's --ap.
func parseAP(s string) (evalmetrics.Interpolation, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "coco", "":
		return evalmetrics.Interp101, nil
	case "voc":
		return evalmetrics.EveryPoint, nil
	}
	return 0, fmt.Errorf("--ap %q: want coco or voc", s)
}
