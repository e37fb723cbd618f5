// Package elements registers every gst-react GStreamer element. The plugin
// (libgstreact.so) calls it from plugin_init; Go programs (the gstreact CLI,
// tests) call it in-process after gst.Init, since a process cannot host a
// second Go runtime loaded from the plugin.
package elements

import (
	"fmt"
	"sync"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/elements/reactcloud"
	"github.com/gst-react/gst-react/elements/reactdetect"
	"github.com/gst-react/gst-react/elements/reactoverlay"
	"github.com/gst-react/gst-react/elements/reactpublish"
	"github.com/gst-react/gst-react/elements/reacttrack"
)

var registrations = []struct {
	name     string
	register func(*gst.Plugin) bool
}{
	{reactdetect.Name, reactdetect.Register},
	{reacttrack.Name, reacttrack.Register},
	{reactcloud.Name, reactcloud.Register},
	{reactoverlay.Name, reactoverlay.Register},
	{reactpublish.Name, reactpublish.Register},
}

// Names lists the element factory names, in registration order.
func Names() []string {
	out := make([]string, len(registrations))
	for i, r := range registrations {
		out[i] = r.name
	}
	return out
}

// Register adds every element to plugin.
func Register(plugin *gst.Plugin) error {
	for _, r := range registrations {
		if !r.register(plugin) {
			return fmt.Errorf("registering element %s failed", r.name)
		}
	}
	return nil
}

var staticOnce sync.Once
var staticErr error

// RegisterStatic registers every element in this process (gst.Init must have
// run); further calls are no-ops, as a GType can be registered only once.
func RegisterStatic() error {
	staticOnce.Do(func() { staticErr = Register(nil) })
	return staticErr
}
