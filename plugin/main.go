// Command plugin is built with -buildmode=c-shared into libgstreact.so, the
// GStreamer plugin that provides every gst-react element:
//
//	go build -buildmode=c-shared -o build/libgstreact.so ./plugin
//	gst-inspect-1.0 --gst-plugin-path=build react
package main

/*
#cgo pkg-config: gstreamer-1.0
#include <gst/gst.h>
*/
import "C"

import (
	"unsafe"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/elements"
)

//export gstreactPluginInit
func gstreactPluginInit(plugin *C.GstPlugin) C.gboolean {
	if err := elements.Register(gst.FromGstPluginUnsafeNone(unsafe.Pointer(plugin))); err != nil {
		return C.FALSE
	}
	return C.TRUE
}

func main() {}
