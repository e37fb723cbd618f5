package onnx

import (
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// Batches: a model whose batch dimension is dynamic ([-1,3,H,W] or
// [N,3,H,W]) can run several images in one call, which keeps a GPU busy and
// amortises per-run overhead. A session opened with Options.MaxBatch > 1 on
// such a model pre-allocates its input and outputs for MaxBatch images and
// makes a tensor view of the first n images for every n, so RunBatch(n)
// allocates nothing but ORT's own bookkeeping. Image i's input and outputs
// are slices of those buffers (InputAt, OutputsAt), laid out as the model's
// NCHW and batch-major outputs are.

// batch is the state of a session prepared for more than one image per run.
type batch struct {
	dyn      *ort.DynamicAdvancedSession
	inputAll []float32     // MaxBatch images; Session.input is image 0's part
	in16All  []uint16      // float16 input memory for MaxBatch images
	outAll   [][]float32   // per output, MaxBatch items as float32
	out16All [][]uint16    // per output, float16 memory (nil for float32)
	perIn    int           // values per image in the input
	perOut   []int         // values per image in each output
	ins      []ort.Value   // ins[n-1]: the input view of n images
	outs     [][]ort.Value // outs[n-1]: the output views of n images
	items    [][][]float32 // items[i][k]: image i's part of output k
}

// batchSupport decides how many images a run may hold: max when the model's
// batch dimension is dynamic, else 1 with the reason.
func batchSupport(dims []int64, max int, path, input string) (int, string) {
	if max <= 1 {
		return 1, ""
	}
	if dims[0] > 0 {
		return 1, fmt.Sprintf("model %s has a fixed batch of %d (input %s %v): one image per run; export it with a dynamic batch dimension to batch", path, dims[0], input, dims)
	}
	return max, ""
}

// allocateBatch is allocate for MaxBatch > 1: the buffers hold MaxBatch
// images, and Session's single-image fields view image 0.
func (s *Session) allocateBatch() error {
	b := &batch{perIn: 3 * s.InputH * s.InputW}
	s.batch = b
	n := s.MaxBatch
	b.inputAll = make([]float32, n*b.perIn)
	if s.InputFP16 {
		b.in16All = make([]uint16, n*b.perIn)
	}
	for _, o := range s.Outputs {
		per := int(ort.NewShape(o.Shape[1:]...).FlattenedSize())
		b.perOut = append(b.perOut, per)
		b.outAll = append(b.outAll, make([]float32, n*per))
		if o.FP16 {
			b.out16All = append(b.out16All, make([]uint16, n*per))
		} else {
			b.out16All = append(b.out16All, nil)
		}
	}
	for k := 1; k <= n; k++ {
		shape := ort.NewShape(int64(k), 3, int64(s.InputH), int64(s.InputW))
		var in ort.Value
		var err error
		if s.InputFP16 {
			in, err = ort.NewCustomDataTensor(shape, halfBytes(b.in16All[:k*b.perIn]), ort.TensorElementDataTypeFloat16)
		} else {
			in, err = ort.NewTensor(shape, b.inputAll[:k*b.perIn])
		}
		if err != nil {
			return fmt.Errorf("model file %s: batch input of %d images: %v", s.Path, k, err)
		}
		b.ins = append(b.ins, in)
		var outs []ort.Value
		for i, o := range s.Outputs {
			shape := ort.NewShape(append([]int64{int64(k)}, o.Shape[1:]...)...)
			m := k * b.perOut[i]
			var v ort.Value
			if o.FP16 {
				v, err = ort.NewCustomDataTensor(shape, halfBytes(b.out16All[i][:m]), ort.TensorElementDataTypeFloat16)
			} else {
				v, err = ort.NewTensor(shape, b.outAll[i][:m])
			}
			if err != nil {
				return fmt.Errorf("model file %s: batch output %s of %d images: %v", s.Path, o.Name, k, err)
			}
			outs = append(outs, v)
		}
		b.outs = append(b.outs, outs)
	}
	for i := range n {
		item := make([][]float32, len(s.Outputs))
		for k, per := range b.perOut {
			item[k] = b.outAll[k][i*per : (i+1)*per]
		}
		b.items = append(b.items, item)
	}
	s.input = b.inputAll[:b.perIn]
	s.in = b.ins[0]
	s.outs = b.outs[0]
	s.outData = b.items[0]
	return nil
}

// InputAt is image i's part of the input (i < MaxBatch), written before
// RunBatch. InputAt(0) is Input.
func (s *Session) InputAt(i int) []float32 {
	if s.batch == nil {
		return s.input
	}
	return s.batch.inputAll[i*s.batch.perIn : (i+1)*s.batch.perIn]
}

// OutputsAt is image i's part of every output after RunBatch, in the
// model's order, each as long as a single image's output. OutputsAt(0) is
// OutputData. The slices are the session's own.
func (s *Session) OutputsAt(i int) [][]float32 {
	if s.batch == nil {
		return s.outData
	}
	return s.batch.items[i]
}

// RunBatch runs the model on the first n images of the input, 1 ≤ n ≤ MaxBatch.
func (s *Session) RunBatch(n int) error {
	if n < 1 || n > s.MaxBatch {
		return fmt.Errorf("running %s: batch of %d images, the session holds 1..%d", s.Path, n, s.MaxBatch)
	}
	b := s.batch
	if b == nil {
		return s.Run()
	}
	m := n * b.perIn
	if s.InputFP16 {
		floatsToHalves(b.in16All[:m], b.inputAll[:m])
	}
	if err := b.dyn.Run(b.ins[n-1:n], b.outs[n-1]); err != nil {
		return fmt.Errorf("running %s on %d images: %w", s.Path, n, err)
	}
	for k, h := range b.out16All {
		if h != nil {
			m := n * b.perOut[k]
			halvesToFloats(b.outAll[k][:m], h[:m])
		}
	}
	return nil
}

func (b *batch) close() {
	if b.dyn != nil {
		b.dyn.Destroy()
		b.dyn = nil
	}
	for _, v := range b.ins {
		v.Destroy()
	}
	for _, vs := range b.outs {
		for _, v := range vs {
			v.Destroy()
		}
	}
	b.ins, b.outs = nil, nil
}
