package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/videodecode"
)

// Where `gstreact tune` writes; tests replace them.
var (
	tuneStdout io.Writer = os.Stdout
	tuneStderr io.Writer = os.Stderr
)

// Default grids of tune: edge every 1..30 frames, cloud every 5..90.
var (
	defaultTuneK = []string{"1", "2", "3", "5", "8", "10", "15", "20", "30"}
	defaultTuneM = []string{"5", "10", "15", "20", "30", "45", "60", "90"}
)

// defaultLiveDuration is how long tune records a live input without
// --duration: long enough for m=90 to send a few requests at 30 fps.
const defaultLiveDuration = 60 * time.Second

// tuneReport is tune's JSON output.
type tuneReport struct {
	Input      string           `json:"input"`
	Frames     int              `json:"frames"`
	FPS        float64          `json:"fps"`
	Reference  string           `json:"reference"`
	Classes    string           `json:"classes"`
	Budget     tuneBudgetJSON   `json:"budget"`
	Chosen     eval.Candidate   `json:"chosen"`
	Candidates []eval.Candidate `json:"candidates"`
}

type tuneBudgetJSON struct {
	MaxUplinkKbps float64 `json:"max_uplink_kbps"` // 0: no limit
	MaxEdgeFPS    float64 `json:"max_edge_fps"`
	MaxCloudRPS   float64 `json:"max_cloud_rps"`
}

