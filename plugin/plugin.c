/* The plugin entry point in C: GST_PLUGIN_DEFINE gives GStreamer a proper
 * NUL-terminated descriptor (go-gst's Go-side descriptor does not), and
 * plugin_init hands over to Go. */
#include <gst/gst.h>
#include "_cgo_export.h"

#define PACKAGE "gst-react"

static gboolean
plugin_init (GstPlugin * plugin)
{
  return gstreactPluginInit (plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, react,
    "REACT edge-cloud video analytics: edge detection, tracking, cloud fusion and overlay",
    plugin_init, "0.1.0", "LGPL", "gst-react", "https://github.com/gst-react/gst-react")
