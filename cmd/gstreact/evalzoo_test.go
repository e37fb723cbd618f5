package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/onnx/onnxtest"
	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/yolo"
)

// eval takes an fp16 edge model and an int8 cloud model by manifest name
// and scores them on MOT17-02-FRCNN-mini (4 frames, every frame to the cloud,
// no latency). Skipped when the zoo files are absent.
func TestEvalZooModels(t *testing.T) {
	seq := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-02-FRCNN-mini")
	testassets.ZooModel(t, "yolov5n_640_fp16")
	testassets.ZooModel(t, "nanodet_416_int8")
	stdout, stderr := captureEval(t)
	args := []string{"--sequence", seq, "--edge-model", "yolov5n_640_fp16", "--cloud-model", "nanodet_416_int8",
		"--k", "1", "--m", "1", "--latency", "0", "--loop", "0", "--format", "json",
		"--cache-dir", filepath.Join(t.TempDir(), "cache")}
	if err := runEval(context.Background(), args); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rs []eval.Result
	if err := json.Unmarshal(stdout.Bytes(), &rs); err != nil {
		t.Fatalf("stdout is not the JSON array: %v\n%s", err, stdout)
	}
	if len(rs) != 1 || rs[0].Frames != 4 {
		t.Fatalf("results: %+v", rs)
	}
	r := rs[0]
	t.Logf("mAP@0.5 edge-only %.3f, cloud-only %.3f, fused %.3f", r.EdgeOnly.MAP50, r.CloudOnly.MAP50, r.Fused.MAP50)
	if r.EdgeOnly.MAP50 <= 0 || r.CloudOnly.MAP50 <= 0 || r.Fused.MAP50 <= 0 {
		t.Errorf("mAP@0.5 edge-only %v, cloud-only %v, fused %v: want all above 0", r.EdgeOnly.MAP50, r.CloudOnly.MAP50, r.Fused.MAP50)
	}
}

// An edge model whose outputs fit no decoder stops eval with the message
// that lists the outputs found and the supported formats.
func TestEvalUnknownLayoutModel(t *testing.T) {
	seq := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-02-FRCNN-mini")
	testassets.InitORT(t)
	testassets.Model(t, "yolox_nano_416x416")
	wrong := onnxtest.WriteReduceMeanModel(t, t.TempDir(), 64, 64)
	_, stderr := captureEval(t)
	args := []string{"--sequence", seq, "--edge-model", wrong, "--cloud-model", "yolox_nano_416x416",
		"--k", "1", "--m", "1", "--latency", "0", "--loop", "0",
		"--cache-dir", filepath.Join(t.TempDir(), "cache")}
	err := runEval(context.Background(), args)
	if err == nil {
		t.Fatalf("eval accepted a model with a [1 64 64] output\n%s", stderr)
	}
	for _, want := range []string{"match no supported detector head", `"output" [1 64 64]`, "Supported: " + yolo.Layouts} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
