// Package reactdetect is the `reactdetect` element: the REACT edge detector.
// It runs an ONNX detector (YOLOX, YOLOv8, YOLOv5, PicoDet, NanoDet, DETR-style
// or end-to-end head) on every Nth frame and
// attaches one GstVideoRegionOfInterestMeta per box, with a "detection"
// parameter structure (confidence, class-id, source=edge, track-id, age, frame).
// Frames in between pass untouched apart from a GstReactFrameMeta saying the
// detector did not run, so a downstream tracker can tell "no boxes" from
// "not detected".
package reactdetect

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/base"

	"github.com/gst-react/gst-react/elements/shell"
	"github.com/gst-react/gst-react/internal/detector"
	"github.com/gst-react/gst-react/internal/gstvideo"
	"github.com/gst-react/gst-react/internal/labels"
	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/onnx"
	"github.com/gst-react/gst-react/internal/ortlib"
	"github.com/gst-react/gst-react/internal/preprocess"
	"github.com/gst-react/gst-react/internal/yolo"
)

// Name is the element factory name.
const Name = "reactdetect"

var cat = gst.NewDebugCategory(Name, gst.DebugColorNone, "gst-react edge object detector")

// Defaults, declared once and shown by gst-inspect-1.0.
const (
	DefaultInterval     = 5
	DefaultThreshold    = 0.3
	DefaultNMSThreshold = 0.45
	// StatsEvery is how many processed frames separate two "reactdetect-stats" bus messages.
	StatsEvery = 100
)

var props = shell.Props[settings]{
	Defaults: defaultSettings,
	List: []shell.Prop[settings]{
		shell.P(glib.NewStringParam("model-file", "Model file",
			"ONNX detector: a file path or a `gstreact models` name. Heads: "+yolo.Layouts+"; float32 or float16 [1,3,H,W] input. "+
				"Empty: the edge model from the gst-react cache (yolox_nano_416x416, provided by `make setup`)",
			nil, shell.ReadWriteReady),
			func(s *settings) any { return s.modelFile }, func(s *settings, v any) { s.modelFile = v.(string) }),
		shell.P(glib.NewUintParam("interval", "Interval",
			"Run the detector on every Nth frame (1 = every frame); frames in between pass through for a tracker. "+
				"Not used while reactcloud policy=adaptive downstream decides the frames (a warning says so when it was set); it takes over again when the policy goes quiet",
			1, 100000, DefaultInterval, shell.ReadWriteLive),
			func(s *settings) any { return s.interval }, func(s *settings, v any) { s.interval, s.intervalSet = v.(uint), true }),
		shell.P(glib.NewFloat64Param("threshold", "Score threshold",
			"Minimum confidence (objectness x class score) for a box to be kept; 0 = the model's own threshold from models/manifest.json (0.3 for other models)",
			0, 1, DefaultThreshold, shell.ReadWriteReady),
			func(s *settings) any { return s.threshold }, func(s *settings, v any) { s.threshold = v.(float64) }),
		shell.P(glib.NewFloat64Param("nms-threshold", "NMS IoU threshold",
			"Boxes of the same class overlapping more than this IoU are suppressed (class-aware NMS)",
			0, 1, DefaultNMSThreshold, shell.ReadWriteReady),
			func(s *settings) any { return s.nmsThreshold }, func(s *settings, v any) { s.nmsThreshold = v.(float64) }),
		shell.P(glib.NewStringParam("labels-file", "Labels file",
			"Class names, one per line, in the model's class order. Empty: the 80 COCO names",
			nil, shell.ReadWriteReady),
			func(s *settings) any { return s.labelsFile }, func(s *settings, v any) { s.labelsFile = v.(string) }),
		shell.P(glib.NewStringParam("classes", "Classes",
			"Comma-separated class names or ids to keep (e.g. \"person,car\" or \"0,2\"). Empty: all classes",
			nil, shell.ReadWriteReady),
			func(s *settings) any { return s.classes }, func(s *settings, v any) { s.classes = v.(string) }),
		shell.P(glib.NewStringParam("preprocess", "Preprocessing override",
			"Overrides the model's preprocessing (found from its format and models/manifest.json), naming only what differs: "+preprocess.SpecKeys+
				". E.g. \"resize=centred,channels=rgb,scale=1/255\". Empty: the model's own",
			nil, shell.ReadWriteReady),
			func(s *settings) any { return s.preprocess }, func(s *settings, v any) { s.preprocess = v.(string) }),
		shell.P(glib.NewUintParam("threads", "Threads",
			"ONNX Runtime intra-op threads (0 = one per core). Behind a queue that decodes on another thread, one core fewer leaves the decoder its core (gstreact run does so). With interval > 1 they sleep between detections instead of spinning",
			0, 256, 0, shell.ReadWriteReady),
			func(s *settings) any { return s.threads }, func(s *settings, v any) { s.threads = v.(uint) }),
	}}

