package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/bench"
	"github.com/gst-react/gst-react/internal/testassets"
)

func captureBench(t *testing.T) (stdout, stderr *bytes.Buffer) {
	return captureOutput(t, &benchStdout, &benchStderr)
}

func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--format", "xml"},
		{"extra"},
		{"--quick=maybe"},
	} {
		captureBench(t)
		if err := runBench(context.Background(), args); err == nil {
			t.Errorf("gstreact bench %v: no error", args)
		}
	}
}

// TestBenchQuickJSON runs `gstreact bench --quick --format json` (about 40 s
// on two cores) and checks that every number is there, finite and positive
// (allocation counts, whose target is 0, may be 0).
func TestBenchQuickJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: the quick bench takes about 40 s")
	}
	testassets.SharedAssets(t)
	testassets.Model(t, "yolox_nano_416x416")
	testassets.Model(t, "yolox_nano_736x1280")
	stdout, stderr := captureBench(t)
	start := time.Now()
	if err := runBench(context.Background(), []string{"--quick", "--format", "json"}); err != nil {
		t.Fatalf("gstreact bench --quick: %v\n%s", err, stderr)
	}
	t.Logf("quick bench took %s", time.Since(start).Round(time.Second))
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, stdout)
	}
	for _, k := range bench.RequiredKeys {
		v, ok := got[k].(float64)
		switch {
		case !ok:
			t.Errorf("%s: missing or not a number (%v)", k, got[k])
		case math.IsNaN(v) || math.IsInf(v, 0):
			t.Errorf("%s = %v, not finite", k, v)
		case bench.Signed[k]:
		case bench.MayBeZero[k] && v < 0, !bench.MayBeZero[k] && v <= 0:
			t.Errorf("%s = %v, want positive", k, v)
		}
	}
	for k, v := range got {
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			t.Errorf("%s = %v, not finite", k, f)
		}
	}
	for _, k := range []string{"detect_vs_raw_ratio", "pipeline_fps", "pipeline_bound_fps", "allocs_per_frame", "machine_cores", "ort_version"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %s in the JSON", k)
		}
	}
	if !strings.Contains(stderr.String(), "load average") {
		t.Errorf("progress on stderr does not give the load average:\n%s", stderr)
	}
}
