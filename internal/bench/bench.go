// Package bench measures gst-react in one run, as ratios against the floors
// that bound it, on the shared models and MOT17 frames: raw ONNX Runtime
// inference, reactdetect against it, Median Flow per object, the whole edge
// pipeline against the bound its detector and tracker set, fusion, the cloud
// worker (throughput, round trip, bytes on the wire), and the Go allocations
// per frame of every element. `gstreact bench` prints the Report; tests run
// the quick mode.
//
// Everything runs in this process: GStreamer pipelines with the elements
// registered in-process, an embedded NATS server on loopback, in-process
// cloud workers. Pipelines are timed by buffer probes written in C, so the
// timing adds no Go allocations to the pipelines being counted.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/onnx"
	"github.com/gst-react/gst-react/internal/ortlib"
	"github.com/gst-react/gst-react/internal/runner"
)

// Options select the run.
type Options struct {
	// Quick runs every measurement with fewer iterations (under a minute on
	// two cores); the default run takes a few minutes.
	Quick bool
	// Assets is the shared assets folder; "" = FindAssets.
	Assets string
	// EdgeModel and CloudModel are model paths or manifest names; "" = the
	// manifest's edge (yolox_nano_416x416) and cloud (yolox_nano_736x1280) models.
	EdgeModel, CloudModel string
	// Progress receives one line per step; nil = quiet.
	Progress io.Writer
	// AllocSites prints this many of the allocation sites seen in the
	// pipeline's steady state (by owner and stack) on Progress, and past
	// them every site of an edge element (what allocs_per_frame counts).
	AllocSites int
}

// plan is how long each measurement runs.
type plan struct {
	rawCloudRuns             int
	ratioRounds, ratioFrames int
	stageRuns                int
	trackReps                int
	pipeFrames, pipeSkip     int
	pipeAlloc                [2]int
	fuseTime                 time.Duration
	workerReqs               int
	engineFrames, engineCut  int
}

func planFor(quick bool) plan {
	if quick {
		return plan{
			rawCloudRuns: 3, ratioRounds: 10, ratioFrames: 8, stageRuns: 8, trackReps: 1,
			pipeFrames: 110, pipeSkip: 10, pipeAlloc: [2]int{65, 105},
			fuseTime: 100 * time.Millisecond, workerReqs: 4, engineFrames: 120, engineCut: 50,
		}
	}
	return plan{
		rawCloudRuns: 20, ratioRounds: 12, ratioFrames: 30, stageRuns: 60, trackReps: 5,
		pipeFrames: 900, pipeSkip: 30, pipeAlloc: [2]int{100, 880},
		fuseTime: time.Second, workerReqs: 24, engineFrames: 900, engineCut: 75,
	}
}

// env is what the sections share.
type env struct {
	opts    Options
	plan    plan
	assets  string
	edge    string // model paths
	cloud   string
	tmp     string
	rep     *Report
	section map[string]float64 // row key → section, for ordering
	vals    map[string]float64

	local   *runner.LocalCloud // embedded NATS + in-process worker, while needed
	request []byte             // a request as reactcloud sends it, for the worker section
}

func (e *env) logf(format string, args ...any) {
	if e.opts.Progress != nil {
		fmt.Fprintf(e.opts.Progress, "bench: "+format+"\n", args...)
	}
}

// add records a row of section sec.
func (e *env) add(sec float64, key, stage string, v float64, unit, note string) {
	e.rep.add(key, stage, v, unit, note)
	e.section[key] = sec
	e.vals[key] = v
}

