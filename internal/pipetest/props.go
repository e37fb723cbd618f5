package pipetest

import (
	"runtime"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"
)

// PropertySpecs lists el's property specs. Use it instead of
// el.Class().ListProperties(): go-glib v1.4.0 sets an unref finalizer on each
// spec it returns, but g_object_class_list_properties only lends them, so
// the next garbage collection frees the class's own specs ("g_param_spec_unref:
// assertion 'G_IS_PARAM_SPEC (pspec)' failed", then a crash in the next
// pipeline that makes the element). This drops those finalizers.
func PropertySpecs(el *gst.Element) []*glib.ParamSpec {
	specs := el.Class().ListProperties()
	for _, s := range specs {
		runtime.SetFinalizer(s, nil)
	}
	return specs
}
