// Package reacttrack is the `reacttrack` element: REACT's edge tracker. On
// frames where reactdetect ran it (re)seeds tracks (Median Flow or KCF) from the fresh
// boxes and gives them stable track ids; on the frames in between it moves the
// previous boxes to the new frame and marks them source=tracked with their age
// in frames. A box the tracker loses coasts on with its velocity while its
// score decays (coast-decay), until tracking holds again or it is dropped.
package reacttrack

import (
	"sync"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/base"

	"github.com/gst-react/gst-react/elements/shell"
	"github.com/gst-react/gst-react/internal/fusion"
	"github.com/gst-react/gst-react/internal/gstvideo"
	"github.com/gst-react/gst-react/internal/labels"
	"github.com/gst-react/gst-react/internal/tracker"
)

// Name is the element factory name.
const Name = "reacttrack"

var cat = gst.NewDebugCategory(Name, gst.DebugColorNone, "gst-react tracker (Median Flow or KCF)")

var defaults = tracker.DefaultConfig()

var props = shell.Props[settings]{
	Defaults:       defaultSettings,
	EmptyIsDefault: map[string]bool{"tracker": true},
	List: []shell.Prop[settings]{
		shell.P(glib.NewUintParam("scale", "Tracking scale",
			"Track on a grey image downscaled by this integer factor (0 = auto: the largest factor keeping at least 480 columns)",
			0, 16, 0, shell.ReadWriteReady),
			func(s *settings) any { return s.scale }, func(s *settings, v any) { s.scale = v.(uint) }),
		shell.P(glib.NewStringParam("tracker", "Tracker",
			"How boxes move between detections: medianflow (Lucas-Kanade on a grid of points in the box, forward-backward checked) or kcf (a kernelized correlation filter on a grey template, trained on each detection); grid-size, levels and max-fb-error apply to medianflow",
			shell.Ptr(tracker.DefaultMethod.String()), shell.ReadWriteReady),
			func(s *settings) any { return s.tracker }, func(s *settings, v any) { s.tracker = v.(string) }),
		shell.P(glib.NewUintParam("grid-size", "Grid size",
			"Points per box side that Median Flow follows (grid-size x grid-size points per object)",
			3, 32, uint(defaults.GridSize), shell.ReadWriteReady),
			func(s *settings) any { return s.gridSize }, func(s *settings, v any) { s.gridSize = v.(uint) }),
		shell.P(glib.NewUintParam("levels", "Pyramid levels",
			"Lucas-Kanade pyramid levels: more follow faster motion (3 levels: about 15 px per frame at tracking scale)",
			1, 6, uint(defaults.Levels), shell.ReadWriteReady),
			func(s *settings) any { return s.levels }, func(s *settings, v any) { s.levels = v.(uint) }),
		shell.P(glib.NewFloat64Param("max-fb-error", "Maximum forward-backward error",
			"A track is lost when its points' median forward-backward error exceeds this (pixels at tracking scale)",
			0.1, 100, float64(defaults.MaxFBError), shell.ReadWriteReady),
			func(s *settings) any { return s.maxFB }, func(s *settings, v any) { s.maxFB = v.(float64) }),
		shell.P(glib.NewFloat64Param("iou-threshold", "Association IoU",
			"A fresh detection keeps an existing track's id when their boxes overlap at least this much",
			0.01, 1, float64(defaults.MatchIoU), shell.ReadWriteReady),
			func(s *settings) any { return s.matchIoU }, func(s *settings, v any) { s.matchIoU = v.(float64) }),
		shell.P(glib.NewFloat64Param("coast-decay", "Coasting score decay",
			"A box the tracker loses moves on with its velocity and its score is multiplied by this every frame until tracking holds again or the score is below 0.05 (0 = drop lost boxes at once)",
			0, 0.99, fusion.Decimal(defaults.CoastDecay), shell.ReadWriteReady),
			func(s *settings) any { return s.coastDecay }, func(s *settings, v any) { s.coastDecay = v.(float64) }),
		shell.P(glib.NewFloat64Param("keep-occluded", "Keep occluded tracks",
			"Median Flow: on a detection frame a track no detection matched is kept, coasting, when at least this fraction of its box lies inside a detection's box (someone in front hides it; 0 = drop them all)",
			0, 1, fusion.Decimal(defaults.KeepOccluded), shell.ReadWriteReady),
			func(s *settings) any { return s.keepOccluded }, func(s *settings, v any) { s.keepOccluded = v.(float64) }),
		shell.P(glib.NewFloat64Param("velocity-check", "Velocity check",
			"Median Flow: a tracking step that moves a box against the direction its last two detections moved, off their velocity by more than this fraction of the box width per frame, moves it with that velocity instead (someone crossing took the tracked points; 0 = off)",
			0, 0.99, fusion.Decimal(defaults.VelocityCheck), shell.ReadWriteReady),
			func(s *settings) any { return s.velocityCheck }, func(s *settings, v any) { s.velocityCheck = v.(float64) }),
		shell.P(glib.NewBoolParam("follow-scale", "Follow scale",
			"Let boxes grow and shrink with the tracked points (Median Flow's zoom); off: boxes keep their size between detections and only their centre moves, which measured better on walking people",
			defaults.FollowScale, shell.ReadWriteReady),
			func(s *settings) any { return s.followScale }, func(s *settings, v any) { s.followScale = v.(bool) }),
	}}

