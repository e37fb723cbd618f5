package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/pipetest"
	"github.com/gst-react/gst-react/internal/testassets"
)

// cutClip writes the first n frames of a shared H.264 clip to an MP4 of its
// own (no re-encoding), so a test decodes real video but only a few frames.
func cutClip(t *testing.T, clip, dst string, n int) {
	t.Helper()
	// identity ends the stream on its eos-after-th buffer, which it does not pass.
	desc := fmt.Sprintf(`filesrc location=%q ! qtdemux ! h264parse ! identity eos-after=%d ! mp4mux ! filesink location=%q`, clip, n+1, dst)
	res, err := pipetest.Run(desc, time.Minute)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("cutting %s: %v %v", clip, err, res)
	}
}

// TestEvalVideo: a folder mixing a video file and a labelled MOT sequence;
// the video is decoded with GStreamer once into the cache and scored against
// the cloud reference, the MOT sequence against its ground truth, and every
// row carries what it spends.
func TestEvalVideo(t *testing.T) {
	assets := testassets.SharedAssets(t)
	testassets.Model(t, "yolox_nano_416x416")
	testassets.Model(t, "yolox_nano_736x1280")
	dir := t.TempDir()
	folder := filepath.Join(dir, "footage")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	clip := filepath.Join(folder, "tokyo8.mp4")
	cutClip(t, filepath.Join(assets, "clips", "tokyo_street_walk_handheld_moving.mp4"), clip, 8)
	if err := os.Symlink(filepath.Join(assets, "video", "MOT17-02-FRCNN-mini"), filepath.Join(folder, "MOT17-02-FRCNN-mini")); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	stdout, stderr := captureEval(t)
	args := []string{"--sequence", folder, "--k", "2", "--m", "4", "--latency", "0,100ms", "--format", "json", "--cache-dir", cache}
	if err := runEval(context.Background(), args); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rs []eval.Result
	if err := json.Unmarshal(stdout.Bytes(), &rs); err != nil {
		t.Fatalf("stdout is not the JSON array: %v\n%s", err, stdout)
	}
	if len(rs) != 4 || rs[0].Sequence != "MOT17-02-FRCNN-mini" || rs[0].Reference != "gt" || rs[0].Classes != "0" ||
		rs[2].Sequence != "tokyo8" || rs[2].Reference != "cloud" || rs[2].Classes != "0-79" || rs[2].Frames != 8 {
		var got []string
		for _, r := range rs {
			got = append(got, fmt.Sprintf("%s %s %s %d frames", r.Sequence, r.Reference, r.Classes, r.Frames))
		}
		t.Fatalf("results: %q", got)
	}
	for _, r := range rs[2:] {
		// 8 frames at 30 fps: edge on frames 0, 2, 4, 6 and requests for 0 and 4.
		if r.EdgeDetectPerS != 15 || r.CloudRequestsPerS != 7.5 || !(r.UplinkKbps > 100) {
			t.Fatalf("cost %+v, want 15 edge runs/s, 7.5 requests/s and the JPEGs' kbit/s", r.Cost)
		}
	}
	for _, want := range []string{"decoding the video into the frame cache", "tokyo8: 8 frames at 30 fps, played once", eval.CloudReferenceNote} {
		if !strings.Contains(stderr.String(), want) {
			t.Fatalf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	// Again, as a table: nothing decoded or detected a second time.
	stdout, stderr = captureEval(t)
	if err := runEval(context.Background(), []string{"--sequence", clip, "--k", "2", "--m", "4", "--cache-dir", cache}); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if out := stdout.String(); strings.Contains(stderr.String(), "decoding the video") ||
		!strings.Contains(out, "edge 8 cached + 0 run, cloud 8 cached + 0 run") || !strings.Contains(out, "tokyo8      2    4   300ms      9 cloud |") {
		t.Fatalf("second run:\n%s\n%s", out, stderr)
	}

	// Bad input: each a clear error.
	garbage := filepath.Join(dir, "garbage.mp4")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("no video here ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--sequence", clip, "--reference", "gt"}, "--reference cloud"},
		{[]string{"--sequence", garbage}, "does not decode as video"},
		{[]string{"--sequence", t.TempDir()}, "holds no sequence"},
		{[]string{"--sequence", clip, "--classes", "unicorn"}, "not a COCO class"},
		{[]string{"--sequence", clip, "--reference", "truth"}, "want gt"},
	} {
		_, stderr := captureEval(t)
		err := runEval(context.Background(), append(c.args, "--cache-dir", cache))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("gstreact eval %v: %v, want an error saying %q\n%s", c.args, err, c.want, stderr)
		}
	}
	// gstreact tune on the same clip and cache: the chosen point is inside
	// the budget, nothing inside beats it, and eval at its k, m and latency
	// reproduces its score.
	var tuneOut, tuneErr bytes.Buffer
	tuneStdout, tuneStderr = &tuneOut, &tuneErr
	defer func() { tuneStdout, tuneStderr = os.Stdout, os.Stderr }()
	tuneArgs := []string{"--input", clip, "--k", "1,2", "--m", "2,4", "--latency", "0", "--cache-dir", cache}
	if err := runTune(context.Background(), append(tuneArgs, "--max-edge-fps", "20", "--format", "json")); err != nil {
		t.Fatalf("tune: %v\n%s", err, &tuneErr)
	}
	var rep tuneReport
	if err := json.Unmarshal(tuneOut.Bytes(), &rep); err != nil {
		t.Fatalf("tune JSON: %v\n%s", err, &tuneOut)
	}
	c := rep.Chosen
	if len(rep.Candidates) != 2*2*2 || c.K != 2 || !c.InBudget || c.EdgeDetectPerS != 15 || rep.Reference != "cloud" {
		t.Fatalf("tune chose %+v among %d", c, len(rep.Candidates))
	}
	for _, o := range rep.Candidates {
		if o.InBudget && o.MAP50 > c.MAP50 {
			t.Fatalf("%+v is in the budget and beats the chosen %+v", o, c)
		}
	}
	stdout, stderr = captureEval(t)
	if err := runEval(context.Background(), []string{"--sequence", clip, "--k", "2", "--m", strconv.Itoa(c.M), "--latency", "0",
		"--change-threshold", strconv.FormatFloat(c.ChangeThreshold, 'g', -1, 64), "--format", "json", "--cache-dir", cache}); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if err := json.Unmarshal(stdout.Bytes(), &rs); err != nil || len(rs) != 1 || math.Abs(rs[0].Fused.MAP50-c.MAP50) > 0.005 {
		t.Fatalf("eval at the chosen point: %v %s; tune said %v", err, stdout, c.MAP50)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-edge-fps", "1"}, "the cheapest is k=2"},
		{[]string{"--m", "8,16"}, "not more than the largest m=16"},
	} {
		tuneErr.Reset()
		if err := runTune(context.Background(), append(append([]string(nil), tuneArgs...), c.args...)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("tune %v: %v, want an error saying %q", c.args, err, c.want)
		}
	}

	ents, _ := os.ReadDir(filepath.Join(cache, "frames"))
	if len(ents) != 1 {
		t.Fatalf("the frame cache holds %d entries, want the one video", len(ents))
	}
}
