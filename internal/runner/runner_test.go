package runner_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/runner"
	"github.com/gst-react/gst-react/internal/testassets"
)

func TestRunWritesOverlaidMP4(t *testing.T) {
	seq := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini")
	out := filepath.Join(t.TempDir(), "out.mp4")
	var progress strings.Builder
	sum, err := runner.Run(context.Background(), runner.Options{
		Input: seq, Output: out, Interval: 2, Threshold: -1, NMSThreshold: -1, Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Frames != 8 || sum.Boxes == 0 || sum.FPS() <= 0 {
		t.Fatalf("summary %+v", sum)
	}
	// The default run is REACT with the embedded NATS server and in-process
	// worker: reactcloud reported on the bus, and the tracker filled the
	// frames between detections.
	if sum.Cloud == nil || sum.BySource[1] == 0 {
		t.Fatalf("no cloud status or no tracked boxes: %+v", sum)
	}
	// The summary's cloud figures are reactcloud's final status, posted when
	// it stops: 8 frames end before any periodic one.
	if why, _ := sum.Cloud["why"].(string); why != "final" {
		t.Fatalf("summary cloud status is %q, want the final one: %v", why, sum.Cloud)
	}
	// MOT17-04 is a crowd of pedestrians: most objects followed are people,
	// and no more objects than boxes were seen.
	total := 0
	for _, n := range sum.Objects {
		total += n
	}
	if sum.Objects["person"] == 0 || sum.Objects["person"]*2 < total || int64(total) > sum.Boxes {
		t.Fatalf("objects followed %v (%d in all, %d boxes): want mostly person", sum.Objects, total, sum.Boxes)
	}
	if !strings.Contains(progress.String(), "frames 8/8 (100%)") {
		t.Fatalf("progress output lacks the final line:\n%s", progress.String())
	}
	st, err := os.Stat(out)
	if err != nil || st.Size() < 10000 {
		t.Fatalf("output %s: %v", out, err)
	}
	// The file is a complete MP4 (moov written at EOS): it demuxes and decodes.
	cmd := exec.Command("gst-launch-1.0", "-q", "filesrc", "location="+out, "!", "qtdemux", "!", "h264parse", "!", "avdec_h264", "!", "fakesink")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("output does not decode: %v\n%s", err, b)
	}
}

// --realtime plays a file input at its frame rate: 30 frames at 30 fps take
// at least 29 frame intervals whatever the machine's speed (unpaced, this
// edge-only run took 0.5 s on a 2-core machine).
func TestRunRealTimePlaysAtFrameRate(t *testing.T) {
	const frames, fps = 30, 30
	o := runner.Options{Input: "test", TestFrames: frames, NoCloud: true, RealTime: true, Threshold: -1, NMSThreshold: -1}
	desc, _, _, err := runner.Description(o)
	if err != nil || !strings.Contains(desc, runner.RealTimePacer) {
		t.Fatalf("description %q (%v) lacks the pacer", desc, err)
	}
	sum, err := runner.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(frames-1) * time.Second / fps; sum.Frames != frames || sum.Elapsed < want {
		t.Fatalf("%d frames in %v, want %d in at least %v", sum.Frames, sum.Elapsed, frames, want)
	}
}

func TestRunCancelFinalisesFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.mp4")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // interrupted before the first frame: EOS still closes the file
	sum, err := runner.Run(ctx, runner.Options{Input: "test", TestFrames: 100000, Output: out, Threshold: -1, NMSThreshold: -1})
	if err != nil {
		t.Fatalf("run: %v (summary %+v)", err, sum)
	}
	if sum.Frames >= 100000 {
		t.Fatalf("cancel did not stop the run: %d frames", sum.Frames)
	}
}

func TestRunBadInputs(t *testing.T) {
	for _, tc := range []struct {
		o    runner.Options
		want string
	}{
		{runner.Options{Input: "/no/such/video.mp4"}, "/no/such/video.mp4"},
		{runner.Options{Input: "test", Output: "/tmp/x.avi"}, "unknown file type"},
		{runner.Options{Input: "test", Model: "/no/model.onnx", Threshold: -1, NMSThreshold: -1}, "/no/model.onnx"},
	} {
		_, err := runner.Run(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%+v: error %v, want it to mention %q", tc.o, err, tc.want)
		}
	}
}

// One stream failing (a file that is not a video) ends that stream only: the
// other runs to its end and writes its file, and each summary carries its own
// error, so the CLI still says what was written.
func TestRunStreamsOneFailsOthersFinish(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "notes.mp4")
	if err := os.WriteFile(bad, []byte(strings.Repeat("not a video\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.mp4")
	sums, err := runner.RunStreams(context.Background(), runner.Options{NoCloud: true, TestFrames: 20, Threshold: -1, NMSThreshold: -1},
		[]runner.Stream{{Input: "test", Output: good, ID: "ok"}, {Input: bad, Output: filepath.Join(dir, "bad-out.mp4"), ID: "broken"}})
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("joined error %v, want the broken stream named", err)
	}
	if len(sums) != 2 {
		t.Fatalf("%d summaries", len(sums))
	}
	if sums[0].Err != nil || sums[0].Frames != 20 {
		t.Errorf("good stream: %d frames, err %v", sums[0].Frames, sums[0].Err)
	}
	if st, err := os.Stat(good); err != nil || st.Size() == 0 {
		t.Errorf("good stream's file: %v", err)
	}
	if sums[1].Err == nil || !strings.Contains(sums[1].Err.Error(), "broken") {
		t.Errorf("broken stream's error: %v", sums[1].Err)
	}
}
