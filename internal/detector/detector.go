// Package detector runs an ONNX object detector on video frames: letterbox
// straight from the frame's own format, one ONNX Runtime call, head decoding
// and class-aware NMS. Everything is created once in New; Detect allocates
// nothing in steady state. Used by the reactdetect element and the cloud worker.
package detector

import (
	"fmt"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/onnx"
	"github.com/gst-react/gst-react/internal/preprocess"
	"github.com/gst-react/gst-react/internal/yolo"
)

// Config selects the model and the decoding thresholds.
type Config struct {
	ModelPath      string
	Threads        int     // ONNX Runtime intra-op threads; 0 = runtime default
	CUDA           bool    // use the CUDA execution provider
	ScoreThreshold float32 // minimum obj*class score
	NMSThreshold   float32 // IoU above which a same-class box is suppressed
	MaxDetections  int     // 0 = decoder default
	Classes        []int   // keep only these class ids; empty = all
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
	Last    Timings
	Classes int // number of classes the model's head predicts
}

// New loads the model (onnx.Init must have succeeded) and checks that its
// output is a head the decoder understands.
func New(cfg Config) (*Detector, error) {
	sess, err := onnx.Open(cfg.ModelPath, onnx.Options{IntraOpThreads: cfg.Threads, CUDA: cfg.CUDA})
	if err != nil {
		return nil, err
	}
	layout, ncls, err := yolo.DetectLayout(sess.OutputShape, sess.InputW, sess.InputH)
	if err != nil {
		sess.Close()
		return nil, fmt.Errorf("model file %s: %w", cfg.ModelPath, err)
	}
	for _, c := range cfg.Classes {
		if c < 0 || c >= ncls {
			sess.Close()
			return nil, fmt.Errorf("class id %d is outside the model's %d classes", c, ncls)
		}
	}
	dec, err := yolo.NewDecoder(yolo.Config{
		InputW: sess.InputW, InputH: sess.InputH, Layout: layout, NumClasses: ncls,
		ScoreThreshold: cfg.ScoreThreshold, NMSThreshold: cfg.NMSThreshold,
		MaxDetections: cfg.MaxDetections, Classes: cfg.Classes,
	})
	if err != nil {
		sess.Close()
		return nil, err
	}
	return &Detector{sess: sess, lb: preprocess.NewLetterbox(sess.InputW, sess.InputH), dec: dec, Classes: ncls}, nil
}

// InputSize is the model's input width and height.
func (d *Detector) InputSize() (w, h int) { return d.sess.InputW, d.sess.InputH }

// Describe summarises the model for logs.
func (d *Detector) Describe() string { return d.sess.Describe() }

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
	d.dets = d.dec.Decode(d.sess.Output(), tr, f.Width, f.Height, d.dets[:0])
	t3 := time.Now()
	d.Last = Timings{Preprocess: t1.Sub(t0), Inference: t2.Sub(t1), Decode: t3.Sub(t2)}
	return d.dets, nil
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
