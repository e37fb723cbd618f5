// Package gstbridge moves buffers from an appsink in one pipeline to appsrcs
// in others, in C on the streaming thread (no Go per frame). gst-react uses
// it twice: the reconnecting input (a capture pipeline that is torn down and
// rebuilt on every reconnect feeds the long-lived analysis pipeline), and the
// RTSP output (the analysis pipeline's encoded stream feeds every RTSP media
// that clients are watching).
//
// Each buffer is re-stamped with the running time of the target's pipeline at
// the moment it is handed over, so the pipelines need not share a clock or a
// base time, and a gap in the source is a gap in time, nothing else. A target
// gets the caps of the first sample the bridge saw (the downstream pipeline
// keeps one format across reconnects), and, for compressed streams, nothing
// until the first key frame after it was added.
package gstbridge

/*
#cgo pkg-config: gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>

typedef struct {
	GstAppSrc *src;
	gboolean need_key;
} Target;

typedef struct {
	gint ref;
	GMutex lock;
	GArray *targets;
	guint gen;
	gint64 last_us;
	guint64 samples, gen_samples, pushed;
	GstCaps *caps;
	GstBuffer *last;
	guint64 repeats;
	GstElement *sink;
	gboolean forward_eos;
	guint key_seq;
} Bridge;

typedef struct {
	Bridge *b;
	guint gen;
} Attach;

static Bridge *br_new(gboolean forward_eos) {
	Bridge *b = g_new0(Bridge, 1);
	b->ref = 1;
	g_mutex_init(&b->lock);
	b->targets = g_array_new(FALSE, TRUE, sizeof(Target));
	b->forward_eos = forward_eos;
	return b;
}

static Bridge *br_ref(Bridge *b) { g_atomic_int_inc(&b->ref); return b; }

static void br_unref(Bridge *b) {
	if (!g_atomic_int_dec_and_test(&b->ref)) return;
	for (guint i = 0; i < b->targets->len; i++) gst_object_unref(g_array_index(b->targets, Target, i).src);
	g_array_free(b->targets, TRUE);
	if (b->caps) gst_caps_unref(b->caps);
	if (b->last) gst_buffer_unref(b->last);
	if (b->sink) gst_object_unref(b->sink);
	g_mutex_clear(&b->lock);
	g_free(b);
}

// br_targets copies the targets that take buf (refs) into out; returns how many.
static guint br_targets(Bridge *b, GstBuffer *buf, GstAppSrc **out, guint max) {
	guint n = 0;
	gboolean delta = GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
	for (guint i = 0; i < b->targets->len && n < max; i++) {
		Target *t = &g_array_index(b->targets, Target, i);
		if (t->need_key) {
			if (delta) continue;
			t->need_key = FALSE;
		}
		out[n++] = gst_object_ref(t->src);
	}
	return n;
}

static void br_push(Bridge *b, GstAppSrc *src, GstBuffer *buf, GstCaps *caps) {
	GstCaps *cur = gst_app_src_get_caps(src);
	if (cur) gst_caps_unref(cur);
	else if (caps) gst_app_src_set_caps(src, caps);
	GstBuffer *c = gst_buffer_copy(buf); // shares the memory
	GstClockTime ts = GST_CLOCK_TIME_NONE;
	GstClock *clk = gst_element_get_clock(GST_ELEMENT(src));
	if (clk) {
		GstClockTime now = gst_clock_get_time(clk), base = gst_element_get_base_time(GST_ELEMENT(src));
		ts = now > base ? now - base : 0;
		gst_object_unref(clk);
	}
	GST_BUFFER_PTS(c) = ts;
	GST_BUFFER_DTS(c) = ts;
	GST_BUFFER_DURATION(c) = GST_CLOCK_TIME_NONE;
	GST_BUFFER_OFFSET(c) = GST_BUFFER_OFFSET_NONE;
	GST_BUFFER_OFFSET_END(c) = GST_BUFFER_OFFSET_NONE;
	gst_app_src_push_buffer(src, c);
}

#define BR_MAX_TARGETS 64

static GstFlowReturn br_new_sample(GstAppSink *sink, gpointer user) {
	Attach *a = user;
	Bridge *b = a->b;
	GstSample *s = gst_app_sink_pull_sample(sink);
	if (!s) return GST_FLOW_FLUSHING;
	GstBuffer *buf = gst_sample_get_buffer(s);
	GstAppSrc *srcs[BR_MAX_TARGETS];
	guint n = 0;
	GstCaps *caps = NULL;
	g_mutex_lock(&b->lock);
	if (a->gen == b->gen && buf) {
		b->last_us = g_get_monotonic_time();
		b->samples++;
		b->gen_samples++;
		if (!b->caps && gst_sample_get_caps(s)) b->caps = gst_caps_ref(gst_sample_get_caps(s));
		if (b->caps) caps = gst_caps_ref(b->caps);
		gst_buffer_replace(&b->last, buf);
		n = br_targets(b, buf, srcs, BR_MAX_TARGETS);
		b->pushed += n;
	}
	g_mutex_unlock(&b->lock);
	for (guint i = 0; i < n; i++) {
		br_push(b, srcs[i], buf, caps);
		gst_object_unref(srcs[i]);
	}
	if (caps) gst_caps_unref(caps);
	gst_sample_unref(s);
	return GST_FLOW_OK;
}

// br_repeat pushes the last sample again (new timestamps): a source that is
// down keeps the targets' streams alive with its last picture.
static gboolean br_repeat(Bridge *b) {
	GstAppSrc *srcs[BR_MAX_TARGETS];
	guint n = 0;
	GstBuffer *buf = NULL;
	GstCaps *caps = NULL;
	g_mutex_lock(&b->lock);
	if (b->last) {
		buf = gst_buffer_ref(b->last);
		if (b->caps) caps = gst_caps_ref(b->caps);
		n = br_targets(b, buf, srcs, BR_MAX_TARGETS);
		b->repeats++;
	}
	g_mutex_unlock(&b->lock);
	for (guint i = 0; i < n; i++) {
		br_push(b, srcs[i], buf, caps);
		gst_object_unref(srcs[i]);
	}
	if (caps) gst_caps_unref(caps);
	if (buf) gst_buffer_unref(buf);
	return buf != NULL;
}

static void br_end(Bridge *b) {
	GstAppSrc *srcs[BR_MAX_TARGETS];
	guint n = 0;
	g_mutex_lock(&b->lock);
	for (guint i = 0; i < b->targets->len && n < BR_MAX_TARGETS; i++)
		srcs[n++] = gst_object_ref(g_array_index(b->targets, Target, i).src);
	g_mutex_unlock(&b->lock);
	for (guint i = 0; i < n; i++) {
		gst_app_src_end_of_stream(srcs[i]);
		gst_object_unref(srcs[i]);
	}
}

static void br_eos(GstAppSink *sink, gpointer user) {
	Attach *a = user;
	gboolean fwd;
	g_mutex_lock(&a->b->lock);
	fwd = a->b->forward_eos && a->gen == a->b->gen;
	g_mutex_unlock(&a->b->lock);
	if (fwd) br_end(a->b);
}

static void br_attach_free(gpointer p) {
	Attach *a = p;
	br_unref(a->b);
	g_free(a);
}

static void br_attach(Bridge *b, GstElement *sink) {
	Attach *a = g_new0(Attach, 1);
	a->b = br_ref(b);
	g_mutex_lock(&b->lock);
	a->gen = ++b->gen;
	b->gen_samples = 0;
	if (b->sink) gst_object_unref(b->sink);
	b->sink = gst_object_ref(sink);
	g_mutex_unlock(&b->lock);
	GstAppSinkCallbacks cbs;
	memset(&cbs, 0, sizeof cbs);
	cbs.eos = br_eos;
	cbs.new_sample = br_new_sample;
	gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cbs, a, br_attach_free);
}

static void br_invalidate(Bridge *b) {
	g_mutex_lock(&b->lock);
	b->gen++;
	if (b->sink) gst_object_unref(b->sink);
	b->sink = NULL;
	g_mutex_unlock(&b->lock);
}

static void br_add(Bridge *b, GstElement *src) {
	Target t = { GST_APP_SRC(gst_object_ref(src)), TRUE };
	g_mutex_lock(&b->lock);
	if (b->targets->len < BR_MAX_TARGETS) g_array_append_val(b->targets, t);
	else gst_object_unref(src);
	g_mutex_unlock(&b->lock);
}

static void br_remove(Bridge *b, GstElement *src) {
	GstAppSrc *gone = NULL;
	g_mutex_lock(&b->lock);
	for (guint i = 0; i < b->targets->len; i++) {
		if ((GstElement *)g_array_index(b->targets, Target, i).src == src) {
			gone = g_array_index(b->targets, Target, i).src;
			g_array_remove_index(b->targets, i);
			break;
		}
	}
	g_mutex_unlock(&b->lock);
	if (gone) gst_object_unref(gone);
}

// br_clear drops every target (the bridge is closed: appsinks still attached
// may keep it alive for a while, but no viewer's appsrc with it).
static void br_clear(Bridge *b) {
	g_mutex_lock(&b->lock);
	GArray *old = b->targets;
	b->targets = g_array_new(FALSE, TRUE, sizeof(Target));
	g_mutex_unlock(&b->lock);
	for (guint i = 0; i < old->len; i++) gst_object_unref(g_array_index(old, Target, i).src);
	g_array_free(old, TRUE);
}

static void br_keyframe(Bridge *b) {
	GstElement *sink = NULL;
	guint seq;
	g_mutex_lock(&b->lock);
	if (b->sink) sink = gst_object_ref(b->sink);
	seq = ++b->key_seq;
	g_mutex_unlock(&b->lock);
	if (!sink) return;
	GstPad *pad = gst_element_get_static_pad(sink, "sink");
	if (pad) {
		gst_pad_push_event(pad, gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, seq));
		gst_object_unref(pad);
	}
	gst_object_unref(sink);
}

typedef struct {
	guint64 samples, gen_samples, pushed, repeats;
	gint64 since_us; // -1: no sample yet
} BrStats;

static BrStats br_stats(Bridge *b) {
	BrStats s;
	g_mutex_lock(&b->lock);
	s.samples = b->samples;
	s.gen_samples = b->gen_samples;
	s.pushed = b->pushed;
	s.repeats = b->repeats;
	s.since_us = b->last_us ? g_get_monotonic_time() - b->last_us : -1;
	g_mutex_unlock(&b->lock);
	return s;
}

static gchar *br_caps(Bridge *b) {
	gchar *s = NULL;
	g_mutex_lock(&b->lock);
	if (b->caps) s = gst_caps_to_string(b->caps);
	g_mutex_unlock(&b->lock);
	return s;
}
*/
import "C"