type settings struct {
	modelFile    string
	interval     uint
	intervalSet  bool // interval was set: warn when an adaptive policy overrides it
	threshold    float64
	nmsThreshold float64
	labelsFile   string
	classes      string
	preprocess   string
	threads      uint
}

func defaultSettings() settings {
	return settings{interval: DefaultInterval, threshold: DefaultThreshold, nmsThreshold: DefaultNMSThreshold}
}

// streaming is the state owned by the streaming thread between Start and Stop.
type streaming struct {
	det      *detector.Detector
	labels   *gstvideo.Labels
	info     gstvideo.VideoInfo
	hasCaps  bool
	frameNum uint64
	mapping  gstvideo.Mapping
	rois     gstvideo.ROIs

	detected   uint64
	boxes      uint64
	sinceStats int
	statsText  shell.StatusText
	inferTotal time.Duration
}

// Element is the Go implementation behind one reactdetect instance.
type Element struct {
	shell.Instance
	mu       sync.Mutex
	settings settings
	state    streaming
	policy   follower
	frames   atomic.Uint64 // frames seen, for FollowPolicy on another thread
}

// follower is what an adaptive policy downstream (reactcloud policy=adaptive)
// asked for: while it speaks, the detector runs on the frames it asks for
// instead of every interval-th frame. Written by FollowPolicy on the
// downstream streaming thread, read by HandleBuffer.
type follower struct {
	active      atomic.Bool
	detect      atomic.Bool   // run on the next frame
	heardAt     atomic.Uint64 // this element's frame count when it last spoke
	maxInterval atomic.Uint64
	warned      atomic.Bool // that a set interval is not used, once per start
}

// FollowPolicy takes a GstReactPolicy event from downstream.
func (e *Element) FollowPolicy(ev gstvideo.PolicyEvent) {
	f := &e.policy
	f.heardAt.Store(e.frames.Load())
	f.maxInterval.Store(uint64(max(1, ev.MaxInterval)))
	if ev.Detect {
		f.detect.Store(true)
	}
	if !f.active.Swap(true) && !f.warned.Load() {
		e.mu.Lock()
		set, interval := e.settings.intervalSet, e.settings.interval
		e.mu.Unlock()
		if set && !f.warned.Swap(true) {
			e.Warning(fmt.Sprintf("reactdetect interval=%d is not used: reactcloud's adaptive policy downstream decides which frames are detected", interval),
				"its base interval comes from reactcloud's max-edge-fps, and max-interval is its floor; the interval takes over again if the policy goes quiet")
		}
	}
}

// followed reports whether the policy decides frame n and, if so, whether
// it asked for a detection. A policy that has not spoken for twice its
// floor is gone (e.g. reactcloud stopped): the interval takes over again.
func (f *follower) followed(n uint64) (decides, detect bool) {
	if !f.active.Load() {
		return false, false
	}
	if n > f.heardAt.Load()+2*f.maxInterval.Load() {
		f.active.Store(false)
		return false, false
	}
	return true, f.detect.Swap(false)
}

// Register adds reactdetect to plugin (nil: register in-process, statically).
func Register(plugin *gst.Plugin) bool {
	return gst.RegisterElement(plugin, Name, gst.RankNone, &Element{}, base.ExtendsBaseTransform)
}

