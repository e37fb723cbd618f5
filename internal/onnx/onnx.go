// Package onnx wraps one ONNX Runtime session with fixed-size, reused input and
// output tensors: an image model with one float32 or float16 [1,3,H,W] input
// and any number of float32 or float16 outputs. Creating a session is slow;
// Run is the per-frame call and allocates nothing.
package onnx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

var (
	envMu   sync.Mutex
	envLib  string
	envErr  error
	envInit bool
)

// Init loads the ONNX Runtime shared library at libPath and creates the
// process-wide environment. Later calls with the same path are no-ops; a
// different path is an error, since a process can load only one runtime.
func Init(libPath string) error {
	envMu.Lock()
	defer envMu.Unlock()
	if envInit {
		if libPath != envLib {
			return fmt.Errorf("ONNX Runtime already loaded from %s; cannot also load %s", envLib, libPath)
		}
		return envErr
	}
	if _, err := os.Stat(libPath); err != nil {
		return fmt.Errorf("ONNX Runtime library %s: %w (run `make setup`, or set GSTREACT_ORT_LIB to libonnxruntime.so >= 1.24)", libPath, unwrapPathError(err))
	}
	ort.SetSharedLibraryPath(libPath)
	envInit, envLib = true, libPath
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		envErr = fmt.Errorf("loading ONNX Runtime from %s: %w (gst-react needs ONNX Runtime >= 1.24)", libPath, err)
	}
	return envErr
}

// Options configures a session.
type Options struct {
	// IntraOpThreads is ONNX Runtime's intra-op thread count; 0 = runtime default (all cores).
	IntraOpThreads int
	// NoSpin stops the intra-op threads from spinning while they wait for
	// the next run. Spinning speeds up back-to-back runs, but a session
	// that runs now and then beside other work (a detector every k-th frame
	// of a pipeline, a cloud worker inside the edge process) spins on cores
	// that work needs: measured on 2 cores in gstreact bench's edge
	// pipeline, reactdetect's spinning cost 8 ms of CPU per frame and the
	// in-process worker's 5.
	NoSpin bool
	// CUDA appends the CUDA execution provider (device 0); it fails clearly when
	// the runtime library was built without it.
	CUDA bool
	// InputW and InputH size a model whose input height and width are
	// dynamic (a declared size; Ultralytics' imgsz metadata is the fallback).
	// A fixed input ignores them.
	InputW, InputH int
	// MaxBatch is how many images one RunBatch may hold; more than 1 needs a
	// model whose batch dimension is dynamic, and otherwise stays 1
	// (Session.BatchNote says why). 0 or 1: one image per run.
	MaxBatch int
	// OutputShapes are declared shapes, in output order, for outputs whose
	// shape the model leaves dynamic. Without one, a float32 output's shape is
	// found by running the model once; an fp16 output needs it declared,
	// since onnxruntime_go v1.27.0 cannot return fp16 outputs it allocates.
	OutputShapes [][]int64
}

// Output is one model output as the session holds it.
type Output struct {
	Name  string
	Shape []int64 // fixed, batch 1
	FP16  bool    // the model writes float16; Outputs converts it
}

// Session is one loaded model with its reused tensors. The image input is
// float32 or float16 NCHW [1,3,H,W]; the outputs are any number of float32 or
// float16 tensors of fixed (or resolved) shape. Callers always see float32:
// float16 tensors are converted on the way in and out.
type Session struct {
	Path           string
	InputName      string
	InputW, InputH int
	InputFP16      bool
	Outputs        []Output
	// OutputName and OutputShape are the first output's (single-output models).
	OutputName  string
	OutputShape []int64
	// MaxBatch is how many images RunBatch takes (1 unless Options.MaxBatch
	// asked for more and the model's batch dimension is dynamic);
	// BatchNote says why a request for more was refused.
	MaxBatch  int
	BatchNote string

	input     []float32 // what the caller writes: the tensor itself, or fp16 staging
	in        ort.Value
	in16      []uint16 // float16 input tensor memory
	outs      []ort.Value
	outData   [][]float32 // float32 views: the tensors themselves, or fp16 conversions
	outData16 [][]uint16  // float16 output tensor memory (nil for float32 outputs)
	sess      *ort.AdvancedSession
	batch     *batch // MaxBatch > 1 only; sess is nil then
}

