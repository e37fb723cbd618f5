package elements_test

import (
	"testing"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/runner"
)

// Every property reads back what was written, on the element behind it (the
// property tables pair each spec with its setting by hand). reactcloud keeps
// its fusion settings in float32: 0.9 and 0.15 are not exact there and must
// still read back as written.
func TestPropertiesReadBackWhatWasSet(t *testing.T) {
	if err := runner.Init(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]map[string]any{
		"reactdetect": {"model-file": "/models/edge.onnx", "interval": uint(7), "threshold": 0.4, "nms-threshold": 0.55,
			"labels-file": "/models/labels.txt", "classes": "person,car", "threads": uint(2)},
		"reacttrack":   {"scale": uint(2), "grid-size": uint(5), "levels": uint(2), "max-fb-error": 3.5, "iou-threshold": 0.4},
		"reactoverlay": {"thickness": uint(4), "show-labels": false, "min-score": 0.25},
		"reactcloud": {"server": "nats://10.0.0.1:4222", "subject": "tenant-a.detect", "stream-id": "cam-7", "interval": uint(12),
			"max-inflight": uint(3), "timeout": uint(2500), "jpeg-quality": uint(70), "decay": 0.9, "min-score": 0.15, "iou-threshold": 0.45},
		"reactpublish": {"location": "/tmp/out.jsonl", "subject": "tenant-a.out", "stream-id": "cam-7", "jetstream": true,
			"max-pending": uint(99), "every-frame": false},
	}
	for name, props := range cases {
		el, err := gst.NewElement(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for p, want := range props {
			before, err := el.GetProperty(p)
			if err != nil {
				t.Fatalf("%s.%s: %v", name, p, err)
			}
			if before == want {
				t.Errorf("%s.%s: test value %v is the default; pick another", name, p, want)
			}
			if err := el.SetProperty(p, want); err != nil {
				t.Fatalf("%s.%s = %v: %v", name, p, want, err)
			}
			if got, _ := el.GetProperty(p); got != want {
				t.Errorf("%s.%s: set %v (%T), read back %v (%T)", name, p, want, want, got, got)
			}
		}
	}
}