import (
	"sync"
	"time"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

// Bridge carries buffers from the appsink it is attached to into its targets.
type Bridge struct {
	// mu is held (read) across each C call, so Close cannot free the C
	// bridge under one.
	mu sync.RWMutex
	c  *C.Bridge
}

// New makes a bridge. forwardEOS: an EOS at the attached appsink ends every
// target's stream (the RTSP output); false keeps the targets open across the
// end of one source (the reconnecting input).
func New(forwardEOS bool) *Bridge {
	fwd := C.gboolean(0)
	if forwardEOS {
		fwd = 1
	}
	return &Bridge{c: C.br_new(fwd)}
}

// with runs f on the C bridge unless it is closed; false if it was.
func (b *Bridge) with(f func(c *C.Bridge)) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.c == nil {
		return false
	}
	f(b.c)
	return true
}

// Attach makes appsink (an appsink element) the bridge's source; samples of a
// previously attached appsink are dropped from now on.
func (b *Bridge) Attach(appsink *gst.Element) {
	b.with(func(c *C.Bridge) { C.br_attach(c, (*C.GstElement)(appsink.Unsafe())) })
}

// Invalidate drops whatever the attached appsink still delivers (a source
// pipeline being torn down).
func (b *Bridge) Invalidate() {
	b.with(func(c *C.Bridge) { C.br_invalidate(c) })
}