// Open loads modelPath. Init must have succeeded. Errors name the file and say
// what is wrong with it.
func Open(modelPath string, opts Options) (*Session, error) {
	if modelPath == "" {
		return nil, errors.New("no model file given")
	}
	st, err := os.Stat(modelPath)
	if err != nil {
		return nil, fmt.Errorf("model file %s: %w", modelPath, unwrapPathError(err))
	}
	if st.IsDir() {
		return nil, fmt.Errorf("model file %s is a directory, want an .onnx file", modelPath)
	}
	f, err := os.Open(modelPath)
	if err != nil {
		return nil, fmt.Errorf("model file %s: %w", modelPath, unwrapPathError(err))
	}
	f.Close()
	if !ort.IsInitialized() {
		return nil, errors.New("ONNX Runtime is not initialised (call onnx.Init first)")
	}
	ins, outs, err := inputOutputInfo(modelPath)
	if err != nil {
		return nil, fmt.Errorf("model file %s is not a readable ONNX model: %v", modelPath, err)
	}
	if len(ins) != 1 || len(outs) == 0 {
		return nil, fmt.Errorf("model file %s has %d inputs and %d outputs, want 1 image input and detection outputs", modelPath, len(ins), len(outs))
	}
	s := &Session{Path: modelPath}
	in := ins[0]
	d := in.Dimensions
	isFloat := func(t ort.TensorElementDataType) bool {
		return t == ort.TensorElementDataTypeFloat || t == ort.TensorElementDataTypeFloat16
	}
	if !isFloat(in.DataType) || len(d) != 4 || d[1] != 3 || (d[0] != 1 && d[0] > 0) {
		return nil, fmt.Errorf("model file %s: input %s, want float32 or float16 [1,3,H,W]", modelPath, in.String())
	}
	s.InputName, s.InputFP16 = in.Name, in.DataType == ort.TensorElementDataTypeFloat16
	s.InputW, s.InputH = int(d[3]), int(d[2])
	s.MaxBatch, s.BatchNote = batchSupport(d, opts.MaxBatch, modelPath, in.Name)
	dynamicInput := d[2] <= 0 || d[3] <= 0
	if dynamicInput {
		w, h := opts.InputW, opts.InputH
		if w <= 0 || h <= 0 {
			// Reading metadata loads the model once more: only when needed.
			w, h = imgsz(readMetadata(modelPath))
		}
		if w <= 0 || h <= 0 {
			return nil, fmt.Errorf("model file %s: input %s has a dynamic height or width; declare the size the model was exported for (input width/height in models/manifest.json)", modelPath, in.String())
		}
		s.InputW, s.InputH = w, h
	}
	for i, o := range outs {
		if !isFloat(o.DataType) {
			return nil, fmt.Errorf("model file %s: output %s is not float32 or float16", modelPath, o.String())
		}
		out := Output{Name: o.Name, Shape: slices.Clone(o.Dimensions), FP16: o.DataType == ort.TensorElementDataTypeFloat16}
		if len(out.Shape) > 0 && out.Shape[0] <= 0 {
			out.Shape[0] = 1 // dynamic batch: one image
		}
		if dynamic(out.Shape) && i < len(opts.OutputShapes) && len(opts.OutputShapes[i]) > 0 {
			out.Shape = slices.Clone(opts.OutputShapes[i])
		}
		s.Outputs = append(s.Outputs, out)
	}
	if err := s.resolveShapes(dynamicInput, opts); err != nil {
		return nil, fmt.Errorf("model file %s: %w", modelPath, err)
	}
	s.OutputName, s.OutputShape = s.Outputs[0].Name, s.Outputs[0].Shape
	alloc := s.allocate
	if s.MaxBatch > 1 {
		alloc = s.allocateBatch
	}
	if err := alloc(); err != nil {
		s.Close()
		return nil, err
	}
	so, err := newOptions(opts, 0)
	if err != nil {
		s.Close()
		return nil, err
	}
	defer so.Destroy()
	names := make([]string, len(s.Outputs))
	for i, o := range s.Outputs {
		names[i] = o.Name
	}
	if s.batch != nil {
		// Tensors are bound per run (one view per batch size).
		s.batch.dyn, err = ort.NewDynamicAdvancedSession(modelPath, []string{s.InputName}, names, so)
	} else {
		s.sess, err = ort.NewAdvancedSession(modelPath, []string{s.InputName}, names,
			[]ort.Value{s.in}, s.outs, so)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("model file %s: cannot create session: %v", modelPath, err)
	}
	return s, nil
}