// Run measures everything and returns the report. The run is one process:
// keep other work off the machine while it runs.
func Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	e := &env{opts: opts, plan: planFor(opts.Quick), rep: &Report{Mode: "full"}, section: map[string]float64{}, vals: map[string]float64{}}
	if opts.Quick {
		e.rep.Mode = "quick"
	}
	var err error
	if e.assets = opts.Assets; e.assets == "" {
		if e.assets, err = FindAssets(); err != nil {
			return nil, err
		}
	}
	if e.edge, err = resolveModel(opts.EdgeModel, models.DefaultEdgeModel); err != nil {
		return nil, err
	}
	if e.cloud, err = resolveModel(opts.CloudModel, models.DefaultCloudModel); err != nil {
		return nil, err
	}
	lib, err := ortlib.Locate()
	if err == nil {
		err = onnx.Init(lib)
	}
	if err != nil {
		return nil, fmt.Errorf("ONNX Runtime: %w", err)
	}
	e.rep.Machine = readMachine()
	e.logf("%s run on %d cores, load average %s", e.rep.Mode, e.rep.Machine.Cores, e.rep.Machine.LoadAvg)
	if e.tmp, err = os.MkdirTemp("", "gstreact-bench-"); err != nil {
		return nil, err
	}
	defer os.RemoveAll(e.tmp)
	defer e.stopLocalCloud()

	// Execution order differs from the report's: the pipeline runs first so
	// its RSS is not inflated by what later sections load.
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"edge pipeline, RSS and allocations", e.pipelineSections},
		{"offload bytes and round trip", e.offloadSection},
		{"raw ONNX Runtime and reactdetect", e.detectSections},
		{"tracker", e.trackerSection},
		{"fusion", e.fusionSection},
		{"cloud worker throughput", e.workerSection},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		e.logf("%s ...", s.name)
		if err := s.run(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		e.logf("%s done in %.1f s", s.name, time.Since(t0).Seconds())
	}
	e.crossRows()
	sort.SliceStable(e.rep.Rows, func(i, j int) bool { return e.section[e.rep.Rows[i].Key] < e.section[e.rep.Rows[j].Key] })
	e.rep.Machine.LoadAvgEnd = loadAvg()
	e.rep.Elapsed = time.Since(start)
	for _, k := range RequiredKeys {
		if _, ok := e.vals[k]; !ok {
			return e.rep, fmt.Errorf("internal error: no value for %s", k)
		}
	}
	return e.rep, nil
}

func resolveModel(name string, def func() (string, error)) (string, error) {
	if name == "" {
		return def()
	}
	return models.Resolve(name)
}

// crossRows are the rows that combine sections.
func (e *env) crossRows() {
	v := e.vals
	if d, t := v["detect_ms"], v["track_frame_ms"]; d > 0 && t > 0 {
		e.add(3, "detect_over_track_ratio", "edge detection / tracking a frame", d/t, "x",
			fmt.Sprintf("one reactdetect frame (1080p in) costs as much as tracking %.0f frames of %.0f objects", d/t, v["track_objects"]))
	}
}

// RequiredKeys are the JSON keys every report has (besides the machine_* ones).
var RequiredKeys = []string{
	"raw_edge_ms", "raw_cloud_ms",
	"detect_ms", "detect_vs_raw_ratio", "detect_added_ms", "detect_restart_ms",
	"detect_preprocess_ms", "detect_inference_ms", "detect_decode_ms",
	"detect_preprocess_pct", "detect_inference_pct", "detect_decode_pct",
	"track_us_per_object", "track_objects", "track_pyramid_ms", "track_frame_ms", "detect_over_track_ratio",
	"pipeline_fps", "pipeline_bound_fps", "pipeline_vs_bound_ratio",
	"pipeline_source_ms", "pipeline_wait_ms", "pipeline_detect_ms", "pipeline_track_ms", "pipeline_cloud_ms", "pipeline_overlay_ms",
	"pipeline_offloads", "pipeline_rtt_ms", "rss_mb",
	"fusion_10_us", "fusion_50_us", "fusion_200_us",
	"worker_c1_rps", "worker_c2_rps", "worker_w2_rps", "worker_c2_vs_c1_ratio", "worker_w2_vs_c1_ratio",
	"worker_decode_ms", "worker_infer_ms",
	"rtt_p50_ms", "rtt_p95_ms",
	"offload_bytes_per_frame", "offload_bytes_per_s", "offload_scene_bytes_per_frame", "offload_scene_bytes_per_s",
	"offload_scene_vs_plain_ratio",
	"allocs_detect", "allocs_track", "allocs_cloud", "allocs_overlay", "allocs_per_frame",
	"allocs_cloud_requests", "pipeline_allocs_per_frame",
}

// MayBeZero are the RequiredKeys whose value may be 0 or, by measurement
// noise, slightly negative: allocation counts, whose target is 0, and the
// analysis thread's wait for the source, about 0 while the source keeps up.
var MayBeZero = map[string]bool{
	"pipeline_wait_ms": true,
	"allocs_detect":    true, "allocs_track": true, "allocs_cloud": true, "allocs_overlay": true,
	"allocs_per_frame": true, "allocs_cloud_requests": true, "pipeline_allocs_per_frame": true,
}

// Signed are the RequiredKeys that are a difference of two timings, which
// noise on a loaded machine can turn negative.
var Signed = map[string]bool{"detect_added_ms": true, "detect_restart_ms": true}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quantile of v (0..1) by the nearest-rank rule.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
