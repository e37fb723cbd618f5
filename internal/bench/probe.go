package bench

/*
#cgo pkg-config: gstreamer-1.0
#include <stdlib.h>
#include <time.h>
#include <gst/gst.h>

// A buffer probe that records when each buffer passed, entirely in C: it
// allocates nothing on the Go heap and costs a clock read, so it can watch a
// pipeline whose Go allocations are being counted.
typedef struct {
	gint64 n;   // buffers seen (read atomically from Go)
	gint64 cap;
	gint64 *t;  // CLOCK_MONOTONIC ns of buffer i, for i < cap
	GstPad *pad;
	gulong id;
} BenchProbe;

static GstPadProbeReturn bench_probe_cb(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
	BenchProbe *p = data;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	gint64 i = p->n;
	if (i < p->cap) p->t[i] = (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
	__atomic_store_n(&p->n, i + 1, __ATOMIC_RELEASE);
	return GST_PAD_PROBE_OK;
}

static BenchProbe *bench_probe_add(gpointer pad, gint64 cap) {
	BenchProbe *p = calloc(1, sizeof(BenchProbe));
	p->cap = cap;
	p->t = calloc(cap > 0 ? cap : 1, sizeof(gint64));
	p->pad = gst_object_ref(GST_PAD(pad));
	p->id = gst_pad_add_probe(p->pad, GST_PAD_PROBE_TYPE_BUFFER, bench_probe_cb, p, NULL);
	return p;
}

static gint64 bench_probe_count(BenchProbe *p) { return __atomic_load_n(&p->n, __ATOMIC_ACQUIRE); }

static void bench_probe_free(BenchProbe *p) {
	gst_pad_remove_probe(p->pad, p->id);
	gst_object_unref(p->pad);
	free(p->t);
	free(p);
}

static gint64 bench_now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *bench_gst_version(void) { return gst_version_string(); }
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

// probe records the time every buffer crosses one pad.
type probe struct {
	name string // element.pad
	c    *C.BenchProbe
}

func addProbe(p *gst.Pipeline, element, pad string, capacity int) (*probe, error) {
	el, err := p.GetElementByName(element)
	if err != nil {
		return nil, fmt.Errorf("no element named %s: %w", element, err)
	}
	pd := el.GetStaticPad(pad)
	if pd == nil {
		return nil, fmt.Errorf("element %s has no pad %s", element, pad)
	}
	return &probe{name: element + "." + pad, c: C.bench_probe_add(C.gpointer(pd.Unsafe()), C.gint64(capacity))}, nil
}

// count is how many buffers have crossed so far (safe while the pipeline runs).
func (p *probe) count() int { return int(C.bench_probe_count(p.c)) }

// times copies the recorded monotonic times (ns) of the buffers seen, up to the capacity.
func (p *probe) times() []int64 {
	n := min(int(C.bench_probe_count(p.c)), int(p.c.cap))
	out := make([]int64, n)
	copy(out, unsafe.Slice((*int64)(unsafe.Pointer(p.c.t)), n))
	return out
}

func (p *probe) free() {
	if p.c != nil {
		C.bench_probe_free(p.c)
		p.c = nil
	}
}

// monoNow is CLOCK_MONOTONIC in ns, the probes' clock.
func monoNow() int64 { return int64(C.bench_now()) }

// gstVersion is the GStreamer runtime's version string.
func gstVersion() string { return C.GoString(C.bench_gst_version()) }
