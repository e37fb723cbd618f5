#include "policymeta.h"

/* GstReactPolicyMeta: what reactcloud's schedule did on this frame (policy,
 * effective k and m, detected/offloaded and why), for reactpublish's
 * per-frame records. A custom meta, so any element can read it:
 *   policy (string), k, m (double), detected, offloaded (boolean),
 *   detect-reason, offload-reason (string, "" = none). */
#define REACT_POLICY_META "GstReactPolicyMeta"

static GQuark q_policy, q_k, q_m, q_detected, q_detect_reason, q_offloaded, q_offload_reason;

/* Registered on first use, so the element that sets it and the one that
 * reads it need no common init. */
static void
policy_meta_init (void)
{
  static gsize done = 0;
  static const gchar *tags[] = { GST_META_TAG_VIDEO_STR, NULL };
  if (g_once_init_enter (&done)) {
    q_policy = g_quark_from_static_string ("policy");
    q_k = g_quark_from_static_string ("k");
    q_m = g_quark_from_static_string ("m");
    q_detected = g_quark_from_static_string ("detected");
    q_detect_reason = g_quark_from_static_string ("detect-reason");
    q_offloaded = g_quark_from_static_string ("offloaded");
    q_offload_reason = g_quark_from_static_string ("offload-reason");
    gst_meta_register_custom (REACT_POLICY_META, tags, NULL, NULL, NULL);
    g_once_init_leave (&done, 1);
  }
}

GQuark
react_quark (const char *s)
{
  return g_quark_from_string (s);
}

const char *
react_quark_string (GQuark q)
{
  return g_quark_to_string (q);
}

/* An interned string value: copies of the meta share it, nothing is
 * duplicated per frame. */
static void
set_interned (GstStructure * s, GQuark field, GQuark value)
{
  GValue v = G_VALUE_INIT;
  const gchar *str = value ? g_quark_to_string (value) : "";
  g_value_init (&v, G_TYPE_STRING);
  g_value_set_interned_string (&v, g_intern_string (str));
  gst_structure_id_take_value (s, field, &v);
}

void
react_set_policy_meta (GstBuffer * buf, GQuark policy, gdouble k, gdouble m, gboolean detected,
    GQuark detect_reason, gboolean offloaded, GQuark offload_reason)
{
  GstCustomMeta *cm;
  GstStructure *s;
  policy_meta_init ();
  cm = gst_buffer_get_custom_meta (buf, REACT_POLICY_META);
  if (cm == NULL)
    cm = gst_buffer_add_custom_meta (buf, REACT_POLICY_META);
  if (cm == NULL)
    return;
  s = gst_custom_meta_get_structure (cm);
  set_interned (s, q_policy, policy);
  gst_structure_id_set (s, q_k, G_TYPE_DOUBLE, k, q_m, G_TYPE_DOUBLE, m,
      q_detected, G_TYPE_BOOLEAN, detected, q_offloaded, G_TYPE_BOOLEAN, offloaded, NULL);
  set_interned (s, q_detect_reason, detect_reason);
  set_interned (s, q_offload_reason, offload_reason);
}

static GQuark
get_quark (const GstStructure * s, GQuark field)
{
  const GValue *v = gst_structure_id_get_value (s, field);
  const gchar *str = v && G_VALUE_HOLDS_STRING (v) ? g_value_get_string (v) : NULL;
  return str ? g_quark_from_string (str) : 0;
}

ReactPolicyInfo
react_get_policy_meta (GstBuffer * buf)
{
  ReactPolicyInfo info = { 0 };
  GstCustomMeta *cm;
  const GstStructure *s;
  policy_meta_init ();
  cm = gst_buffer_get_custom_meta (buf, REACT_POLICY_META);
  if (cm == NULL)
    return info;
  s = gst_custom_meta_get_structure (cm);
  if (!gst_structure_id_get (s, q_k, G_TYPE_DOUBLE, &info.k, q_m, G_TYPE_DOUBLE, &info.m,
          q_detected, G_TYPE_BOOLEAN, &info.detected, q_offloaded, G_TYPE_BOOLEAN, &info.offloaded, NULL))
    return info;
  info.policy = get_quark (s, q_policy);
  info.detect_reason = get_quark (s, q_detect_reason);
  info.offload_reason = get_quark (s, q_offload_reason);
  info.ok = TRUE;
  return info;
}