type settings struct {
	tracker       string
	scale         uint
	gridSize      uint
	levels        uint
	maxFB         float64
	matchIoU      float64
	coastDecay    float64
	velocityCheck float64
	keepOccluded  float64
	followScale   bool
}

type streaming struct {
	info      gstvideo.VideoInfo
	hasCaps   bool
	scale     int
	levels    int
	tracks    *tracker.Tracks
	pyr       tracker.Pyramid
	mapping   gstvideo.Mapping
	rois      gstvideo.ROIs
	labels    *gstvideo.Labels
	frames    gstvideo.FrameCounter
	lost      uint64
	seeded    uint64
	lastCount int
}

// Element is the Go implementation behind one reacttrack instance.
type Element struct {
	shell.Instance
	mu       sync.Mutex
	settings settings
	state    streaming
}

// Register adds reacttrack to plugin (nil: register in-process).
func Register(plugin *gst.Plugin) bool {
	return gst.RegisterElement(plugin, Name, gst.RankNone, &Element{}, base.ExtendsBaseTransform)
}

func defaultSettings() settings {
	return settings{
		tracker:  tracker.DefaultMethod.String(),
		gridSize: uint(defaults.GridSize), levels: uint(defaults.Levels),
		maxFB: float64(defaults.MaxFBError), matchIoU: float64(defaults.MatchIoU),
		coastDecay: fusion.Decimal(defaults.CoastDecay), followScale: defaults.FollowScale,
		velocityCheck: fusion.Decimal(defaults.VelocityCheck), keepOccluded: fusion.Decimal(defaults.KeepOccluded),
	}
}

func (e *Element) New() glib.GoObjectSubclass { return &Element{settings: defaultSettings()} }

func (e *Element) ClassInit(klass *glib.ObjectClass) {
	shell.InitVideoFilterClass(klass, shell.Class{
		LongName: "REACT tracker", Classification: "Filter/Analyzer/Video",
		Description: "Carries detection boxes onto frames without fresh detections (Median Flow or KCF) and assigns track ids",
	}, props.Specs())
}

func (e *Element) InstanceInit(o *glib.Object) { e.Set(o) }

func (e *Element) SetProperty(_ *glib.Object, id uint, value *glib.Value) {
	props.Set(&e.mu, &e.settings, id, value)
}

