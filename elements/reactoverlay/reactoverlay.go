// Package reactoverlay is the `reactoverlay` element: it draws every region of
// interest on the buffer (box, label, score, track id) into the frame in place,
// in the frame's own format. Colour is per class; the outline tells the source:
// solid = edge detector, dashed = tracked, solid with corner marks = cloud.
package reactoverlay

import (
	"sync"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/base"

	"github.com/gst-react/gst-react/elements/shell"
	"github.com/gst-react/gst-react/internal/draw"
	"github.com/gst-react/gst-react/internal/gstvideo"
	"github.com/gst-react/gst-react/internal/labels"
)

// Name is the element factory name.
const Name = "reactoverlay"

var cat = gst.NewDebugCategory(Name, gst.DebugColorNone, "gst-react detection overlay")

// DefaultThickness is the default box line width in pixels.
const DefaultThickness = 2

var props = shell.Props[settings]{
	Defaults: defaultSettings,
	List: []shell.Prop[settings]{
		shell.P(glib.NewUintParam("thickness", "Line thickness",
			"Box outline width in pixels", 1, 16, DefaultThickness, shell.ReadWriteLive),
			func(s *settings) any { return s.thickness }, func(s *settings, v any) { s.thickness = v.(uint) }),
		shell.P(glib.NewBoolParam("show-labels", "Show labels",
			"Draw the label, score and track id above each box (cloud tracks read #c<n>)", true, shell.ReadWriteLive),
			func(s *settings) any { return s.showLabels }, func(s *settings, v any) { s.showLabels = v.(bool) }),
		shell.P(glib.NewFloat64Param("min-score", "Minimum score",
			"Boxes with a lower confidence are not drawn", 0, 1, 0, shell.ReadWriteLive),
			func(s *settings) any { return s.minScore }, func(s *settings, v any) { s.minScore = v.(float64) }),
	}}

type settings struct {
	thickness  uint
	showLabels bool
	minScore   float64
}

type streaming struct {
	info    gstvideo.VideoInfo
	hasCaps bool
	mapping gstvideo.Mapping
	rois    gstvideo.ROIs
	labels  *gstvideo.Labels
	painter *draw.Painter
}

// Element is the Go implementation behind one reactoverlay instance.
type Element struct {
	shell.Instance
	mu       sync.Mutex
	settings settings
	state    streaming
}

// Register adds reactoverlay to plugin (nil: register in-process).
func Register(plugin *gst.Plugin) bool {
	return gst.RegisterElement(plugin, Name, gst.RankNone, &Element{}, base.ExtendsBaseTransform)
}

func defaultSettings() settings { return settings{thickness: DefaultThickness, showLabels: true} }

func (e *Element) New() glib.GoObjectSubclass { return &Element{settings: defaultSettings()} }

func (e *Element) ClassInit(klass *glib.ObjectClass) {
	shell.InitVideoFilterClass(klass, shell.Class{
		LongName: "REACT detection overlay", Classification: "Filter/Effect/Video",
		Description: "Draws region-of-interest boxes with label, score and track id; solid = edge, dashed = tracked, corner marks = cloud",
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
	e.state = streaming{painter: draw.NewPainter(), labels: gstvideo.NewLabels(labels.COCO())}
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
	e.state.info, e.state.hasCaps = info, true
	return true
}

// HandleBuffer draws the buffer's ROIs (streaming thread). Buffers without
// ROIs are not even mapped.
func (e *Element) HandleBuffer(b gstvideo.Buffer) gst.FlowReturn {
	st := &e.state
	if !st.hasCaps || st.painter == nil {
		return gst.FlowNotNegotiated
	}
	dets, names := st.rois.Read(b, st.labels)
	if len(dets) == 0 {
		return gst.FlowOK
	}
	e.mu.Lock()
	s := e.settings
	e.mu.Unlock()
	f, err := st.mapping.Map(b, &st.info, true)
	if err != nil {
		e.Error(gst.DomainStream, gst.StreamErrorFailed, "Cannot map video frame for drawing: "+err.Error(), "")
		return gst.FlowError
	}
	for i := range dets {
		d := &dets[i]
		if float64(d.Score) < s.minScore {
			continue
		}
		if s.showLabels {
			st.painter.Detection(&f, d, names[i], int(s.thickness))
		} else {
			st.painter.Rect(&f, d.Box, draw.ClassColor(d.Class), draw.StyleFor(d.Source), int(s.thickness))
		}
	}
	st.mapping.Unmap()
	return gst.FlowOK
}
