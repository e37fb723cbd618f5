#include "gstvideo.h"
#include "_cgo_export.h"

/* The custom upstream event reactcloud's adaptive policy sends towards
 * reactdetect: "detect the next frame you see". Upstream events pass
 * reacttrack, queues and converters on their own. */
#define REACT_POLICY_EVENT "GstReactPolicy"

gboolean
react_push_policy_event (GstElement * e, guint64 frame, gboolean detect, guint max_interval, const char *reason)
{
  GstPad *sink = gst_element_get_static_pad (e, "sink");
  GstStructure *s;
  gboolean ok;
  if (sink == NULL)
    return FALSE;
  s = gst_structure_new (REACT_POLICY_EVENT, "frame", G_TYPE_UINT64, frame,
      "detect", G_TYPE_BOOLEAN, detect, "max-interval", G_TYPE_UINT, max_interval,
      "reason", G_TYPE_STRING, reason, NULL);
  ok = gst_pad_push_event (sink, gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, s));
  gst_object_unref (sink);
  return ok;
}

static gboolean (*react_parent_src_event) (GstBaseTransform *, GstEvent *);

static gboolean
react_src_event (GstBaseTransform * trans, GstEvent * event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM && gst_event_has_name (event, REACT_POLICY_EVENT)) {
    const GstStructure *s = gst_event_get_structure (event);
    guint64 frame = 0;
    gboolean detect = FALSE;
    guint max_interval = 0;
    gst_structure_get_uint64 (s, "frame", &frame);
    gst_structure_get_boolean (s, "detect", &detect);
    gst_structure_get_uint (s, "max-interval", &max_interval);
    gstreactPolicyEvent (trans, frame, detect, max_interval);
    /* Consumed: it is for the detector, nothing upstream of it. */
    gst_event_unref (event);
    return TRUE;
  }
  return react_parent_src_event (trans, event);
}

void
react_install_policy_follower (gpointer klass)
{
  GstBaseTransformClass *bt = GST_BASE_TRANSFORM_CLASS (klass);
  if (bt->src_event != react_src_event) {
    react_parent_src_event = bt->src_event;
    bt->src_event = react_src_event;
  }
}

/* The frame rate of fixed caps, 0 when they have none (or 0/1). */
gdouble
react_caps_fps (GstCaps * caps)
{
  gint n = 0, d = 1;
  GstStructure *s;
  if (caps == NULL || gst_caps_get_size (caps) == 0)
    return 0;
  s = gst_caps_get_structure (caps, 0);
  if (!gst_structure_get_fraction (s, "framerate", &n, &d) || d == 0)
    return 0;
  return (gdouble) n / d;
}
