// Package onnx wraps one ONNX Runtime session with fixed-size, reused input and
// output tensors: an image model with one float32 [1,3,H,W] input and one
// float32 output. Creating a session is slow; Run is the per-frame call and
// allocates nothing.
package onnx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
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
	// CUDA appends the CUDA execution provider (device 0); it fails clearly when
	// the runtime library was built without it.
	CUDA bool
}

// Session is one loaded model with its reused tensors.
type Session struct {
	Path           string
	InputName      string
	OutputName     string
	InputW, InputH int
	OutputShape    []int64

	in   *ort.Tensor[float32]
	out  *ort.Tensor[float32]
	sess *ort.AdvancedSession
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
	if len(ins) != 1 || len(outs) != 1 {
		return nil, fmt.Errorf("model file %s has %d inputs and %d outputs, want 1 image input and 1 detection output", modelPath, len(ins), len(outs))
	}
	in, out := ins[0], outs[0]
	d := in.Dimensions
	if in.DataType != ort.TensorElementDataTypeFloat || len(d) != 4 || d[1] != 3 || d[2] <= 0 || d[3] <= 0 || (d[0] != 1 && d[0] != -1) {
		return nil, fmt.Errorf("model file %s: input %s, want float32 [1,3,H,W] with fixed H and W", modelPath, in.String())
	}
	for _, v := range out.Dimensions[1:] {
		if v <= 0 {
			return nil, fmt.Errorf("model file %s: output %s has a dynamic dimension, want a fixed shape", modelPath, out.String())
		}
	}
	if out.DataType != ort.TensorElementDataTypeFloat || len(out.Dimensions) != 3 {
		return nil, fmt.Errorf("model file %s: output %s, want float32 [1,N,C] or [1,C,N]", modelPath, out.String())
	}
	s := &Session{Path: modelPath, InputName: in.Name, OutputName: out.Name, InputW: int(d[3]), InputH: int(d[2])}
	s.OutputShape = []int64{1, out.Dimensions[1], out.Dimensions[2]}
	if s.in, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 3, d[2], d[3])); err != nil {
		return nil, err
	}
	if s.out, err = ort.NewEmptyTensor[float32](ort.NewShape(s.OutputShape...)); err != nil {
		s.in.Destroy()
		return nil, err
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		s.Close()
		return nil, err
	}
	defer so.Destroy()
	if opts.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(opts.IntraOpThreads); err != nil {
			s.Close()
			return nil, err
		}
	}
	// One image at a time: parallel operator execution only adds contention.
	so.SetInterOpNumThreads(1)
	// Intra-op threads keep spinning between runs (ORT's default). Turning it
	// off was measured 40-80% slower per inference here, and handing idle
	// cores to a parallel letterbox gained nothing while they spin.
	if opts.CUDA {
		cu, err := ort.NewCUDAProviderOptions()
		if err == nil {
			err = so.AppendExecutionProviderCUDA(cu)
			cu.Destroy()
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("CUDA execution provider unavailable: %v", err)
		}
	}
	s.sess, err = ort.NewAdvancedSession(modelPath, []string{in.Name}, []string{out.Name},
		[]ort.Value{s.in}, []ort.Value{s.out}, so)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("model file %s: cannot create session: %v", modelPath, err)
	}
	return s, nil
}

// Input is the NCHW input tensor's memory, written before Run.
func (s *Session) Input() []float32 { return s.in.GetData() }

// Output is the output tensor's memory, valid after Run until the next Run.
func (s *Session) Output() []float32 { return s.out.GetData() }

// Run executes the model on Input, writing Output.
func (s *Session) Run() error {
	if err := s.sess.Run(); err != nil {
		return fmt.Errorf("running %s: %w", s.Path, err)
	}
	return nil
}

// Close releases the session and tensors; the Session is unusable afterwards.
func (s *Session) Close() {
	if s.sess != nil {
		s.sess.Destroy()
		s.sess = nil
		defer returnFreedMemory()
	}
	if s.in != nil {
		s.in.Destroy()
		s.in = nil
	}
	if s.out != nil {
		s.out.Destroy()
		s.out = nil
	}
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
	return fmt.Sprintf("%s (input %s %dx%d, output %s %v)", s.Path, s.InputName, s.InputW, s.InputH, s.OutputName, s.OutputShape)
}
