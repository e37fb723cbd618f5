// Package detector runs an ONNX object detector on video frames: letterbox
// straight from the frame's own format, one ONNX Runtime call, head decoding
// and class-aware NMS. Everything is created once in New; Detect allocates
// nothing in steady state. Used by the reactdetect element and the cloud worker.
//
// What a model needs is settled in New, in this order: the head from its
// outputs (yolo.DetectHead), then what models/manifest.json declares for the
// file (format, input size, preprocessing, threshold), then the caller's
// overrides (Config.Preprocess, Config.ScoreThreshold).
package detector

import (
	"fmt"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/onnx"
	"github.com/gst-react/gst-react/internal/preprocess"
	"github.com/gst-react/gst-react/internal/yolo"
)

// Config selects the model and the decoding thresholds.
type Config struct {
	ModelPath      string
	Threads        int     // ONNX Runtime intra-op threads; 0 = runtime default
	NoSpin         bool    // ONNX Runtime threads sleep between runs (onnx.Options.NoSpin)
	CUDA           bool    // use the CUDA execution provider
	ScoreThreshold float32 // minimum score; 0 = the model's manifest threshold, else 0.3
	NMSThreshold   float32 // IoU above which a same-class box is suppressed
	MaxDetections  int     // 0 = decoder default
	Classes        []int   // keep only these class ids; empty = all
	// Preprocess overrides the model's preprocessing, in preprocess.ParseSpec
	// form ("channels=rgb,scale=1/255"); keys not named keep the model's.
	Preprocess string
	// MaxBatch prepares DetectBatch for up to this many frames per run when
	// the model's batch dimension is dynamic (MaxBatch and BatchNote report
	// what the model allows); 0 or 1: one frame per run.
	MaxBatch int
}

// Timings of the last Detect call.
type Timings struct {
	Preprocess, Inference, Decode time.Duration
}

// Detector is not safe for concurrent use; make one per stream or worker slot.
type Detector struct {
	sess    *onnx.Session
	lb      *preprocess.Letterbox
	dec     *yolo.Decoder
	dets    []detection.Detection
	batch   [][]detection.Detection // DetectBatch's results, one slice per frame
	trs     []preprocess.Transform  // DetectBatch's letterbox transforms
	Last    Timings
	Classes int // number of classes the model's head predicts
	// Model is the manifest entry of the model file, nil for a file the
	// manifest does not know.
	Model *models.Model
}

// New loads the model (onnx.Init must have succeeded) and checks that its
// outputs are a head the decoders understand.
func New(cfg Config) (*Detector, error) {
	entry, _ := models.Embedded().ForFile(cfg.ModelPath)
	opts := onnx.Options{IntraOpThreads: cfg.Threads, NoSpin: cfg.NoSpin, CUDA: cfg.CUDA, MaxBatch: cfg.MaxBatch}
	if entry != nil {
		opts.InputW, opts.InputH = entry.Input.Width, entry.Input.Height
		if sh := entry.Output.Shape; len(sh) > 0 {
			opts.OutputShapes = [][]int64{make([]int64, len(sh))}
			for i, v := range sh {
				opts.OutputShapes[0][i] = int64(v)
			}
		}
	}
	sess, err := onnx.Open(cfg.ModelPath, opts)
	if err != nil {
		return nil, err
	}
	d, err := build(cfg, entry, sess)
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("model file %s: %w", cfg.ModelPath, err)
	}
	return d, nil
}

func build(cfg Config, entry *models.Model, sess *onnx.Session) (*Detector, error) {
	outs := make([]yolo.Tensor, len(sess.Outputs))
	for i, o := range sess.Outputs {
		outs[i] = yolo.Tensor{Name: o.Name, Shape: o.Shape}
	}
	head, err := yolo.DetectHead(outs, sess.InputW, sess.InputH)
	if err != nil {
		return nil, err
	}
	if entry != nil {
		if head, err = head.WithLayout(entry.Output.Layout()); err != nil {
			return nil, err
		}
	}
	for _, c := range cfg.Classes {
		if c < 0 || c >= head.NumClasses {
			return nil, fmt.Errorf("class id %d is outside the model's %d classes", c, head.NumClasses)
		}
	}
	spec := yolo.ReferencePreprocess(head.Layout)
	if entry != nil && entry.Preprocess != "" {
		if spec, err = preprocess.ParseSpec(entry.Preprocess, spec); err != nil {
			return nil, err
		}
	}
	if spec, err = preprocess.ParseSpec(cfg.Preprocess, spec); err != nil {
		return nil, err
	}
	head.ScoreThreshold = cfg.ScoreThreshold
	if head.ScoreThreshold == 0 && entry != nil {
		head.ScoreThreshold = entry.Threshold
	}
	head.NMSThreshold, head.MaxDetections, head.Classes = cfg.NMSThreshold, cfg.MaxDetections, cfg.Classes
	dec, err := yolo.NewDecoder(head)
	if err != nil {
		return nil, err
	}
	if lens := dec.OutputLens(); len(lens) == len(sess.Outputs) {
		for i, o := range sess.OutputData() {
			if len(o) != lens[i] {
				return nil, fmt.Errorf("output %s has %d values, the %s decoder expects %d", sess.Outputs[i].Name, len(o), head.Layout, lens[i])
			}
		}
	}
	lb := preprocess.NewLetterbox(sess.InputW, sess.InputH)
	lb.Spec = spec
	// Only the letterbox writes the session's input tensors.
	lb.ReusePadding = true
	return &Detector{sess: sess, lb: lb, dec: dec, Classes: head.NumClasses, Model: entry}, nil
}

