// Package shell holds what every gst-react element shell needs from go-gst
// v1.4.0 beyond its bindings: the element's own instance pointer (BaseTransform
// virtual methods receive a nil self), bus messages, and GStreamer's
// "mutable in state" property flags.
package shell

/*
#cgo pkg-config: gstreamer-1.0
#include <stdlib.h>
#include <gst/gst.h>

static void
shell_post_error (GstElement * e, GQuark domain, gint code, const char * text, const char * debug)
{
  gst_element_message_full (e, GST_MESSAGE_ERROR, domain, code, g_strdup (text),
      g_strdup (debug), __FILE__, "shell_post_error", __LINE__);
}

static gboolean
shell_post_structure (GstElement * e, const char * text, gsize len)
{
  gchar *copy = g_strndup (text, len);
  GstStructure *s = gst_structure_from_string (copy, NULL);
  g_free (copy);
  if (s == NULL)
    return FALSE;
  return gst_element_post_message (e, gst_message_new_element (GST_OBJECT (e), s));
}
*/
import "C"

import (
	"strconv"
	"unsafe"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/gstvideo"
)

// Property flags from gstparamspecs.h, which go-glib does not expose.
const (
	MutableReady   glib.ParameterFlags = 1 << (8 + 2) // changeable in NULL or READY
	MutablePlaying glib.ParameterFlags = 1 << (8 + 4) // changeable in any state

	// ReadWriteReady is a property applied when the element next starts.
	ReadWriteReady = glib.ParameterReadWrite | MutableReady
	// ReadWriteLive is a property applied to the next frame.
	ReadWriteLive = glib.ParameterReadWrite | MutablePlaying
)

// Instance remembers the GObject behind a Go element implementation.
type Instance struct{ ptr unsafe.Pointer }

// Set is called from InstanceInit. No reference is taken: the Go
// implementation lives exactly as long as its GObject.
func (i *Instance) Set(o *glib.Object) { i.ptr = o.Unsafe() }

// Element is the GstElement; nil before InstanceInit.
func (i *Instance) Element() *gst.Element {
	if i.ptr == nil {
		return nil
	}
	return gst.FromGstElementUnsafeNone(i.ptr)
}

var domainQuarks = map[gst.Domain]func() C.GQuark{
	gst.DomainCore:     func() C.GQuark { return C.gst_core_error_quark() },
	gst.DomainLibrary:  func() C.GQuark { return C.gst_library_error_quark() },
	gst.DomainResource: func() C.GQuark { return C.gst_resource_error_quark() },
	gst.DomainStream:   func() C.GQuark { return C.gst_stream_error_quark() },
}

// VideoInfo reads negotiated caps for SetCaps; caps the elements cannot
// handle post an error naming what is wrong and return ok=false.
func (i *Instance) VideoInfo(caps *gst.Caps) (info gstvideo.VideoInfo, ok bool) {
	info, err := gstvideo.InfoFromCaps(caps)
	if err != nil {
		i.Error(gst.DomainStream, gst.StreamErrorFormat, "Unsupported caps: "+err.Error(), "")
		return info, false
	}
	return info, true
}

// Error posts a GStreamer error (fails the pipeline), e.g. an unreadable model.
// text is what gst-launch shows the user; debug adds detail. (go-gst v1.4.0's
// ErrorMessage posts debug in place of text, so this goes through C.)
func (i *Instance) Error(domain gst.Domain, code gst.ErrorCode, text, debug string) {
	if i.ptr == nil {
		return
	}
	q, ok := domainQuarks[domain]
	if !ok {
		q = domainQuarks[gst.DomainCore]
	}
	ct, cd := C.CString(text), C.CString(debug)
	defer C.free(unsafe.Pointer(ct))
	defer C.free(unsafe.Pointer(cd))
	C.shell_post_error((*C.GstElement)(i.ptr), q(), C.gint(code), ct, cd)
}

// Warning posts a warning on the bus; the pipeline keeps running.
func (i *Instance) Warning(text, debug string) {
	if e := i.Element(); e != nil {
		e.PostMessage(gst.NewWarningMessage(e, text, debug, nil))
	}
}

// Post posts an element message with the given structure name and fields.
func (i *Instance) Post(name string, fields map[string]interface{}) {
	e := i.Element()
	if e == nil {
		return
	}
	s := gst.NewStructure(name)
	for k, v := range fields {
		s.SetValue(k, v)
	}
	e.PostMessage(gst.NewElementMessage(e, s))
}

// PostText posts an element message given as a serialised GstStructure
// ("name, key=(type)value, ..."; see StatusText to build one). Unlike Post,
// which goes through go-gst's Structure API (a GValue per field), this makes no
// Go allocation when text is built in a reused buffer: elements that report
// status every second or every reply use it. It reports false when text
// does not parse.
func (i *Instance) PostText(text []byte) bool {
	if i.ptr == nil || len(text) == 0 {
		return false
	}
	return C.shell_post_structure((*C.GstElement)(i.ptr), (*C.char)(unsafe.Pointer(&text[0])), C.gsize(len(text))) != 0
}

// StatusText builds a serialised GstStructure field by field into a reused
// buffer, without allocating once the buffer has grown.
type StatusText struct{ b []byte }

// Begin starts a structure named name.
func (t *StatusText) Begin(name string) *StatusText {
	t.Reserve()
	t.b = append(t.b[:0], name...)
	return t
}

// Reserve sizes the buffer for a status message of a dozen fields; an
// element calls it in start, so that its first message on the streaming
// thread does not allocate.
func (t *StatusText) Reserve() {
	if t.b == nil {
		t.b = make([]byte, 0, 512)
	}
}

// Uint adds a guint64 field.
func (t *StatusText) Uint(key string, v uint64) *StatusText {
	t.b = append(append(append(t.b, ", "...), key...), "=(guint64)"...)
	t.b = strconv.AppendUint(t.b, v, 10)
	return t
}

// Float adds a double field, to 3 decimals.
func (t *StatusText) Float(key string, v float64) *StatusText {
	t.b = append(append(append(t.b, ", "...), key...), "=(double)"...)
	t.b = strconv.AppendFloat(t.b, v, 'f', 3, 64) // always with a decimal point, as GStreamer parses doubles
	return t
}

// String adds a string field, quoted and escaped.
func (t *StatusText) String(key, v string) *StatusText {
	t.b = append(append(append(t.b, ", "...), key...), "=(string)\""...)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '"' || c == '\\' {
			t.b = append(t.b, '\\')
		}
		t.b = append(t.b, c)
	}
	t.b = append(t.b, '"')
	return t
}

// Bytes is the text built so far, with the closing semicolon.
func (t *StatusText) Bytes() []byte {
	t.b = append(t.b, ';')
	return t.b
}
