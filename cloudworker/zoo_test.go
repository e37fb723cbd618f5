package cloudworker

import (
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/onnx/onnxtest"
	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/yolo"
)

// A worker opened on an fp16 model (YOLOv5n, fp16 input and output) and on an
// int8 one (NanoDet, QOperator) answers a real MOT17-04 frame with people.
// Skipped when the zoo files are neither installed nor in the shared assets.
func TestWorkerZooModels(t *testing.T) {
	for _, model := range []string{"yolov5n_640_fp16", "nanodet_416_int8"} {
		t.Run(model, func(t *testing.T) {
			path := testassets.ZooModel(t, model)
			srv := startNATS(t)
			newWorker(t, srv.ClientURL(), fastModel, func(o *Options) { o.ModelPath = path })
			nc := connect(t, srv.ClientURL())
			req := request(t, frameJPEG(t), 0, 0)
			rep := ask(t, nc, encode(t, &req), time.Minute)
			checkOK(t, rep, &req)
			people := 0
			for _, b := range rep.Boxes {
				if b.Class == 0 {
					people++
				}
			}
			t.Logf("%s: %d boxes, %d people, inference %d µs", model, len(rep.Boxes), people, rep.InferUS)
			// MOT17-04 frame 1 has 42 labelled people; these models find
			// about 20 at the worker's threshold.
			if people < 10 {
				t.Errorf("%d people of %d boxes, want at least 10", people, len(rep.Boxes))
			}
		})
	}
}

// A worker given no threshold takes the model's own from the manifest
// (GFL scores run lower than YOLOX's obj×cls), an explicit one wins.
func TestWorkerTakesTheModelsThreshold(t *testing.T) {
	path := testassets.ZooModel(t, "nanodet_416_int8")
	if got := (Options{ModelPath: path}).withDefaults().ScoreThreshold; got != 0.35 {
		t.Errorf("nanodet_416_int8 without a threshold: %v, want its manifest's 0.35", got)
	}
	if got := (Options{ModelPath: path, ScoreThreshold: 0.5}).withDefaults().ScoreThreshold; got != 0.5 {
		t.Errorf("explicit threshold 0.5 became %v", got)
	}
	if got := (Options{ModelPath: "/nonexistent.onnx"}).withDefaults().ScoreThreshold; got != DefaultScoreThreshold {
		t.Errorf("a model outside the manifest: %v, want %v", got, DefaultScoreThreshold)
	}
}

// A model whose outputs fit no decoder is refused when the worker is made,
// with a message that lists the outputs found and the supported formats.
func TestWorkerUnknownLayoutListsOutputs(t *testing.T) {
	testassets.InitORT(t)
	path := onnxtest.WriteReduceMeanModel(t, t.TempDir(), 64, 64)
	o := DefaultOptions()
	o.ModelPath = path
	w, err := New(o)
	if err == nil {
		w.Stop()
		t.Fatal("a model with a [1 64 64] output was accepted")
	}
	msg := err.Error()
	for _, want := range []string{path, "match no supported detector head", `"output" [1 64 64]`, "Supported: " + yolo.Layouts} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}