func dynamic(shape []int64) bool {
	return slices.ContainsFunc(shape, func(v int64) bool { return v <= 0 })
}

// newOptions makes session options; threads > 0 overrides opts' thread count.
func newOptions(opts Options, threads int) (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	if threads == 0 {
		threads = opts.IntraOpThreads
	}
	if threads > 0 {
		if err := so.SetIntraOpNumThreads(threads); err != nil {
			so.Destroy()
			return nil, err
		}
	}
	// One image at a time: parallel operator execution only adds contention.
	so.SetInterOpNumThreads(1)
	// Intra-op threads keep spinning between runs (ORT's default) unless
	// NoSpin. Turning it off was measured 40-80% slower per inference in a
	// loop of back-to-back runs, and handing idle cores to a parallel
	// letterbox gained nothing while they spin.
	if opts.NoSpin {
		if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			so.Destroy()
			return nil, err
		}
	}
	if opts.CUDA {
		cu, err := ort.NewCUDAProviderOptions()
		if err == nil {
			err = so.AppendExecutionProviderCUDA(cu)
			cu.Destroy()
		}
		if err != nil {
			so.Destroy()
			return nil, fmt.Errorf("CUDA execution provider unavailable: %v", err)
		}
	}
	return so, nil
}

// resolveShapes fills in dynamic output dimensions by running the model once
// on a blank input of the chosen size (shapes such as PicoDet's rewritten
// large-input graphs report -1 everywhere). fp16 outputs must be declared
// instead (see Options.OutputShapes).
func (s *Session) resolveShapes(dynamicInput bool, opts Options) error {
	var names []string
	var idx []int
	for i, o := range s.Outputs {
		if !dynamic(o.Shape) {
			continue
		}
		if o.FP16 {
			return fmt.Errorf("float16 output %q has a dynamic shape %v; declare it (output shape in models/manifest.json)", o.Name, o.Shape)
		}
		names, idx = append(names, o.Name), append(idx, i)
	}
	if len(names) == 0 {
		return nil
	}
	so, err := newOptions(Options{}, 1)
	if err != nil {
		return err
	}
	defer so.Destroy()
	ds, err := ort.NewDynamicAdvancedSession(s.Path, []string{s.InputName}, names, so)
	if err != nil {
		return fmt.Errorf("cannot create a session to find the output shapes: %v", err)
	}
	defer ds.Destroy()
	shape := ort.NewShape(1, 3, int64(s.InputH), int64(s.InputW))
	var in ort.Value
	if s.InputFP16 {
		in, err = ort.NewCustomDataTensor(shape, make([]byte, 2*shape.FlattenedSize()), ort.TensorElementDataTypeFloat16)
	} else {
		in, err = ort.NewEmptyTensor[float32](shape)
	}
	if err != nil {
		return err
	}
	defer in.Destroy()
	res := make([]ort.Value, len(names))
	if err := ds.Run([]ort.Value{in}, res); err != nil {
		return fmt.Errorf("running the model once to find its output shapes at %dx%d: %v", s.InputW, s.InputH, err)
	}
	for j, v := range res {
		if v != nil {
			if t, ok := v.(*ort.Tensor[float32]); ok {
				s.Outputs[idx[j]].Shape = slices.Clone([]int64(t.GetShape()))
			}
			v.Destroy()
		}
	}
	for _, o := range s.Outputs {
		if dynamic(o.Shape) {
			return fmt.Errorf("output %q: shape %v is still unknown after a run", o.Name, o.Shape)
		}
	}
	return nil
}

// allocate creates the input and output tensors. float16 tensors are backed
// by Go memory that Run converts from and to: onnxruntime_go sizes fp16
// tensors it allocates itself wrongly, so every output is pre-allocated here.
func (s *Session) allocate() error {
	inShape := ort.NewShape(1, 3, int64(s.InputH), int64(s.InputW))
	var err error
	if s.InputFP16 {
		s.in16 = make([]uint16, inShape.FlattenedSize())
		s.input = make([]float32, len(s.in16))
		s.in, err = ort.NewCustomDataTensor(inShape, halfBytes(s.in16), ort.TensorElementDataTypeFloat16)
	} else {
		var t *ort.Tensor[float32]
		t, err = ort.NewEmptyTensor[float32](inShape)
		if err == nil {
			s.in, s.input = t, t.GetData()
		}
	}
	if err != nil {
		return err
	}
	for _, o := range s.Outputs {
		shape := ort.NewShape(o.Shape...)
		if o.FP16 {
			h := make([]uint16, shape.FlattenedSize())
			v, err := ort.NewCustomDataTensor(shape, halfBytes(h), ort.TensorElementDataTypeFloat16)
			if err != nil {
				return err
			}
			s.outs = append(s.outs, v)
			s.outData16 = append(s.outData16, h)
			s.outData = append(s.outData, make([]float32, len(h)))
			continue
		}
		t, err := ort.NewEmptyTensor[float32](shape)
		if err != nil {
			return err
		}
		s.outs = append(s.outs, t)
		s.outData16 = append(s.outData16, nil)
		s.outData = append(s.outData, t.GetData())
	}
	return nil
}

