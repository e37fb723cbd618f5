package shell

import (
	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/gstvideo"
)

// Class describes an in-place video filter class for gst-inspect-1.0.
type Class struct {
	LongName, Classification, Description string
}

// InitVideoFilterClass is ClassInit for every gst-react element: the
// metadata, always sink and src pads with the video caps the elements take,
// the properties, the in-place transform hook, and the guard that gives
// the host's signal handlers the alternate signal stack Go needs.
func InitVideoFilterClass(klass *glib.ObjectClass, c Class, specs []*glib.ParamSpec) {
	gstvideo.Init()
	class := gst.ToElementClass(klass)
	class.SetMetadata(c.LongName, c.Classification, c.Description, "gst-react developers")
	caps := gstvideo.Caps()
	class.AddPadTemplate(gst.NewPadTemplate("sink", gst.PadDirectionSink, gst.PadPresenceAlways, caps))
	class.AddPadTemplate(gst.NewPadTemplate("src", gst.PadDirectionSource, gst.PadPresenceAlways, caps))
	class.InstallProperties(specs)
	gstvideo.InstallTransformIP(klass)
	gstvideo.InstallSignalGuard(klass)
}
