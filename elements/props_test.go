package elements_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/pipetest"
	"github.com/gst-react/gst-react/internal/runner"
)

// Every property of ours reads back what was written, on the element behind
// it (the property tables pair each spec with its setting by hand), and the
// table below must name each one, so a new property cannot go untested.
// reactcloud keeps its fusion settings in float32: 0.9 and 0.15 are not exact
// there and must still read back as written. Write-only secrets are checked
// in reactcloud's auth tests.
func TestPropertiesReadBackWhatWasSet(t *testing.T) {
	if err := runner.Init(); err != nil {
		t.Fatal(err)
	}
	auth := map[string]any{"user": "alice", "creds-file": "/etc/nats/edge.creds", "nkey-seed-file": "/etc/nats/edge.nk",
		"tls-ca-file": "/etc/nats/ca.pem", "tls-cert-file": "/etc/nats/edge.pem", "tls-key-file": "/etc/nats/edge-key.pem"}
	withAuth := func(m map[string]any) map[string]any {
		for k, v := range auth {
			m[k] = v
		}
		return m
	}
	cases := map[string]map[string]any{
		"reactdetect": {"model-file": "/models/edge.onnx", "interval": uint(7), "threshold": 0.4, "nms-threshold": 0.55,
			"labels-file": "/models/labels.txt", "classes": "person,car", "preprocess": "resize=centred,channels=rgb", "threads": uint(2)},
		"reacttrack":   {"scale": uint(2), "grid-size": uint(5), "levels": uint(2), "max-fb-error": 3.5, "iou-threshold": 0.4, "coast-decay": 0.6, "velocity-check": 0.1, "keep-occluded": 0.7, "follow-scale": true, "tracker": "kcf"},
		"reactoverlay": {"thickness": uint(4), "show-labels": false, "min-score": 0.25},
		"reactcloud": withAuth(map[string]any{"server": "nats://10.0.0.1:4222", "subject": "tenant-a.detect", "stream-id": "cam-7",
			"interval": uint(12), "change-threshold": 0.3, "max-inflight": uint(3), "timeout": uint(2500), "jpeg-quality": uint(70),
			"jpeg-max-width": uint(960), "ring-frames": uint(90), "ring-bytes": uint64(96 << 20), "max-lag": uint(4),
			"decay": 0.9, "min-score": 0.15, "iou-threshold": 0.45, "anchor-iou": 0.5, "tracker": "kcf",
			"policy": "adaptive", "max-uplink-kbps": 300.0, "max-edge-fps": 8.0, "max-cloud-rps": 2.0,
			"budget-window": uint(3000), "max-interval": uint(20), "offload-every": uint(5000)}),
		"reactpublish": withAuth(map[string]any{"location": "/tmp/out.jsonl", "server": "nats://10.0.0.1:4222", "subject": "tenant-a.out",
			"stream-id": "cam-7", "jetstream": true, "jetstream-stream": "SITE_A", "jetstream-replicas": uint(3), "max-pending": uint(99), "max-pending-bytes": uint64(8 << 20),
			"drain-timeout": uint(2500), "status-interval": uint(250), "every-frame": false}),
	}
	inherited := map[string]bool{"name": true, "parent": true, "qos": true}
	for name, props := range cases {
		el, err := gst.NewElement(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, spec := range pipetest.PropertySpecs(el) {
			p := spec.Name()
			if _, ok := props[p]; !ok && !inherited[p] && spec.Flags()&glib.ParameterReadable != 0 {
				t.Errorf("%s.%s has no case in this test", name, p)
			}
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

// A string property whose empty value means "the default" reads back the
// default after "" is set, so gst-launch's stream-id="" cannot name a stream
// "".
func TestEmptyStringPropertiesGiveTheDefault(t *testing.T) {
	if err := runner.Init(); err != nil {
		t.Fatal(err)
	}
	for name, props := range map[string][]string{
		"reactcloud":   {"server", "subject", "stream-id", "policy"},
		"reactpublish": {"stream-id", "jetstream-stream"},
	} {
		el, err := gst.NewElement(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range props {
			def, _ := el.GetProperty(p)
			if def == "" {
				t.Fatalf("%s.%s: default is empty", name, p)
			}
			if err := el.SetProperty(p, "other-value"); err != nil {
				t.Fatal(err)
			}
			if err := el.SetProperty(p, ""); err != nil {
				t.Fatal(err)
			}
			if got, _ := el.GetProperty(p); got != def {
				t.Errorf("%s.%s = \"\" reads back %q, want the default %q", name, p, got, def)
			}
		}
	}
}

// Listing property specs must not free them: after listing and two garbage
// collections, the elements still make pipelines and read their properties.
func TestPropertySpecsLeaveTheClassIntact(t *testing.T) {
	if err := runner.Init(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		for _, name := range []string{"reactcloud", "reactpublish"} {
			el, err := gst.NewElement(name)
			if err != nil {
				t.Fatal(err)
			}
			if len(pipetest.PropertySpecs(el)) == 0 {
				t.Fatalf("%s: no properties", name)
			}
		}
		runtime.GC()
		runtime.GC()
	}
	res, err := pipetest.Run("videotestsrc num-buffers=3 ! video/x-raw,width=64,height=48 ! reactcloud server=nats://127.0.0.1:1 ! reactpublish location=/dev/null ! fakesink", 30*time.Second)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	el, _ := gst.NewElement("reactcloud")
	for _, s := range pipetest.PropertySpecs(el) {
		if s.Flags()&glib.ParameterReadable == 0 {
			continue
		}
		if _, err := el.GetProperty(s.Name()); err != nil {
			t.Errorf("reactcloud.%s: %v", s.Name(), err)
		}
	}
}
