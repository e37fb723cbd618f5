package runner_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/runner"
	"github.com/gst-react/gst-react/internal/testassets"
)

// Decoding runs on a thread of its own behind a queue, and reactdetect
// leaves it a core (issue 17); a reconnecting camera's appsrc has its own
// thread already.
func TestDescriptionDecodesOnItsOwnThread(t *testing.T) {
	seq := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini")
	desc, _, _, err := runner.Description(runner.Options{Input: seq, Output: "none", Threshold: -1, NMSThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	q, det := strings.Index(desc, runner.AnalysisQueue+" ! "), strings.Index(desc, "reactdetect ")
	if q < 0 || det < q || strings.Index(desc, "jpegdec") > q {
		t.Errorf("want jpegdec ! … ! %s ! reactdetect, got\n%s", runner.AnalysisQueue, desc)
	}
	if want := fmt.Sprintf(" threads=%d ", runner.DetectThreads()); !strings.Contains(desc, want) {
		t.Errorf("want reactdetect%s(one core left to decoding), got\n%s", want, desc)
	}
	desc, _, _, err = runner.Description(runner.Options{Input: seq, Output: "none", Threshold: -1, NMSThreshold: -1, Threads: 3})
	if err != nil || !strings.Contains(desc, " threads=3 ") {
		t.Errorf("--threads 3: %v\n%s", err, desc)
	}
	desc, _, _, err = runner.Description(runner.Options{Input: "rtsp://127.0.0.1:1/cam", Output: "none", Threshold: -1, NMSThreshold: -1})
	if err != nil || strings.Contains(desc, "queue") {
		t.Errorf("reconnecting camera: want no queue after its appsrc: %v\n%s", err, desc)
	}
}