func (e *Element) New() glib.GoObjectSubclass { return &Element{settings: defaultSettings()} }

func (e *Element) ClassInit(klass *glib.ObjectClass) {
	shell.InitVideoFilterClass(klass, shell.Class{
		LongName: "REACT edge detector", Classification: "Filter/Analyzer/Video",
		Description: "Runs an ONNX object detector (YOLOX, YOLOv8, YOLOv5, PicoDet, NanoDet, DETR, end-to-end) on every Nth frame and attaches the boxes as region-of-interest metadata",
	}, props.Specs())
	gstvideo.InstallPolicyFollower(klass)
}

func (e *Element) InstanceInit(o *glib.Object) { e.Set(o) }

func (e *Element) SetProperty(_ *glib.Object, id uint, value *glib.Value) {
	props.Set(&e.mu, &e.settings, id, value)
}

func (e *Element) GetProperty(_ *glib.Object, id uint) *glib.Value {
	return props.Get(&e.mu, &e.settings, id)
}

// Start loads labels and the model; any failure fails the state change with
// an error that names the file and the reason.
func (e *Element) Start(_ *base.GstBaseTransform) bool {
	e.mu.Lock()
	s := e.settings
	e.mu.Unlock()

	names := labels.COCO()
	if s.labelsFile != "" {
		var err error
		if names, err = labels.Load(s.labelsFile); err != nil {
			e.Error(gst.DomainResource, gst.ResourceErrorOpenRead, fmt.Sprintf("Cannot read labels-file: %v", err), "")
			return false
		}
	}
	classes, err := ParseClasses(s.classes, names)
	if err != nil {
		e.Error(gst.DomainResource, gst.ResourceErrorSettings, fmt.Sprintf("Invalid classes property %q: %v", s.classes, err), "")
		return false
	}
	modelPath := s.modelFile
	// A manifest name (picodet_s_416) resolves to its cached file; a path
	// that does not exist falls through to the session's "no such file".
	if p, err := models.Resolve(modelPath); err == nil && modelPath != "" {
		modelPath = p
	}
	if modelPath == "" {
		if modelPath, err = models.DefaultEdgeModel(); err != nil {
			e.Error(gst.DomainResource, gst.ResourceErrorNotFound, fmt.Sprintf("No model-file set and the default edge model is missing: %v", err), "")
			return false
		}
	}
	lib, err := ortlib.Locate()
	if err == nil {
		err = onnx.Init(lib)
	}
	if err != nil {
		e.Error(gst.DomainLibrary, gst.LibraryErrorInit, fmt.Sprintf("Cannot load ONNX Runtime: %v", err), "")
		return false
	}
	det, err := detector.New(detector.Config{
		ModelPath: modelPath, Threads: int(s.threads),
		// Runs k frames apart leave ONNX Runtime's threads idle in between:
		// spinning there would take the core the decoder needs (issue 17).
		NoSpin:         s.interval > 1,
		ScoreThreshold: float32(s.threshold), NMSThreshold: float32(s.nmsThreshold), Classes: classes,
		Preprocess: s.preprocess,
	})
	if err != nil {
		e.Error(gst.DomainResource, gst.ResourceErrorOpenRead, fmt.Sprintf("Cannot load model-file: %v", err), "model-file="+modelPath)
		return false
	}
	if det.Classes != len(names) {
		det.Close()
		e.Error(gst.DomainResource, gst.ResourceErrorSettings,
			fmt.Sprintf("Model %s predicts %d classes but the labels list has %d; set labels-file to a file with one name per model class", modelPath, det.Classes, len(names)), "")
		return false
	}
	e.state = streaming{det: det, labels: gstvideo.NewLabels(names)}
	e.state.statsText.Reserve()
	e.frames.Store(0)
	e.policy.active.Store(false) // a new stream: the policy speaks up again
	e.policy.detect.Store(false)
	e.policy.warned.Store(false)
	cat.LogInfo("loaded " + det.Describe())
	w, h := det.InputSize()
	e.Post("reactdetect-model", map[string]interface{}{
		"model-file": modelPath, "input-width": w, "input-height": h, "classes": det.Classes,
		"format": det.Layout().String(), "preprocess": det.Preprocess().String(), "threshold": float64(det.ScoreThreshold()),
	})
	return true
}