// runTune is `gstreact tune`: sweep k and m on a clip against the cloud
// reference (eval's sweep, read back as JSON) and choose the most accurate
// configuration inside a budget of uplink, edge detector runs and cloud
// requests.
func runTune(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	fs.SetOutput(tuneStderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gstreact tune --input VIDEO [--duration 60s] [--max-uplink-kbps N] [--max-edge-fps N] [--max-cloud-rps N] [--latency 300ms]\n\n"+
			"Replays the clip through REACT at every k and m (gstreact eval's sweep, detector outputs cached),\n"+
			"scores fused output against the cloud model run on every frame (agreement with it, not truth),\n"+
			"prints the Pareto front of accuracy against uplink, edge detector runs and cloud requests, and\n"+
			"chooses the most accurate configuration inside the budget, as gstreact run flags and element\n"+
			"properties.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	input := fs.String("input", "", "video file (any format GStreamer decodes), MOT sequence folder, or a live rtsp:// camera, recorded for --duration first (required)")
	duration := fs.Duration("duration", 0, "use only the first DURATION of the input (e.g. 60s; 0 = all of it; a live input is recorded for this long, default 60s)")
	firstFrame := fs.Duration("first-frame-timeout", 15*time.Second, "a live input that delivers no video frame for this long is an error")
	maxUplink := fs.Float64("max-uplink-kbps", 0, "budget: uplink to the cloud in kbit/s (0 = no limit)")
	maxEdge := fs.Float64("max-edge-fps", 0, "budget: edge detector runs per second (0 = no limit)")
	maxCloud := fs.Float64("max-cloud-rps", 0, "budget: cloud requests per second (0 = no limit)")
	latency := fs.String("latency", "300ms", "the cloud's reply latency on this link: milliseconds (300) or a duration (300ms, 1s)")
	kFlag := newList(defaultTuneK...)
	fs.Var(kFlag, "k", "edge detector every k-th frame: the values tried; list")
	mFlag := newList(defaultTuneM...)
	fs.Var(mFlag, "m", "cloud request every m-th frame: the values tried; list")
	changeFlag := newList("0.1", "0")
	fs.Var(changeFlag, "change-threshold", "reactcloud's scene-change threshold: the values tried (0: only every m-th frame; a moving camera changes scene often, which costs uplink); list")
	reference := fs.String("reference", eval.ReferenceCloud, "score against cloud (the cloud model on every frame at latency 0) or gt (a labelled MOT folder's ground truth)")
	classes := fs.String("classes", "", "classes scored against the cloud reference: COCO names or ids, comma-separated (default: every class both models predict; see the README on why the classes you care about rank better)")
	edgeModel := fs.String("edge-model", "", "edge ONNX model: file path or manifest name (default: eval's)")
	cloudModel := fs.String("cloud-model", "", "cloud ONNX model: file path or manifest name (default: eval's)")
	cacheDir := fs.String("cache-dir", "", "detector and frame cache (default <gst-react cache>/eval)")
	jobs := fs.Int("jobs", runtime.NumCPU(), "replays run at once (results do not depend on it)")
	plotPath := fs.String("plot", "", "also draw fused mAP@0.5 against uplink of every candidate, the Pareto front and the chosen point to this PNG")
	format := fs.String("format", "table", "stdout format: table or json ({\"chosen\": {...}, \"candidates\": [...]})")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if *input == "" {
		fs.Usage()
		return errors.New("no --input given")
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format %q: want table or json", *format)
	}
	budget := eval.Budget{MaxUplinkKbps: *maxUplink, MaxEdgeFPS: *maxEdge, MaxCloudRPS: *maxCloud}
	for name, v := range map[string]float64{"max-uplink-kbps": *maxUplink, "max-edge-fps": *maxEdge, "max-cloud-rps": *maxCloud} {
		if !(v >= 0) {
			return fmt.Errorf("--%s %v must be >= 0 (0 = no limit)", name, v)
		}
	}
	lat, err := parseLatency(*latency)
	if err != nil {
		return err
	}
	ms, err := mFlag.ints("m", 1)
	if err != nil {
		return err
	}
	if _, err := kFlag.ints("k", 1); err != nil {
		return err
	}
	changes, err := changeFlag.floats("change-threshold", 0, 1, false)
	if err != nil {
		return err
	}
	// The sweep replays a file: a live input is recorded first, into a
	// temporary file (never the cache, so a failed recording leaves nothing
	// there); the cache then keeps its decoded frames like any clip's.
	clip := *input
	if strings.Contains(*input, "://") {
		if *duration == 0 {
			*duration = defaultLiveDuration
		}
		if *firstFrame <= 0 {
			return fmt.Errorf("--first-frame-timeout %v must be > 0", *firstFrame)
		}
		tmp, err := os.MkdirTemp("", "gstreact-tune-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		clip = filepath.Join(tmp, "live.mkv")
		fmt.Fprintf(tuneStderr, "recording %s of %s...\n", duration, *input)
		n, err := videodecode.Record(ctx, *input, clip, *duration, *firstFrame)
		if err != nil {
			return err
		}
		fmt.Fprintf(tuneStderr, "recorded %d frames\n", n)
	} else if st, err := os.Stat(*input); err != nil {
		return fmt.Errorf("--input: %w", err)
	} else if !st.IsDir() && !st.Mode().IsRegular() {
		return fmt.Errorf("--input %s is neither a video file nor a MOT folder", *input)
	}

	// Load (and on a first run decode) the clip first: a clip shorter than
	// the largest m would only ever send its first frame by the interval.
	dir := *cacheDir
	if dir == "" {
		if dir, err = eval.DefaultCacheDir(); err != nil {
			return err
		}
	}
	logLine := func(format string, args ...any) { fmt.Fprintf(tuneStderr, format+"\n", args...) }
	seqs, err := loadSequences(ctx, []string{clip}, filepath.Join(dir, "frames"), *jobs, logLine)
	if err != nil {
		return err
	}
	seq := seqs[0]
	seq.LimitDuration(*duration)
	if largest := slices.Max(ms); len(seq.Frames) <= largest {
		return fmt.Errorf("%s has %d frames (%.1f s at %g fps), not more than the largest m=%d: give a longer clip (or --duration) or smaller --m",
			*input, len(seq.Frames), float64(len(seq.Frames))/seq.FPS, seq.FPS, largest)
	}

	evalArgs := []string{"--sequence", clip, "--reference", *reference, "--k", kFlag.String(), "--m", mFlag.String(),
		"--latency", lat.String(), "--format", "json", "--cache-dir", dir, "--jobs", strconv.Itoa(*jobs)}
	for flagName, v := range map[string]string{"--classes": *classes, "--edge-model": *edgeModel, "--cloud-model": *cloudModel} {
		if v != "" {
			evalArgs = append(evalArgs, flagName, v)
		}
	}
	if *duration > 0 {
		evalArgs = append(evalArgs, "--duration", duration.String())
	}
	// One sweep per scene-change threshold: it changes what is sent, so
	// both accuracy and cost.
	var (
		cands []eval.Candidate
		r0    eval.Result
	)
	saved := evalStderr
	evalStderr = tuneStderr // eval's notes and progress bar
	defer func() { evalStderr = saved }()
	for _, ct := range changes {
		var out bytes.Buffer
		if err := runEvalTo(ctx, append(evalArgs, "--change-threshold", strconv.FormatFloat(ct, 'g', -1, 64)), &out); err != nil {
			return err
		}
		var results []eval.Result
		if err := json.Unmarshal(out.Bytes(), &results); err != nil || len(results) == 0 {
			return fmt.Errorf("reading the sweep's results: %v", err)
		}
		r0 = results[0]
		cands = append(cands, eval.Candidates(results, ct)...)
	}
	eval.MarkFront(cands, budget)
	eval.SortCandidates(cands)
	chosen, chooseErr := eval.Choose(cands, budget)
	if *plotPath != "" {
		var marked *eval.Candidate
		if chooseErr == nil {
			marked = &chosen
		}
		name := *input
		if clip == *input {
			name = filepath.Base(*input)
		}
		title := fmt.Sprintf("gstreact tune: %s, latency %s, reference %s", name, lat, r0.Reference)
		if err := writeTunePlot(*plotPath, cands, marked, budget, title); err != nil {
			return err
		}
	}
	if *format == "json" {
		if chooseErr != nil {
			return chooseErr
		}
		rep := tuneReport{Input: *input, Frames: r0.Frames, FPS: seq.FPS, Reference: r0.Reference, Classes: r0.Classes,
			Budget: tuneBudgetJSON{*maxUplink, *maxEdge, *maxCloud}, Chosen: chosen, Candidates: cands}
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		_, err = tuneStdout.Write(append(data, '\n'))
		return err
	}
	bw := bufio.NewWriter(tuneStdout)
	fmt.Fprintf(bw, "gstreact tune: %s, %d frames at %g fps, cloud latency %s; fused mAP@0.5 against reference %s (classes %s)", *input, r0.Frames, seq.FPS, lat, r0.Reference, r0.Classes)
	if r0.Reference == eval.ReferenceCloud {
		fmt.Fprintf(bw, ": %s", eval.CloudReferenceNote)
	}
	fmt.Fprintf(bw, "\nbudget: %s\n\nPareto front (no other point is as accurate for less of every cost), best first; * = within the budget:\n", budget)
	writeCandidates(bw, cands, func(c eval.Candidate) bool { return c.Pareto })
	if chooseErr != nil {
		bw.Flush()
		return chooseErr
	}
	fmt.Fprintf(bw, "\nchosen: k=%d m=%d change-threshold %g: fused mAP@0.5 %.1f %%, %.1f kbit/s uplink, %.3g edge detector runs/s, %.3g cloud requests/s (%d of %d points within the budget)\n",
		chosen.K, chosen.M, chosen.ChangeThreshold, 100*chosen.MAP50, chosen.UplinkKbps, chosen.EdgeDetectPerS, chosen.CloudRequestsPerS, countIf(cands, func(c eval.Candidate) bool { return c.InBudget }), len(cands))
	fmt.Fprintf(bw, "  gstreact run --interval %d --cloud-interval %d --change-threshold %g ...\n", chosen.K, chosen.M, chosen.ChangeThreshold)
	fmt.Fprintf(bw, "  gst-launch-1.0 ... ! reactdetect interval=%d ! reacttrack ! reactcloud interval=%d change-threshold=%g ! ...\n", chosen.K, chosen.M, chosen.ChangeThreshold)
	return bw.Flush()
}

func writeCandidates(w io.Writer, cs []eval.Candidate, keep func(eval.Candidate) bool) {
	fmt.Fprintf(w, "  %4s %4s %6s | %8s %8s | %8s %7s %7s\n", "k", "m", "change", "fused@.5", "@.5:.95", "kbit/s", "edge/s", "req/s")
	for _, c := range cs {
		if !keep(c) {
			continue
		}
		mark := " "
		if c.InBudget {
			mark = "*"
		}
		fmt.Fprintf(w, "%s %4d %4d %6g | %8.1f %8.1f | %8.1f %7.3g %7.3g\n", mark, c.K, c.M, c.ChangeThreshold, 100*c.MAP50, 100*c.MAP5095, c.UplinkKbps, c.EdgeDetectPerS, c.CloudRequestsPerS)
	}
}

func countIf[T any](v []T, f func(T) bool) int {
	n := 0
	for _, x := range v {
		if f(x) {
			n++
		}
	}
	return n
}

// writeTunePlot writes the PNG through a temporary file, so a failed write
// leaves no half-written plot under the name given.
func writeTunePlot(path string, cands []eval.Candidate, chosen *eval.Candidate, b eval.Budget, title string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tune-plot-*.png")
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	err = eval.WriteTunePlot(tmp, cands, chosen, b, title)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	fmt.Fprintf(tuneStderr, "wrote %s\n", path)
	return nil
}
