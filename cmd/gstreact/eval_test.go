package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/testassets"
)

func captureEval(t *testing.T) (stdout, stderr *bytes.Buffer) {
	return captureOutput(t, &evalStdout, &evalStderr)
}

func TestEvalFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--sequence", "x", "--latency", "-5"},
		{"--sequence", "x", "--latency", "soon"},
		{"--sequence", "x", "--k", "0"},
		{"--sequence", "x", "--m", "a"},
		{"--sequence", "x", "--decay", "0"},
		{"--sequence", "x", "--iou-threshold", "1.5"},
		{"--sequence", "x", "--format", "xml"},
		{"--sequence", "x", "--tracker", "csrt"},
		{"--sequence", "x", "--tracker", ""},
		{"--sequence", "x", "--ap", "11-point"},
		{"--sequence", t.TempDir()}, // no sequence inside
	} {
		captureEval(t)
		if err := runEval(context.Background(), args); err == nil {
			t.Errorf("gstreact eval %v: no error", args)
		}
	}
	for s, want := range map[string]string{"300": "300ms", "300ms": "300ms", "1s": "1s", "0": "0s", "1.5": "1.5ms"} {
		d, err := parseLatency(s)
		if err != nil || d.String() != want {
			t.Errorf("parseLatency(%q) = %v, %v; want %s", s, d, err, want)
		}
	}
}

// TestEvalCommand runs the command on the shared folder of sequences (both
// MOT17 minis) with JSON on stdout, CSV and a plot.
func TestEvalCommand(t *testing.T) {
	videos := filepath.Join(testassets.SharedAssets(t), "video")
	testassets.Model(t, "yolox_nano_416x416")
	testassets.Model(t, "yolox_nano_736x1280")
	dir := t.TempDir()
	stdout, stderr := captureEval(t)
	// The sequences are named: the folder gains sequences as data is added,
	// and that must neither break this test nor make it slower.
	seqs := filepath.Join(videos, "MOT17-02-FRCNN-mini") + "," + filepath.Join(videos, "MOT17-04-FRCNN-mini")
	args := []string{"--sequence", seqs, "--loop", "30", "--k", "5", "--m", "10,30", "--latency", "0,300ms",
		"--format", "json", "--csv", filepath.Join(dir, "out.csv"), "--plot", filepath.Join(dir, "out.png"),
		"--cache-dir", filepath.Join(dir, "cache")}
	if err := runEval(context.Background(), args); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rs []eval.Result
	if err := json.Unmarshal(stdout.Bytes(), &rs); err != nil {
		t.Fatalf("stdout is not the JSON array: %v\n%s", err, stdout)
	}
	if len(rs) != 2*2*2 || rs[0].Sequence != "MOT17-02-FRCNN-mini" || rs[4].Sequence != "MOT17-04-FRCNN-mini" || rs[0].Frames != 30 {
		t.Fatalf("results: %+v", rs)
	}
	if !strings.Contains(stderr.String(), "ping-pong playback (1..4..2..1..) to 30 frames") {
		t.Fatalf("the loop is not explained:\n%s", stderr)
	}
	f, err := os.Open(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 9 {
		t.Fatalf("CSV: %d rows, %v", len(rows), err)
	}
	pf, err := os.Open(filepath.Join(dir, "out.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(pf)
	pf.Close()
	if err != nil {
		t.Fatal(err)
	}
	if w, h := eval.PlotSize(2); img.Bounds().Dx() != w || img.Bounds().Dy() != h {
		t.Fatalf("plot %v, want %dx%d", img.Bounds(), w, h)
	}

	// The same run from the cache, as a table, with a fusion sweep.
	stdout, stderr = captureEval(t)
	args = []string{"--sequence", filepath.Join(videos, "MOT17-02-FRCNN-mini"), "--loop", "30", "--decay", "0.85,1",
		"--cache-dir", filepath.Join(dir, "cache")}
	if err := runEval(context.Background(), args); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	out := stdout.String()
	for _, want := range []string{"edge 4 cached + 0 run, cloud 4 cached + 0 run", "Fusion settings ranked", "MOT17-02-FRCNN-mini    5   30   300ms      9    gt   0.6  0.85   0.2 |"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table output lacks %q:\n%s", want, out)
		}
	}
}
