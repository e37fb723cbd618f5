package pipelines

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/pipetest"
)

// pluginEnv points GStreamer at build/libgstreact.so with a private registry.
func pluginEnv(t *testing.T) []string {
	t.Helper()
	dir := os.Getenv("GSTREACT_PLUGIN_DIR")
	if dir == "" {
		dir = filepath.Join(pipetest.ModuleRoot(), "build")
	}
	if _, err := os.Stat(filepath.Join(dir, "libgstreact.so")); err != nil {
		t.Skipf("no libgstreact.so in %s: run `make plugin` first (make test does)", dir)
	}
	return append(os.Environ(), "GST_PLUGIN_PATH="+dir, "GST_REGISTRY="+filepath.Join(t.TempDir(), "registry.bin"))
}

func run(t *testing.T, env []string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	done := make(chan struct{})
	timer := time.AfterFunc(timeout, func() { cmd.Process.Kill(); close(done) })
	out, err := cmd.CombinedOutput()
	if !timer.Stop() {
		<-done
		t.Fatalf("%s %v: timed out after %s\n%s", name, args, timeout, out)
	}
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func TestInspectListsElementsWithDocumentedProperties(t *testing.T) {
	env := pluginEnv(t)
	out := run(t, env, time.Minute, "gst-inspect-1.0", "react")
	for _, el := range []string{"reactdetect", "reactoverlay"} {
		if !strings.Contains(out, el) {
			t.Fatalf("gst-inspect-1.0 react does not list %s:\n%s", el, out)
		}
	}
	props := map[string][]string{
		"reactdetect":  {"model-file", "interval", "threshold", "nms-threshold", "labels-file", "classes", "threads"},
		"reactoverlay": {"thickness", "show-labels", "min-score"},
	}
	for el, names := range props {
		out := run(t, env, time.Minute, "gst-inspect-1.0", el)
		for _, p := range names {
			// Each property block: "name : blurb" then flags, then "Default:" (and a Range for numbers).
			re := regexp.MustCompile(`(?s)\n\s+` + regexp.QuoteMeta(p) + `\s+: \S[^\n]+\n.*?Default: `)
			if !re.MatchString(out) {
				t.Fatalf("%s: property %s lacks a blurb or default in gst-inspect-1.0:\n%s", el, p, out)
			}
		}
		if !strings.Contains(out, "Range:") {
			t.Fatalf("%s: no numeric property shows a range", el)
		}
	}
	if out := run(t, env, time.Minute, "gst-inspect-1.0", "reactdetect"); !strings.Contains(out, "Default: 5") {
		t.Fatalf("reactdetect interval default is not 5:\n%s", out)
	}
}

func TestLaunchWithPluginOnVideotestsrc(t *testing.T) {
	env := pluginEnv(t)
	out := run(t, env, 2*time.Minute, "gst-launch-1.0", "videotestsrc", "num-buffers=20", "!", "reactdetect", "interval=2",
		"!", "reactoverlay", "!", "fakesink")
	if !strings.Contains(out, "Got EOS") {
		t.Fatalf("no EOS:\n%s", out)
	}
}

// framesIn decodes an MP4 and counts its frames.
func framesIn(t *testing.T, env []string, path string) int {
	t.Helper()
	out := run(t, env, time.Minute, "gst-launch-1.0", "-v", "filesrc", "location="+path, "!", "qtdemux", "!", "h264parse",
		"!", "avdec_h264", "!", "fakesink", "name=count", "silent=false")
	return strings.Count(out, "chain   ******* (count:sink)")
}

func TestRecipeImagesToMP4(t *testing.T) {
	env := pluginEnv(t)
	img := filepath.Join(pipetest.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1")
	out := filepath.Join(t.TempDir(), "out.mp4")
	log := run(t, env, 3*time.Minute, "./images-to-mp4.sh", img, out, "2")
	if !strings.Contains(log, "Got EOS") {
		t.Fatalf("recipe did not reach EOS:\n%s", log)
	}
	if n := framesIn(t, env, out); n != 8 {
		t.Fatalf("%s holds %d frames, want 8", out, n)
	}
}

func TestRecipeFileToMP4(t *testing.T) {
	env := pluginEnv(t)
	// A short clip made here, so the recipe's decodebin path is exercised.
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	run(t, env, time.Minute, "gst-launch-1.0", "-q", "videotestsrc", "num-buffers=15", "!", "video/x-raw,width=320,height=240",
		"!", "x264enc", "!", "h264parse", "!", "mp4mux", "!", "filesink", "location="+clip)
	out := filepath.Join(t.TempDir(), "out.mp4")
	run(t, env, 2*time.Minute, "./file-to-mp4.sh", clip, out)
	if n := framesIn(t, env, out); n != 15 {
		t.Fatalf("%s holds %d frames, want 15", out, n)
	}
}
