// Package gstvideo is the thin cgo layer between GStreamer buffers and the pure-Go
// cores: video geometry from caps, zero-copy frame mapping, a C-level transform_ip
// trampoline for in-place elements, and the metadata gst-react puts on buffers
// (one GstVideoRegionOfInterestMeta per box, plus a small GstReactFrameMeta).
//
// Per-buffer functions here allocate nothing on the Go heap: go-gst's own
// per-buffer dispatch wraps every callback argument in new Go objects (and hands
// BaseTransform methods a nil self), so the hot path bypasses it.
package gstvideo

/*
#cgo pkg-config: gstreamer-1.0 gstreamer-base-1.0 gstreamer-video-1.0
#include <stdlib.h>
#include "gstvideo.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
)

var initOnce sync.Once

// Init registers the quarks and the GstReactFrameMeta; safe to call many times.
// Elements call it from ClassInit.
func Init() { initOnce.Do(func() { C.react_quarks_init() }) }

// CapsString is the sink/src caps of every gst-react video element.
const CapsString = "video/x-raw, format=(string)" + frame.CapsFormatList +
	", width=(int)[ 16, 16384 ], height=(int)[ 16, 16384 ], framerate=(fraction)[ 0/1, 2147483647/1 ]"

// Caps returns CapsString parsed.
func Caps() *gst.Caps { return gst.NewCapsFromString(CapsString) }

// VideoInfo is the negotiated frame geometry.
type VideoInfo struct {
	c      C.ReactVideoInfo
	Format frame.Format
	Width  int
	Height int
	// BT709 is true when YUV frames use the BT.709 matrix (else BT.601).
	BT709 bool
}

var gstFormats = map[C.gint]frame.Format{
	C.GST_VIDEO_FORMAT_RGB: frame.RGB, C.GST_VIDEO_FORMAT_BGR: frame.BGR,
	C.GST_VIDEO_FORMAT_RGBx: frame.RGBx, C.GST_VIDEO_FORMAT_BGRx: frame.BGRx,
	C.GST_VIDEO_FORMAT_xRGB: frame.XRGB, C.GST_VIDEO_FORMAT_xBGR: frame.XBGR,
	C.GST_VIDEO_FORMAT_RGBA: frame.RGBA, C.GST_VIDEO_FORMAT_BGRA: frame.BGRA,
	C.GST_VIDEO_FORMAT_ARGB: frame.ARGB, C.GST_VIDEO_FORMAT_ABGR: frame.ABGR,
	C.GST_VIDEO_FORMAT_I420: frame.I420, C.GST_VIDEO_FORMAT_NV12: frame.NV12,
}

// InfoFromCaps parses fixed raw-video caps. The error says what is unsupported.
func InfoFromCaps(caps *gst.Caps) (VideoInfo, error) {
	var vi VideoInfo
	if caps == nil {
		return vi, fmt.Errorf("no caps")
	}
	if C.react_video_info_from_caps((*C.GstCaps)(unsafe.Pointer(caps.Instance())), &vi.c) == 0 {
		return vi, fmt.Errorf("caps %q are not fixed raw video caps", caps.String())
	}
	f, ok := gstFormats[vi.c.format]
	if !ok {
		return vi, fmt.Errorf("caps %q: unsupported format (supported: %s)", caps.String(), frame.CapsFormatList)
	}
	vi.Format, vi.Width, vi.Height = f, int(vi.c.width), int(vi.c.height)
	vi.BT709 = vi.c.bt709 != 0
	return vi, nil
}

// Buffer is a borrowed GstBuffer pointer, valid for the duration of one
// transform_ip call.
type Buffer struct{ c *C.GstBuffer }

// BufferFromGst wraps a go-gst buffer (tests, appsink callbacks).
func BufferFromGst(b *gst.Buffer) Buffer {
	return Buffer{c: (*C.GstBuffer)(unsafe.Pointer(b.Instance()))}
}

// PTS is the buffer's presentation timestamp in ns, or -1 when unset.
func (b Buffer) PTS() int64 {
	pts := b.c.pts
	if pts == C.GST_CLOCK_TIME_NONE {
		return -1
	}
	return int64(pts)
}

// Mapping is a mapped buffer; reuse one per element to keep the path allocation-free.
type Mapping struct {
	info   C.GstMapInfo
	vinfo  C.ReactVideoInfo
	buf    *C.GstBuffer
	mapped bool
}

// Map maps b (read-only or read-write) and describes it as a frame with vi's
// geometry, honouring a GstVideoMeta on the buffer. The Frame's Data aliases
// the buffer memory: call Unmap before returning it to GStreamer.
func (m *Mapping) Map(b Buffer, vi *VideoInfo, write bool) (frame.Frame, error) {
	m.vinfo = vi.c
	var w C.gboolean
	if write {
		w = 1
	}
	if C.react_buffer_map(b.c, w, &m.info, &m.vinfo) == 0 {
		return frame.Frame{}, fmt.Errorf("cannot map buffer")
	}
	m.buf, m.mapped = b.c, true
	f := frame.Frame{
		Format: vi.Format, Width: vi.Width, Height: vi.Height,
		Data: unsafe.Slice((*byte)(unsafe.Pointer(m.info.data)), int(m.info.size)),
	}
	for i := 0; i < 3; i++ {
		f.Offset[i] = int(m.vinfo.offset[i])
		f.Stride[i] = int(m.vinfo.stride[i])
	}
	if err := f.Validate(); err != nil {
		m.Unmap()
		return frame.Frame{}, err
	}
	return f, nil
}

// Unmap releases the mapping made by Map; safe to call when not mapped.
func (m *Mapping) Unmap() {
	if m.mapped {
		C.react_buffer_unmap(m.buf, &m.info)
		m.mapped, m.buf = false, nil
	}
}

// FrameHandler is implemented by in-place elements that install the C-level
// transform_ip with InstallTransformIP.
type FrameHandler interface {
	HandleBuffer(b Buffer) gst.FlowReturn
}

// InstallTransformIP makes klass (a GstBaseTransform subclass) call the Go
// instance's HandleBuffer for every buffer, in place. Call from ClassInit.
func InstallTransformIP(klass *glib.ObjectClass) {
	C.react_install_transform_ip(C.gpointer(unsafe.Pointer(klass.Instance())))
}

//export gstreactTransformIP
func gstreactTransformIP(trans *C.GstBaseTransform, buf *C.GstBuffer) C.GstFlowReturn {
	h, ok := glib.FromObjectUnsafePrivate(unsafe.Pointer(trans)).(FrameHandler)
	if !ok {
		return C.GST_FLOW_ERROR
	}
	return C.GstFlowReturn(h.HandleBuffer(Buffer{c: buf}))
}

// Labels maps class ids to label strings and their GQuarks (the ROI meta's
// roi_type), computed once so the per-frame path does no string work.
type Labels struct {
	names  []string
	quarks []C.guint32
	byQ    map[C.guint32]string
	other  C.guint32
}

// NewLabels interns every label as a GQuark.
func NewLabels(names []string) *Labels {
	// Room for "object" and a few labels other elements write (labelOf),
	// so that meeting them mid-stream does not grow the map.
	l := &Labels{names: names, quarks: make([]C.guint32, len(names)), byQ: make(map[C.guint32]string, len(names)+16)}
	for i, n := range names {
		cs := C.CString(n)
		q := C.guint32(C.g_quark_from_string(cs))
		C.free(unsafe.Pointer(cs))
		l.quarks[i], l.byQ[q] = q, n
	}
	cs := C.CString("object")
	l.other = C.guint32(C.g_quark_from_string(cs))
	C.free(unsafe.Pointer(cs))
	l.byQ[l.other] = "object"
	return l
}

// Name is the label of class id, or "object" when out of range.
func (l *Labels) Name(class int) string {
	if class >= 0 && class < len(l.names) {
		return l.names[class]
	}
	return "object"
}

// Len is the number of labels.
func (l *Labels) Len() int { return len(l.names) }

func (l *Labels) quark(class int) C.guint32 {
	if class >= 0 && class < len(l.quarks) {
		return l.quarks[class]
	}
	return l.other
}

// labelOf resolves a roi_type quark; foreign labels are interned once.
func (l *Labels) labelOf(q C.guint32) string {
	if s, ok := l.byQ[q]; ok {
		return s
	}
	s := C.GoString(C.g_quark_to_string(C.GQuark(q)))
	l.byQ[q] = s
	return s
}

// ROIs converts between []detection.Detection and ROI metas with reused
// scratch memory. Not safe for concurrent use: one per element instance.
type ROIs struct {
	boxes []C.ReactBox
	dets  []detection.Detection
	names []string
}

// Add attaches one ROI meta per detection to b, labelled via labels.
func (r *ROIs) Add(b Buffer, dets []detection.Detection, labels *Labels, frameNum uint64) {
	if len(dets) == 0 {
		return
	}
	if cap(r.boxes) < len(dets) {
		r.boxes = make([]C.ReactBox, len(dets))
	}
	boxes := r.boxes[:len(dets)]
	for i := range dets {
		d := &dets[i]
		boxes[i] = C.ReactBox{
			x1: C.float(d.Box.X1), y1: C.float(d.Box.Y1), x2: C.float(d.Box.X2), y2: C.float(d.Box.Y2),
			score: C.float(d.Score), class_id: C.gint(d.Class), source: C.gint(d.Source),
			track_id: C.gint(d.TrackID), age: C.gint(d.Age), roi_type: labels.quark(d.Class),
		}
	}
	C.react_add_rois(b.c, &boxes[0], C.gint(len(boxes)), C.guint64(frameNum))
}

// Read returns the ROI metas on b as detections and their label strings (both
// reused slices, valid until the next call).
func (r *ROIs) Read(b Buffer, labels *Labels) ([]detection.Detection, []string) {
	if cap(r.boxes) < 64 {
		// 64 up front for all three, so that frames growing to a busy scene
		// do not allocate one slice at a time mid-stream.
		r.boxes = make([]C.ReactBox, 64)
		r.dets = make([]detection.Detection, 0, 64)
		r.names = make([]string, 0, 64)
	}
	r.boxes = r.boxes[:cap(r.boxes)]
	n := int(C.react_read_rois(b.c, &r.boxes[0], C.gint(len(r.boxes))))
	if n > len(r.boxes) {
		r.boxes = make([]C.ReactBox, n*2)
		n = int(C.react_read_rois(b.c, &r.boxes[0], C.gint(len(r.boxes))))
	}
	r.dets, r.names = r.dets[:0], r.names[:0]
	for i := 0; i < n; i++ {
		c := &r.boxes[i]
		r.dets = append(r.dets, detection.Detection{
			Box:   detection.Rect{X1: float32(c.x1), Y1: float32(c.y1), X2: float32(c.x2), Y2: float32(c.y2)},
			Class: int(c.class_id), Score: float32(c.score), Source: detection.Source(c.source),
			TrackID: int(c.track_id), Age: int(c.age),
		})
		r.names = append(r.names, labels.labelOf(c.roi_type))
	}
	return r.dets, r.names
}

// Remove drops every ROI meta from b and returns how many there were.
func (r *ROIs) Remove(b Buffer) int { return int(C.react_remove_rois(b.c)) }

// SetFrameMeta records the stream frame number and whether a detector ran on it.
func SetFrameMeta(b Buffer, frameNum uint64, detected bool) {
	var d C.gboolean
	if detected {
		d = 1
	}
	C.react_set_frame_meta(b.c, C.guint64(frameNum), d)
}

// FrameCounter numbers frames the way every element downstream of
// reactdetect must agree: the number reactdetect stamped on the frame when
// there is one, else one more than the last frame's.
type FrameCounter struct{ next uint64 }

// Number returns b's frame number and FrameMeta's detected and ok.
func (c *FrameCounter) Number(b Buffer) (frameNum uint64, detected, hasMeta bool) {
	frameNum, detected, hasMeta = FrameMeta(b)
	if !hasMeta {
		frameNum = c.next
	}
	c.next = frameNum + 1
	return frameNum, detected, hasMeta
}

// FrameMeta reads what SetFrameMeta wrote; ok is false when absent.
func FrameMeta(b Buffer) (frameNum uint64, detected, ok bool) {
	info := C.react_get_frame_meta(b.c)
	if info.ok == 0 {
		return 0, false, false
	}
	return uint64(info.frame), info.detected != 0, true
}

// CountROIs is the number of ROI metas on b.
func CountROIs(b Buffer) int { return int(C.react_read_rois(b.c, nil, 0)) }

// Learn records that class id is labelled name on the buffers this element
// sees (e.g. from a custom labels-file upstream), so boxes it re-attaches keep
// that label. Allocates only when a class's label changes.
func (l *Labels) Learn(class int, name string) {
	if class < 0 || class > 1<<16 || name == "" {
		return
	}
	if class < len(l.names) && l.names[class] == name {
		return
	}
	for len(l.names) <= class {
		l.names = append(l.names, "object")
		l.quarks = append(l.quarks, l.other)
	}
	cs := C.CString(name)
	q := C.guint32(C.g_quark_from_string(cs))
	C.free(unsafe.Pointer(cs))
	l.names[class], l.quarks[class], l.byQ[q] = name, q, name
}

// BufferCounter counts the buffers crossing a pad with a probe written in C,
// so reading it and counting cost no Go allocations (for tests that measure
// allocations per frame). The zero value counts nothing until Attach.
type BufferCounter struct{ c *C.gint }

// Attach starts counting buffers on pad. The counter's 4 bytes of C memory
// live as long as the process: it is meant for tests and tools.
func (b *BufferCounter) Attach(pad *gst.Pad) {
	b.c = (*C.gint)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gint(0)))))
	C.react_count_buffers((*C.GstPad)(unsafe.Pointer(pad.Instance())), b.c)
}

// Load is the number of buffers seen so far.
func (b *BufferCounter) Load() int {
	if b.c == nil {
		return 0
	}
	return int(C.g_atomic_int_get(b.c))
}