// AddTarget adds an appsrc element (as a GstElement pointer, the bridge takes
// a reference).
func (b *Bridge) AddTarget(appsrc unsafe.Pointer) {
	b.with(func(c *C.Bridge) { C.br_add(c, (*C.GstElement)(appsrc)) })
}

// AddTargetElement adds an appsrc element.
func (b *Bridge) AddTargetElement(appsrc *gst.Element) { b.AddTarget(appsrc.Unsafe()) }

// RemoveTarget drops an appsrc added before.
func (b *Bridge) RemoveTarget(appsrc unsafe.Pointer) {
	b.with(func(c *C.Bridge) { C.br_remove(c, (*C.GstElement)(appsrc)) })
}

// RequestKeyFrame asks the encoder upstream of the attached appsink for a key
// frame (a force-key-unit event), so a new viewer starts decoding at once.
func (b *Bridge) RequestKeyFrame() {
	b.with(func(c *C.Bridge) { C.br_keyframe(c) })
}

// Repeat pushes the last sample again into every target, stamped now; false
// when there is none yet.
func (b *Bridge) Repeat() bool {
	pushed := false
	b.with(func(c *C.Bridge) { pushed = C.br_repeat(c) != 0 })
	return pushed
}

// Stats of a bridge.
type Stats struct {
	Samples    uint64        // samples received, all attachments
	GenSamples uint64        // samples from the current attachment
	Pushed     uint64        // buffers handed to targets
	Repeats    uint64        // Repeat calls that pushed
	SinceLast  time.Duration // since the last sample; <0 when none yet
}

// Stats reads the counters.
func (b *Bridge) Stats() Stats {
	var s C.BrStats
	if !b.with(func(c *C.Bridge) { s = C.br_stats(c) }) {
		return Stats{SinceLast: -1}
	}
	st := Stats{Samples: uint64(s.samples), GenSamples: uint64(s.gen_samples), Pushed: uint64(s.pushed), Repeats: uint64(s.repeats), SinceLast: -1}
	if s.since_us >= 0 {
		st.SinceLast = time.Duration(s.since_us) * time.Microsecond
	}
	return st
}

// Caps is the caps of the first sample, serialised ("" before any).
func (b *Bridge) Caps() string {
	var s *C.gchar
	b.with(func(c *C.Bridge) { s = C.br_caps(c) })
	if s == nil {
		return ""
	}
	defer C.g_free(C.gpointer(s))
	return C.GoString(s)
}

// Close releases the bridge and its targets; appsinks still attached keep
// the C bridge alive until they are disposed of, but deliver nothing.
func (b *Bridge) Close() {
	b.mu.Lock()
	c := b.c
	b.c = nil
	b.mu.Unlock()
	if c != nil {
		C.br_invalidate(c)
		C.br_clear(c)
		C.br_unref(c)
	}
}