// Layout is the model's head format.
func (d *Detector) Layout() yolo.Layout { return d.dec.Config().Layout }

// Preprocess is the preprocessing in use.
func (d *Detector) Preprocess() preprocess.Spec { return d.lb.Spec }

// ScoreThreshold is the score threshold in use.
func (d *Detector) ScoreThreshold() float32 { return d.dec.Config().ScoreThreshold }

// InputSize is the model's input width and height.
func (d *Detector) InputSize() (w, h int) { return d.sess.InputW, d.sess.InputH }

// Describe summarises the model for logs: file, tensors, format, preprocessing
// and threshold.
func (d *Detector) Describe() string {
	return fmt.Sprintf("%s; format %s, %d classes, preprocessing %s, threshold %g",
		d.sess.Describe(), d.Layout(), d.Classes, d.lb.Spec, d.ScoreThreshold())
}

// Detect returns the detections on f in frame pixels, Source=edge. The slice is
// reused by the next call.
func (d *Detector) Detect(f *frame.Frame) ([]detection.Detection, error) {
	t0 := time.Now()
	tr, err := d.lb.Run(f, d.sess.Input())
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	if err := d.sess.Run(); err != nil {
		return nil, err
	}
	t2 := time.Now()
	d.dets = d.dec.DecodeOutputs(d.sess.OutputData(), tr, f.Width, f.Height, d.dets[:0])
	t3 := time.Now()
	d.Last = Timings{Preprocess: t1.Sub(t0), Inference: t2.Sub(t1), Decode: t3.Sub(t2)}
	return d.dets, nil
}

// MaxBatch is how many frames DetectBatch takes at once.
func (d *Detector) MaxBatch() int { return d.sess.MaxBatch }

// BatchNote says why Config.MaxBatch was not granted ("" when it was, or
// was not asked for).
func (d *Detector) BatchNote() string { return d.sess.BatchNote }

// DetectBatch detects on up to MaxBatch frames in one model run: each frame
// is letterboxed into its own part of the batch input and its boxes decoded
// from its own part of the outputs. Result i is frame i's detections in its
// own pixels, reused by the next call. Last holds the whole batch's timings.
func (d *Detector) DetectBatch(frames []*frame.Frame) ([][]detection.Detection, error) {
	n := len(frames)
	if n < 1 || n > d.sess.MaxBatch {
		return nil, fmt.Errorf("detector: batch of %d frames, the model takes 1..%d", n, d.sess.MaxBatch)
	}
	for len(d.batch) < n {
		d.batch = append(d.batch, nil)
	}
	if len(d.trs) < n {
		d.trs = make([]preprocess.Transform, d.sess.MaxBatch)
	}
	t0 := time.Now()
	for i, f := range frames {
		tr, err := d.lb.Run(f, d.sess.InputAt(i))
		if err != nil {
			return nil, fmt.Errorf("frame %d of the batch: %w", i, err)
		}
		d.trs[i] = tr
	}
	t1 := time.Now()
	if err := d.sess.RunBatch(n); err != nil {
		return nil, err
	}
	t2 := time.Now()
	for i, f := range frames {
		d.batch[i] = d.dec.DecodeOutputs(d.sess.OutputsAt(i), d.trs[i], f.Width, f.Height, d.batch[i][:0])
	}
	d.Last = Timings{Preprocess: t1.Sub(t0), Inference: t2.Sub(t1), Decode: time.Since(t2)}
	return d.batch[:n], nil
}

// SetBT709 selects the YUV matrix used for I420/NV12 frames (GStreamer's
// colorimetry: BT.709 for HD unless caps say otherwise).
func (d *Detector) SetBT709(on bool) {
	if on {
		d.lb.Matrix = preprocess.BT709
	} else {
		d.lb.Matrix = preprocess.BT601
	}
}

// Session exposes the underlying ONNX session (benchmarks compare against a bare Run loop).
func (d *Detector) Session() *onnx.Session { return d.sess }

// Close releases the model.
func (d *Detector) Close() {
	if d.sess != nil {
		d.sess.Close()
		d.sess = nil
	}
}
