package onnx_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/onnx"
	"github.com/gst-react/gst-react/internal/testassets"
)

// A model with a dynamic batch dimension (YOLOv5n fp16, [-1,3,-1,-1]) runs
// three different images in one call, and each image's outputs are what a
// run of that image alone gives.
func TestBatchRunMatchesSingleRuns(t *testing.T) {
	testassets.InitORT(t)
	model := testassets.ZooModel(t, "yolov5n_640_fp16")
	s, err := onnx.Open(model, onnx.Options{IntraOpThreads: 2, MaxBatch: 3, InputW: 640, InputH: 640,
		OutputShapes: [][]int64{{1, 25200, 85}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.MaxBatch != 3 || s.BatchNote != "" {
		t.Fatalf("MaxBatch %d (%q), want 3 for a dynamic batch dimension", s.MaxBatch, s.BatchNote)
	}
	fill := func(dst []float32, k int) {
		for i := range dst {
			// A different smooth pattern per image, in the model's 0..1 range.
			dst[i] = float32(0.5 + 0.5*math.Sin(float64(i%640)*0.01*float64(k+1)+float64(i/640)*0.02))
		}
	}
	for k := range 3 {
		fill(s.InputAt(k), k)
	}
	t0 := time.Now()
	if err := s.RunBatch(3); err != nil {
		t.Fatal(err)
	}
	tb := time.Since(t0)
	var batched [][]float32
	for k := range 3 {
		batched = append(batched, append([]float32(nil), s.OutputsAt(k)[0]...))
	}
	var ts time.Duration
	for k := range 3 {
		fill(s.Input(), k)
		t0 := time.Now()
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
		ts += time.Since(t0)
		single := s.OutputData()[0]
		if len(single) != 25200*85 || len(batched[k]) != len(single) {
			t.Fatalf("image %d: %d values batched, %d alone, want %d", k, len(batched[k]), len(single), 25200*85)
		}
		worst := 0.0
		for i, v := range single {
			worst = max(worst, math.Abs(float64(v-batched[k][i]))/(1+math.Abs(float64(v))))
		}
		// fp16 arithmetic: kernels may order sums differently per batch size.
		if worst > 0.02 {
			t.Fatalf("image %d: batched output differs from a single run by up to %.4f (relative)", k, worst)
		}
	}
	t.Logf("3 images: %v in one batch, %v one at a time", tb.Round(time.Millisecond), ts.Round(time.Millisecond))
	if err := s.RunBatch(4); err == nil {
		t.Fatal("RunBatch(4) on a session of 3 did not fail")
	}
}

// A model with a fixed batch of 1 keeps one image per run and says why.
func TestFixedBatchModelStaysSingle(t *testing.T) {
	testassets.InitORT(t)
	s, err := onnx.Open(testassets.Model(t, "yolox_nano_416x416"), onnx.Options{IntraOpThreads: 1, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.MaxBatch != 1 || !strings.Contains(s.BatchNote, "fixed batch of 1") {
		t.Fatalf("MaxBatch %d, note %q: want 1 and the reason", s.MaxBatch, s.BatchNote)
	}
	if err := s.RunBatch(1); err != nil {
		t.Fatal(err)
	}
	if err := s.RunBatch(2); err == nil {
		t.Fatal("RunBatch(2) on a fixed-batch model did not fail")
	}
}
