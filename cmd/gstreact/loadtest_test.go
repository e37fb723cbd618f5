package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/cloudworker"
	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
	"github.com/gst-react/gst-react/internal/testlog"
)

// TestLoadtestCommand runs `gstreact loadtest` against a real worker (the
// small 416x416 model, so a step costs little) on the MOT17-04 frames: JSON
// rows for each N with replies and round trips, the worker's share, a PNG.
// The timeout is generous so that a busy machine slows the numbers down
// rather than failing them: only their presence is checked.
func TestLoadtestCommand(t *testing.T) {
	seq := motDir(t)
	mp, err := models.Resolve("yolox_nano_416x416")
	if err != nil {
		t.Skipf("model not in the cache (make setup): %v", err)
	}
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true})
	w, err := cloudworker.New(cloudworker.Options{NATSURL: srv.ClientURL(), ModelPath: mp, WorkerID: "lt-worker",
		SummaryInterval: -1, Logger: slog.New(slog.NewTextHandler(&testlog.Buffer{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	var stdout, stderr bytes.Buffer
	loadtestStdout, loadtestStderr = &stdout, &stderr
	defer func() { loadtestStdout, loadtestStderr = os.Stdout, os.Stderr }()
	plot := filepath.Join(t.TempDir(), "load.png")
	err = runLoadtest(context.Background(), []string{"--nats", srv.ClientURL(), "--source", seq, "--frames", "2",
		"--edges", "1,2", "--m", "1", "--fps", "3", "--duration", "1s", "--timeout", "30s", "--format", "json", "--plot", plot})
	if err != nil {
		t.Fatalf("loadtest: %v\n%s", err, stderr.String())
	}
	var rows []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil {
		t.Fatalf("output is not a JSON list of rows: %v\n%s", err, stdout.String())
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2 (1 and 2 edges):\n%s", len(rows), stdout.String())
	}
	for i, r := range rows {
		for _, k := range []string{"edges", "rtt_p50_ms", "rtt_p95_ms", "rtt_p99_ms", "replies_per_s", "timeouts"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("row %d lacks %q: %v", i, k, r)
			}
		}
		if r["edges"].(float64) != float64(i+1) || r["replies_per_s"].(float64) <= 0 || r["rtt_p95_ms"].(float64) <= 0 {
			t.Fatalf("row %d: %v", i, r)
		}
		if ws := r["workers"].(map[string]any); ws["lt-worker"] == nil {
			t.Fatalf("row %d: no share for the worker: %v", i, r)
		}
	}
	if !strings.Contains(stderr.String(), "load average") {
		t.Errorf("the machine's load is not stated:\n%s", stderr.String())
	}
	fh, err := os.Open(plot)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := png.Decode(fh); err != nil {
		t.Fatalf("--plot wrote no PNG: %v", err)
	}
}

func TestLoadtestFlagErrors(t *testing.T) {
	var stderr bytes.Buffer
	loadtestStderr = &stderr
	defer func() { loadtestStderr = os.Stderr }()
	for args, want := range map[string]string{
		"--edges 0":                    "--edges",
		"--format xml":                 "--format",
		"--find-capacity --slo 0s":     "--slo",
		"--duration 0s":                "--duration",
		"--source /nonexistent/frames": "--source",
	} {
		err := runLoadtest(context.Background(), strings.Fields(args))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %s", args, err, want)
		}
	}
}
