#include "gstvideo.h"
#include "_cgo_export.h"

gboolean
react_video_info_from_caps (GstCaps * caps, ReactVideoInfo * out)
{
  GstVideoInfo info;
  guint i;
  if (!gst_video_info_from_caps (&info, caps))
    return FALSE;
  out->format = GST_VIDEO_INFO_FORMAT (&info);
  out->width = GST_VIDEO_INFO_WIDTH (&info);
  out->height = GST_VIDEO_INFO_HEIGHT (&info);
  out->n_planes = GST_VIDEO_INFO_N_PLANES (&info);
  /* gst_video_info_from_caps fills in GStreamer's default colorimetry when
   * caps carry none (BT.709 above 576 lines), so this matches videoconvert. */
  out->bt709 = info.colorimetry.matrix == GST_VIDEO_COLOR_MATRIX_BT709;
  for (i = 0; i < 4; i++) {
    out->offset[i] = GST_VIDEO_INFO_PLANE_OFFSET (&info, i);
    out->stride[i] = GST_VIDEO_INFO_PLANE_STRIDE (&info, i);
  }
  return TRUE;
}

static GstFlowReturn
react_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  return (GstFlowReturn) gstreactTransformIP (trans, buf);
}

/* Called from an element's ClassInit: the per-buffer path then goes straight
 * from C to one exported Go function, with no binding wrappers allocated. */
void
react_install_transform_ip (gpointer klass)
{
  GstBaseTransformClass *bt = GST_BASE_TRANSFORM_CLASS (klass);
  bt->transform_ip = react_transform_ip;
  bt->transform = NULL;
  bt->passthrough_on_same_caps = FALSE;
  bt->transform_ip_on_passthrough = TRUE;
}

/* Maps the whole buffer and takes plane offsets/strides from the buffer's
 * GstVideoMeta when upstream attached one (decoders with padded planes do). */
gboolean
react_buffer_map (GstBuffer * buf, gboolean write, GstMapInfo * info, ReactVideoInfo * vinfo)
{
  GstVideoMeta *vmeta;
  guint i;
  if (!gst_buffer_map (buf, info, write ? GST_MAP_READWRITE : GST_MAP_READ))
    return FALSE;
  vmeta = gst_buffer_get_video_meta (buf);
  if (vmeta != NULL) {
    for (i = 0; i < vmeta->n_planes && i < 4; i++) {
      vinfo->offset[i] = vmeta->offset[i];
      vinfo->stride[i] = vmeta->stride[i];
    }
  }
  return TRUE;
}

void
react_buffer_unmap (GstBuffer * buf, GstMapInfo * info)
{
  gst_buffer_unmap (buf, info);
}

static GQuark q_detection, q_confidence, q_class_id, q_source, q_track_id, q_age, q_frame, q_detected;
static const char *source_names[] = { "edge", "tracked", "cloud" };
static const gchar *frame_meta_tags[] = { GST_META_TAG_VIDEO_STR, NULL };

void
react_quarks_init (void)
{
  q_detection = g_quark_from_static_string ("detection");
  q_confidence = g_quark_from_static_string ("confidence");
  q_class_id = g_quark_from_static_string ("class-id");
  q_source = g_quark_from_static_string ("source");
  q_track_id = g_quark_from_static_string ("track-id");
  q_age = g_quark_from_static_string ("age");
  q_frame = g_quark_from_static_string ("frame");
  q_detected = g_quark_from_static_string ("detected");
  gst_meta_register_custom ("GstReactFrameMeta", frame_meta_tags, NULL, NULL, NULL);
}

static guint
clamp_coord (float v)
{
  return v <= 0 ? 0 : (guint) (v + 0.5f);
}

gint
react_add_rois (GstBuffer * buf, const ReactBox * boxes, gint n, guint64 frame)
{
  gint i;
  for (i = 0; i < n; i++) {
    const ReactBox *b = &boxes[i];
    guint x = clamp_coord (b->x1), y = clamp_coord (b->y1);
    guint x2 = clamp_coord (b->x2), y2 = clamp_coord (b->y2);
    GstVideoRegionOfInterestMeta *m;
    GstStructure *s;
    gint src = (b->source >= 0 && b->source <= 2) ? b->source : 0;
    m = gst_buffer_add_video_region_of_interest_meta_id (buf, b->roi_type, x, y,
        x2 > x ? x2 - x : 0, y2 > y ? y2 - y : 0);
    if (m == NULL)
      return i;
    m->id = b->track_id;
    s = gst_structure_new_id (q_detection,
        q_confidence, G_TYPE_DOUBLE, (gdouble) b->score,
        q_class_id, G_TYPE_INT, b->class_id,
        q_source, G_TYPE_STRING, source_names[src],
        q_track_id, G_TYPE_INT, b->track_id,
        q_age, G_TYPE_INT, b->age, q_frame, G_TYPE_UINT64, frame, NULL);
    gst_video_region_of_interest_meta_add_param (m, s);
  }
  return n;
}