func (e *Element) Stop(_ *base.GstBaseTransform) bool {
	e.state.mapping.Unmap()
	if e.state.det != nil {
		e.state.det.Close()
	}
	e.state = streaming{}
	return true
}

func (e *Element) SetCaps(_ *base.GstBaseTransform, incaps, _ *gst.Caps) bool {
	info, ok := e.VideoInfo(incaps)
	if !ok {
		return false
	}
	e.state.info, e.state.hasCaps = info, true
	if e.state.det != nil {
		e.state.det.SetBT709(info.BT709)
	}
	return true
}

// HandleBuffer is the per-frame path (streaming thread).
func (e *Element) HandleBuffer(b gstvideo.Buffer) gst.FlowReturn {
	st := &e.state
	if !st.hasCaps || st.det == nil {
		return gst.FlowNotNegotiated
	}
	n := st.frameNum
	st.frameNum++
	e.frames.Store(st.frameNum)
	e.mu.Lock()
	interval := uint64(e.settings.interval)
	e.mu.Unlock()
	run := n%interval == 0
	if decides, detect := e.policy.followed(n); decides {
		run = detect
	}
	if !run {
		gstvideo.SetFrameMeta(b, n, false)
		return gst.FlowOK
	}
	f, err := st.mapping.Map(b, &st.info, false)
	if err != nil {
		e.Error(gst.DomainStream, gst.StreamErrorFailed, "Cannot read video frame: "+err.Error(), "")
		return gst.FlowError
	}
	dets, err := st.det.Detect(&f)
	st.mapping.Unmap()
	if err != nil {
		e.Error(gst.DomainStream, gst.StreamErrorFailed, "Detection failed: "+err.Error(), "")
		return gst.FlowError
	}
	st.rois.Add(b, dets, st.labels, n)
	gstvideo.SetFrameMeta(b, n, true)
	st.detected++
	st.boxes += uint64(len(dets))
	st.inferTotal += st.det.Last.Preprocess + st.det.Last.Inference + st.det.Last.Decode
	if st.sinceStats++; st.sinceStats >= StatsEvery {
		e.postStats()
	}
	return gst.FlowOK
}

// Detector is the model loaded between Start and Stop (nil otherwise). Only
// the streaming thread may use it, in a pad probe: gstreact bench times bare
// runs of its session against the element's frames that way.
func (e *Element) Detector() *detector.Detector { return e.state.det }

func (e *Element) postStats() {
	st := &e.state
	// Built as text in a reused buffer: posting from the streaming thread
	// must not allocate (shell.StatusText).
	e.PostText(st.statsText.Begin("reactdetect-stats").
		Uint("frames", st.frameNum).
		Uint("detected-frames", st.detected).
		Uint("boxes", st.boxes).
		Float("mean-detect-ms", float64(st.inferTotal.Microseconds())/1000/float64(st.sinceStats)).
		Float("preprocess-ms", float64(st.det.Last.Preprocess.Microseconds())/1000).
		Float("inference-ms", float64(st.det.Last.Inference.Microseconds())/1000).
		Float("decode-ms", float64(st.det.Last.Decode.Microseconds())/1000).
		Bytes())
	st.sinceStats, st.inferTotal = 0, 0
}

// ParseClasses turns "person,car" or "0,2" into class ids using names.
func ParseClasses(spec string, names []string) ([]int, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	var ids []int
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if id, err := strconv.Atoi(item); err == nil {
			if id < 0 || id >= len(names) {
				return nil, fmt.Errorf("class id %d is out of range 0..%d", id, len(names)-1)
			}
			ids = append(ids, id)
			continue
		}
		found := -1
		for i, n := range names {
			if strings.EqualFold(n, item) {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, fmt.Errorf("unknown class %q (see labels-file, or the COCO names)", item)
		}
		ids = append(ids, found)
	}
	return ids, nil
}