// Input is the NCHW input as float32, written before Run (a float16 model's
// input is converted by Run).
func (s *Session) Input() []float32 { return s.input }

// Output is the first output as float32, valid after Run until the next Run.
func (s *Session) Output() []float32 { return s.outData[0] }

// OutputData is every output as float32 in the model's order, valid after Run
// until the next Run. The slice is the session's own; do not modify it.
func (s *Session) OutputData() [][]float32 { return s.outData }

// Run executes the model on Input, writing the outputs.
func (s *Session) Run() error {
	if s.batch != nil {
		return s.RunBatch(1)
	}
	if s.InputFP16 {
		floatsToHalves(s.in16, s.input)
	}
	if err := s.sess.Run(); err != nil {
		return fmt.Errorf("running %s: %w", s.Path, err)
	}
	for i, h := range s.outData16 {
		if h != nil {
			halvesToFloats(s.outData[i], h)
		}
	}
	return nil
}

// Close releases the session and tensors; the Session is unusable afterwards.
func (s *Session) Close() {
	if s.batch != nil {
		// The views below are the batch's; destroy each once.
		s.batch.close()
		s.batch, s.in, s.outs = nil, nil, nil
		defer returnFreedMemory()
	}
	if s.sess != nil {
		s.sess.Destroy()
		s.sess = nil
		defer returnFreedMemory()
	}
	if s.in != nil {
		s.in.Destroy()
		s.in = nil
	}
	for _, o := range s.outs {
		o.Destroy()
	}
	s.outs = nil
}

// readMetadata returns the model's custom metadata map (Ultralytics stores
// imgsz, names and end2end there), or nil when it has none.
func readMetadata(modelPath string) map[string]string {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil
	}
	defer so.Destroy()
	if so.SetIntraOpNumThreads(1) != nil {
		return nil
	}
	md, err := ort.GetModelMetadataWithOptions(modelPath, so)
	if err != nil {
		return nil
	}
	defer md.Destroy()
	keys, _ := md.GetCustomMetadataMapKeys()
	var m map[string]string
	for _, k := range keys {
		if v, ok, err := md.LookupCustomMetadataMap(k); ok && err == nil {
			if m == nil {
				m = map[string]string{}
			}
			m[k] = v
		}
	}
	return m
}

// imgsz reads Ultralytics' "imgsz" metadata, "[640, 640]" (height, width).
func imgsz(meta map[string]string) (w, h int) {
	v := strings.Trim(meta["imgsz"], "[] ")
	a, b, ok := strings.Cut(v, ",")
	if !ok {
		return 0, 0
	}
	hh, err1 := strconv.Atoi(strings.TrimSpace(a))
	ww, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	return ww, hh
}

// inputOutputInfo reads a model's inputs and outputs. onnxruntime_go loads a
// temporary session for that; one intra-op thread keeps it from starting (and
// then tearing down) a thread per core just to answer a question.
func inputOutputInfo(modelPath string) (ins, outs []ort.InputOutputInfo, err error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, nil, err
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(1); err != nil {
		return nil, nil, err
	}
	return ort.GetInputOutputInfoWithOptions(modelPath, so)
}

// unwrapPathError keeps "no such file or directory" without repeating the path.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Describe is a one-line summary for logs.
func (s *Session) Describe() string {
	var b strings.Builder
	for i, o := range s.Outputs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %v", o.Name, o.Shape)
		if o.FP16 {
			b.WriteString(" fp16")
		}
	}
	in := ""
	if s.InputFP16 {
		in = " fp16"
	}
	return fmt.Sprintf("%s (input %s %dx%d%s, output %s)", s.Path, s.InputName, s.InputW, s.InputH, in, b.String())
}