func (e *Element) GetProperty(_ *glib.Object, id uint) *glib.Value {
	return props.Get(&e.mu, &e.settings, id)
}

func (e *Element) Start(_ *base.GstBaseTransform) bool {
	e.mu.Lock()
	s := e.settings
	e.mu.Unlock()
	cfg := tracker.DefaultConfig()
	cfg.GridSize, cfg.Levels = int(s.gridSize), int(s.levels)
	cfg.MaxFBError, cfg.MatchIoU = float32(s.maxFB), float32(s.matchIoU)
	cfg.CoastDecay, cfg.NoCoast = float32(s.coastDecay), s.coastDecay == 0
	cfg.VelocityCheck, cfg.NoVelocityCheck = float32(s.velocityCheck), s.velocityCheck == 0
	cfg.KeepOccluded, cfg.NoKeepOccluded = float32(s.keepOccluded), s.keepOccluded == 0
	cfg.FollowScale = s.followScale
	method, err := tracker.ParseMethod(s.tracker)
	if err != nil {
		e.Error(gst.DomainLibrary, gst.LibraryErrorSettings, "Invalid reacttrack tracker property: "+err.Error(), "")
		return false
	}
	cfg.Method = method
	e.state = streaming{tracks: tracker.NewTracks(cfg), scale: int(s.scale), levels: int(s.levels),
		labels: gstvideo.NewLabels(labels.COCO())}
	return true
}

func (e *Element) Stop(_ *base.GstBaseTransform) bool {
	e.state.mapping.Unmap()
	e.state = streaming{}
	return true
}

func (e *Element) SetCaps(_ *base.GstBaseTransform, incaps, _ *gst.Caps) bool {
	info, ok := e.VideoInfo(incaps)
	if !ok {
		return false
	}
	st := &e.state
	st.info, st.hasCaps = info, true
	e.mu.Lock()
	st.scale = int(e.settings.scale)
	e.mu.Unlock()
	if st.scale == 0 {
		st.scale = AutoScale(info.Width)
	}
	if st.tracks != nil {
		st.tracks.Reset() // new geometry: old boxes mean nothing
	}
	return true
}

// AutoScale is the largest integer downscale keeping at least 480 columns:
// Median Flow is accurate at that size and costs little.
func AutoScale(width int) int { return max(1, width/480) }

// HandleBuffer tracks on the streaming thread.
func (e *Element) HandleBuffer(b gstvideo.Buffer) gst.FlowReturn {
	st := &e.state
	if !st.hasCaps || st.tracks == nil {
		return gst.FlowNotNegotiated
	}
	frameNum, detected, hasMeta := st.frames.Number(b)
	dets, names := st.rois.Read(b, st.labels)
	// Without reactdetect upstream, any boxes on the frame count as fresh detections.
	if !hasMeta {
		detected = len(dets) > 0
	}
	for i := range dets {
		st.labels.Learn(dets[i].Class, names[i])
	}
	f, err := st.mapping.Map(b, &st.info, false)
	if err != nil {
		e.Error(gst.DomainStream, gst.StreamErrorFailed, "Cannot read video frame: "+err.Error(), "")
		return gst.FlowError
	}
	err = st.pyr.Build(&f, st.scale, st.levels)
	st.mapping.Unmap()
	if err != nil {
		e.Error(gst.DomainStream, gst.StreamErrorFailed, "Cannot build the tracking image: "+err.Error(), "")
		return gst.FlowError
	}
	if detected {
		out := st.tracks.Update(dets, &st.pyr)
		st.rois.Remove(b)
		st.rois.Add(b, out, st.labels, frameNum)
		st.seeded++
		st.lastCount = len(out)
		return gst.FlowOK
	}
	before := st.tracks.Len()
	out := st.tracks.Step(&st.pyr)
	st.lost += uint64(before - len(out))
	st.lastCount = len(out)
	st.rois.Add(b, out, st.labels, frameNum)
	return gst.FlowOK
}
