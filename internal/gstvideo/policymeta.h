#ifndef GSTREACT_POLICYMETA_H
#define GSTREACT_POLICYMETA_H

#include <gst/gst.h>
#include <gst/video/video.h>

/* What GstReactPolicyMeta holds; strings as quarks, so crossing to Go
 * allocates nothing. */
typedef struct {
  gboolean ok;
  GQuark policy, detect_reason, offload_reason;
  gdouble k, m;
  gboolean detected, offloaded;
} ReactPolicyInfo;

void react_set_policy_meta (GstBuffer * buf, GQuark policy, gdouble k, gdouble m, gboolean detected,
    GQuark detect_reason, gboolean offloaded, GQuark offload_reason);
ReactPolicyInfo react_get_policy_meta (GstBuffer * buf);
GQuark react_quark (const char *s);
const char *react_quark_string (GQuark q);

#endif
