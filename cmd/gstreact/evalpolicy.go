package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/policy"
)

// evalPolicyFlags are `gstreact eval`'s policy flags (issue 15): which
// policies to replay and the adaptive policy's budgets and floors.
type evalPolicyFlags struct {
	policies     *listFlag
	uplinkKbps   *float64
	edgeFPS      *float64
	cloudRPS     *float64
	window       *time.Duration
	maxInterval  *int
	offloadEvery *time.Duration
}

func addEvalPolicyFlags(fs *flag.FlagSet) *evalPolicyFlags {
	f := &evalPolicyFlags{policies: newList(eval.PolicyFixed)}
	fs.Var(f.policies, "policy", "fixed (REACT: every --k and --m) and/or adaptive (the policy reactcloud policy=adaptive runs: detections and offloads where tracks fail, objects appear, the edge is unsure or the scene changes, within the --max-* budgets; one row per latency and fusion setting, k and m its effective intervals); list")
	f.uplinkKbps = fs.Float64("max-uplink-kbps", 0, "adaptive: uplink budget, kbit/s of requests over --budget-window (0 = none)")
	f.edgeFPS = fs.Float64("max-edge-fps", 0, "adaptive: edge detector runs per second over --budget-window (0 = none)")
	f.cloudRPS = fs.Float64("max-cloud-rps", 0, "adaptive: cloud requests per second over --budget-window (0 = none)")
	f.window = fs.Duration("budget-window", policy.DefaultWindow, "adaptive: the budgets hold over every window this long")
	f.maxInterval = fs.Int("max-interval", policy.DefaultMaxInterval, "adaptive floor: an edge detection at least every this many frames")
	f.offloadEvery = fs.Duration("offload-every", policy.DefaultOffloadEvery, "adaptive floor: an offload at least this often while the cloud is up")
	return f
}

// parse says which policies to replay and the adaptive settings.
func (f *evalPolicyFlags) parse() (fixed, adaptive bool, a eval.AdaptiveOptions, err error) {
	for _, s := range f.policies.vals {
		m, err := policy.ParseMode(s)
		if err != nil {
			return false, false, a, fmt.Errorf("--policy: %w", err)
		}
		fixed = fixed || m == policy.Fixed
		adaptive = adaptive || m == policy.Adaptive
	}
	if !fixed && !adaptive {
		return false, false, a, fmt.Errorf("--policy is empty: want fixed, adaptive or both")
	}
	if *f.maxInterval < 1 || *f.window <= 0 || *f.offloadEvery <= 0 {
		return false, false, a, fmt.Errorf("--max-interval, --budget-window and --offload-every must be > 0")
	}
	a = eval.AdaptiveOptions{
		Budgets:     policy.Budgets{UplinkKbps: *f.uplinkKbps, EdgeFPS: *f.edgeFPS, CloudRPS: *f.cloudRPS, Window: *f.window},
		MaxInterval: *f.maxInterval, OffloadEvery: *f.offloadEvery,
	}
	// The frame rate is the sequence's; check the rest with a typical one
	// so a bad budget fails before any detector runs.
	if err := (policy.Config{Mode: policy.Adaptive, FPS: 30, Budgets: a.Budgets, MaxInterval: a.MaxInterval, OffloadEvery: a.OffloadEvery}).Validate(); adaptive && err != nil {
		return false, false, a, err
	}
	return fixed, adaptive, a, nil
}

// fixedRows are the fixed policy's results: the grid the plots, the fusion
// ranking and the rank agreement are about.
func fixedRows(results []eval.Result) []eval.Result {
	var out []eval.Result
	for _, r := range results {
		if r.Policy != eval.PolicyAdaptive {
			out = append(out, r)
		}
	}
	return out
}
