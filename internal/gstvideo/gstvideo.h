#ifndef GSTREACT_GSTVIDEO_H
#define GSTREACT_GSTVIDEO_H

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>

/* One detection as it crosses the C/Go boundary (no Go pointers inside). */
typedef struct {
  float x1, y1, x2, y2;
  float score;
  gint class_id;
  gint source;   /* 0 edge, 1 tracked, 2 cloud */
  gint track_id;
  gint age;
  guint32 roi_type; /* GQuark of the label */
} ReactBox;

/* Frame geometry resolved from caps and, when present, the buffer's GstVideoMeta. */
typedef struct {
  gint format; /* GstVideoFormat */
  gint width, height;
  gint n_planes;
  gint bt709; /* YUV matrix is BT.709 (else BT.601) */
  gsize offset[4];
  gint stride[4];
} ReactVideoInfo;

gboolean react_video_info_from_caps (GstCaps * caps, ReactVideoInfo * out);
void react_install_transform_ip (gpointer klass);
gboolean react_buffer_map (GstBuffer * buf, gboolean write, GstMapInfo * info, ReactVideoInfo * vinfo);
void react_buffer_unmap (GstBuffer * buf, GstMapInfo * info);
void react_quarks_init (void);
gint react_add_rois (GstBuffer * buf, const ReactBox * boxes, gint n, guint64 frame);
gint react_read_rois (GstBuffer * buf, ReactBox * out, gint cap);
gint react_remove_rois (GstBuffer * buf);
void react_set_frame_meta (GstBuffer * buf, guint64 frame, gboolean detected);
typedef struct { guint64 frame; gboolean detected; gboolean ok; } ReactFrameInfo;
ReactFrameInfo react_get_frame_meta (GstBuffer * buf);
GstMessage *react_new_element_message (GstElement * src, GstStructure * s);
GstStructure *react_structure_new_empty (const char * name);
void react_count_buffers (GstPad * pad, gint * counter);

#endif
