package elements_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/pipetest"
	"github.com/gst-react/gst-react/internal/testassets"
)

// reactcloud policy=adaptive drives reactdetect upstream through
// GstReactPolicy events, in a plain gst-launch pipeline: reactdetect is set
// to run on every frame, yet it runs only where the policy asks, within the
// edge budget (6 per second over 2 s: 12 in any 60 frames at 30 fps) and at
// least every max-interval (10) frames. Everything is counted in frames (the
// detected flag reactdetect puts on each frame), so it holds at any speed;
// the cloud holds its requests (they never time out), which leaves the edge
// side alone under test.
func TestAdaptivePolicyDrivesTheDetector(t *testing.T) {
	const n = 150
	src, _, _ := pingPong(t, "MOT17-04-FRCNN-mini", n)
	url, _, release := holdingCloud(t)
	defer time.AfterFunc(2*time.Minute, release).Stop()
	desc := fmt.Sprintf("%s ! reactdetect model-file=%q interval=1 ! reacttrack ! reactcloud name=cloud server=%s timeout=600000 "+
		"policy=adaptive max-edge-fps=6 budget-window=2000 max-interval=10 ! fakesink name=sink",
		src, testassets.Model(t, "yolox_nano_416x416"), url)
	res, err := pipetest.Run(desc, 2*time.Minute, pipetest.Probe{Element: "cloud", Pad: "sink"}, pipetest.Probe{Element: "sink", Pad: "sink"})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	in, out := res.Frames["cloud.sink"], res.Frames["sink.sink"]
	if len(in) != n || len(out) != n {
		t.Fatalf("frames in %d, out %d, want %d: the policy must not hold frames", len(in), len(out), n)
	}
	var detected []int
	for i, f := range in {
		if !f.HasMeta {
			t.Fatalf("frame %d has no GstReactFrameMeta", i)
		}
		if f.Detected {
			detected = append(detected, i)
		}
	}
	t.Logf("reactdetect ran on %d of %d frames: %v", len(detected), n, detected)
	if len(detected) == 0 || detected[0] != 0 {
		t.Fatalf("detections on %v: want frame 0 first", detected)
	}
	for i := range detected {
		j := i
		for j < len(detected) && detected[j] < detected[i]+60 {
			j++
		}
		if j-i > 12 {
			t.Fatalf("%d detections in frames %d..%d: the budget is 12 in 60 frames", j-i, detected[i], detected[i]+59)
		}
		if i > 0 && detected[i]-detected[i-1] > 10 {
			t.Fatalf("no detection on frames %d..%d: max-interval is 10", detected[i-1]+1, detected[i]-1)
		}
	}
	if len(detected) < 25 {
		t.Errorf("%d detections in 150 frames: the budget (30) should be mostly spent on a busy street", len(detected))
	}
	if statusMax(res, "k") < 2 {
		t.Errorf("reactcloud-status k %.2f: want the effective interval", statusMax(res, "k"))
	}
}

// Settings a policy cannot honour say so on the bus: reactdetect's set
// interval while reactcloud's adaptive policy decides its frames, the
// adaptive settings under policy=fixed, and interval=0 (scene changes only)
// under policy=adaptive. A set interval under policy=adaptive is its base
// offload interval and draws no warning. Frame counts only: any speed.
func TestPolicySettingsNotUsedWarn(t *testing.T) {
	const n = 30
	src, _, _ := pingPong(t, "MOT17-04-FRCNN-mini", n)
	url, _, release := holdingCloud(t)
	defer time.AfterFunc(2*time.Minute, release).Stop()
	model := testassets.Model(t, "yolox_nano_416x416")
	for _, tc := range []struct {
		detect, cloud string
		want, not     []string
	}{
		{"interval=3", "policy=adaptive interval=12",
			[]string{"reactdetect interval=3 is not used"}, []string{"reactcloud:"}},
		{"", "policy=adaptive interval=0",
			[]string{"interval=0 (only scene changes) is not used with policy=adaptive"}, []string{"reactdetect interval"}},
		{"interval=3", "interval=12 max-edge-fps=6 max-interval=10",
			[]string{"max-edge-fps, max-interval apply only with policy=adaptive"}, []string{"reactdetect interval"}},
	} {
		desc := fmt.Sprintf("%s ! reactdetect model-file=%q %s ! reacttrack ! reactcloud server=%s timeout=600000 %s ! fakesink",
			src, model, tc.detect, url, tc.cloud)
		res, err := pipetest.Run(desc, 2*time.Minute)
		if err != nil || len(res.Errors) > 0 {
			t.Fatalf("%s / %s: %v %s", tc.detect, tc.cloud, err, res.ErrorText())
		}
		all := strings.Join(res.Warnings, "\n")
		for _, w := range tc.want {
			if strings.Count(all, w) != 1 {
				t.Errorf("%s / %s: want one warning with %q, got %q", tc.detect, tc.cloud, w, res.Warnings)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(all, w) {
				t.Errorf("%s / %s: unexpected warning with %q: %q", tc.detect, tc.cloud, w, res.Warnings)
			}
		}
	}
}