/* Reads every ROI meta; ROIs from foreign elements without our "detection"
 * param get score 1, class -1, source edge. Returns the total count, which may
 * exceed cap (only cap are written). */
gint
react_read_rois (GstBuffer * buf, ReactBox * out, gint cap)
{
  gpointer state = NULL;
  GstMeta *meta;
  gint n = 0;
  while ((meta = gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) != NULL) {
    GstVideoRegionOfInterestMeta *m = (GstVideoRegionOfInterestMeta *) meta;
    if (n < cap) {
      ReactBox *b = &out[n];
      GstStructure *s = NULL;
      GList *l;
      b->x1 = m->x;
      b->y1 = m->y;
      b->x2 = m->x + m->w;
      b->y2 = m->y + m->h;
      b->score = 1.0f;
      b->class_id = -1;
      b->source = 0;
      b->track_id = m->id > 0 ? m->id : 0;
      b->age = 0;
      b->roi_type = m->roi_type;
      for (l = m->params; l != NULL; l = l->next) {
        if (gst_structure_get_name_id (l->data) == q_detection) {
          s = l->data;
          break;
        }
      }
      if (s != NULL) {
        const GValue *v;
        if ((v = gst_structure_id_get_value (s, q_confidence)) && G_VALUE_HOLDS_DOUBLE (v))
          b->score = (float) g_value_get_double (v);
        if ((v = gst_structure_id_get_value (s, q_class_id)) && G_VALUE_HOLDS_INT (v))
          b->class_id = g_value_get_int (v);
        if ((v = gst_structure_id_get_value (s, q_track_id)) && G_VALUE_HOLDS_INT (v))
          b->track_id = g_value_get_int (v);
        if ((v = gst_structure_id_get_value (s, q_age)) && G_VALUE_HOLDS_INT (v))
          b->age = g_value_get_int (v);
        if ((v = gst_structure_id_get_value (s, q_source)) && G_VALUE_HOLDS_STRING (v)) {
          const gchar *src = g_value_get_string (v);
          if (g_strcmp0 (src, "tracked") == 0)
            b->source = 1;
          else if (g_strcmp0 (src, "cloud") == 0)
            b->source = 2;
        }
      }
    }
    n++;
  }
  return n;
}

static gboolean
remove_roi (GstBuffer * buf, GstMeta ** meta, gpointer user_data)
{
  if ((*meta)->info->api == GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE) {
    (*(gint *) user_data)++;
    *meta = NULL;
  }
  return TRUE;
}

gint
react_remove_rois (GstBuffer * buf)
{
  gint n = 0;
  gst_buffer_foreach_meta (buf, remove_roi, &n);
  return n;
}

/* GstReactFrameMeta tells downstream elements whether the detector ran on
 * this frame, so an empty result is distinguishable from "not detected". */
void
react_set_frame_meta (GstBuffer * buf, guint64 frame, gboolean detected)
{
  GstCustomMeta *m = gst_buffer_get_custom_meta (buf, "GstReactFrameMeta");
  GstStructure *s;
  if (m == NULL)
    m = gst_buffer_add_custom_meta (buf, "GstReactFrameMeta");
  if (m == NULL)
    return;
  s = gst_custom_meta_get_structure (m);
  gst_structure_id_set (s, q_frame, G_TYPE_UINT64, frame, q_detected, G_TYPE_BOOLEAN, detected, NULL);
}

/* Returned by value: pointers to Go locals passed to C would make them
 * escape to the Go heap, one allocation per frame. */
ReactFrameInfo
react_get_frame_meta (GstBuffer * buf)
{
  ReactFrameInfo info = { 0, FALSE, FALSE };
  GstCustomMeta *m = gst_buffer_get_custom_meta (buf, "GstReactFrameMeta");
  gboolean detected = FALSE;
  if (m == NULL)
    return info;
  if (!gst_structure_id_get (gst_custom_meta_get_structure (m), q_frame, G_TYPE_UINT64, &info.frame,
          q_detected, G_TYPE_BOOLEAN, &detected, NULL))
    return info;
  info.detected = detected;
  info.ok = TRUE;
  return info;
}

GstMessage *
react_new_element_message (GstElement * src, GstStructure * s)
{
  return gst_message_new_element (GST_OBJECT (src), s);
}

GstStructure *
react_structure_new_empty (const char *name)
{
  return gst_structure_new_empty (name);
}

/* A buffer-counting pad probe entirely in C: tests that count Go allocations
 * per frame must not be charged for go-gst's per-call probe wrappers. */
static GstPadProbeReturn
react_count_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  g_atomic_int_inc ((gint *) data);
  return GST_PAD_PROBE_OK;
}

void
react_count_buffers (GstPad * pad, gint * counter)
{
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, react_count_probe, counter, NULL);
}
