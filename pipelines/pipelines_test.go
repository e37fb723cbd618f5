package pipelines

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/testlog"
)

// pluginEnv points GStreamer at build/libgstreact.so with a private registry.
func pluginEnv(t *testing.T) []string {
	t.Helper()
	dir := os.Getenv("GSTREACT_PLUGIN_DIR")
	if dir == "" {
		dir = filepath.Join(testassets.ModuleRoot(), "build")
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
	for _, el := range []string{"reactdetect", "reacttrack", "reactcloud", "reactoverlay", "reactpublish"} {
		if !strings.Contains(out, el) {
			t.Fatalf("gst-inspect-1.0 react does not list %s:\n%s", el, out)
		}
	}
	props := map[string][]string{
		"reactdetect":  {"model-file", "interval", "threshold", "nms-threshold", "labels-file", "classes", "threads"},
		"reactoverlay": {"thickness", "show-labels", "min-score"},
		"reacttrack":   {"scale", "grid-size", "levels", "max-fb-error", "iou-threshold"},
		"reactpublish": {"location", "server", "subject", "stream-id", "jetstream", "jetstream-stream", "max-pending", "every-frame"},
		"reactcloud": {"server", "subject", "stream-id", "interval", "change-threshold", "max-inflight", "timeout",
			"jpeg-quality", "jpeg-max-width", "ring-frames", "ring-bytes", "max-lag", "iou-threshold", "decay", "min-score"},
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
	img := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1")
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

// externalCloud starts Debian's nats-server on a free loopback port with
// pipelines/nats.conf, and returns its URL and a function that starts a
// `build/gstreact cloudworker` process on it (killed at the end of the test).
func externalCloud(t *testing.T, env []string) (string, func() (*exec.Cmd, *testlog.Buffer)) {
	t.Helper()
	natsBin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("Debian's nats-server is not installed (make setup installs it)")
	}
	cli := filepath.Join(testassets.ModuleRoot(), "build", "gstreact")
	if _, err := os.Stat(cli); err != nil {
		t.Skipf("no %s: run `make build` first (make test does)", cli)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(t.TempDir(), "nats.conf")
	base, err := os.ReadFile("nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(conf, []byte(strings.Replace(string(base), "127.0.0.1:4222", fmt.Sprintf("127.0.0.1:%d", port), 1)), 0o644)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	srv := exec.Command(natsBin, "-c", conf)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	return url, func() (*exec.Cmd, *testlog.Buffer) {
		var log testlog.Buffer // read while the worker writes to it
		w := exec.Command(cli, "cloudworker", "--nats", url, "--summary-interval", "0")
		w.Env, w.Stdout, w.Stderr = env, &log, &log
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Process.Kill(); w.Wait() })
		return w, &log
	}
}

// pingPong links n frames of the MOT17 mini clip played forward and back
// (n = 0: one period) into a folder, so every frame has people and motion
// stays continuous; it returns the folder and n.
func pingPong(t *testing.T, n int) (string, int) {
	t.Helper()
	img := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1")
	names, _ := filepath.Glob(filepath.Join(img, "*.jpg"))
	if len(names) < 2 {
		t.Fatalf("%s has %d frames", img, len(names))
	}
	dir := t.TempDir()
	period := 2*len(names) - 2
	if n == 0 {
		n = period
	}
	for i := range n {
		k := i % period
		if k >= len(names) {
			k = period - k
		}
		if err := os.Symlink(names[k], filepath.Join(dir, fmt.Sprintf("%06d.jpg", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	return dir, n
}

// The REACT recipe with Debian's nats-server and a separately started
// `gstreact cloudworker`, as the recipe's header tells users to run them.
func TestRecipeReactWithExternalNATSAndWorker(t *testing.T) {
	env := pluginEnv(t)
	url, startWorker := externalCloud(t, env)
	worker, workerLog := startWorker()
	// 30 frames, every 2nd to the cloud: 15 chances for a reply within a
	// run (the clip's own 8 were too few for a worker slowed by a busy core).
	img, frames := pingPong(t, 30)
	out := filepath.Join(t.TempDir(), "out.mp4")
	// The worker subscribes once its model is loaded: wait for it to say so
	// (seconds on one busy core; 2 minutes only catch a hang) rather than
	// race the load with a few tries of the short recipe.
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(workerLog.String(), "cloud worker serving"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the worker is not serving after 2 minutes:\n%s", workerLog.String())
		}
	}
	// A run may still go by during the worker's cold first inference (each
	// request times out after reactcloud's default 2 s): run the recipe
	// again until a reply shows up. Idle the first run has one; 3 minutes
	// only catch a worker that never answers in time.
	var log string
	for try, deadline := 1, time.Now().Add(3*time.Minute); ; try++ {
		log = run(t, env, 3*time.Minute, "./react-to-mp4.sh", img, out, url, "2", "2")
		if strings.Contains(log, "reactcloud-reply") {
			t.Logf("a cloud reply in run %d", try)
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(log, "Got EOS") || !strings.Contains(log, "reactcloud-reply") {
		t.Fatalf("no EOS or no cloud reply on the bus:\n%s\nworker:\n%s", log, workerLog.String())
	}
	if n := framesIn(t, env, out); n != frames {
		t.Fatalf("%s holds %d frames, want %d", out, n, frames)
	}
	// SIGTERM drains and exits cleanly.
	worker.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- worker.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker exit after SIGTERM: %v\n%s", err, workerLog.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("worker did not exit within 30 s of SIGTERM\n%s", workerLog.String())
	}
}

// No Docker engine runs here, so check what can be checked of the images and
// the compose file: the binaries they copy are what `make build` produces, and
// every flag their entrypoints pass exists in that binary's help.
func TestDeployFilesUseExistingFlags(t *testing.T) {
	root := testassets.ModuleRoot()
	cli := filepath.Join(root, "build", "gstreact")
	if _, err := os.Stat(cli); err != nil {
		t.Skipf("no %s: run `make build` first (make test does)", cli)
	}
	if _, err := os.Stat(filepath.Join(root, "build", "libgstreact.so")); err != nil {
		t.Skip("no build/libgstreact.so: run `make plugin` first")
	}
	help := func(cmd string) string {
		out, _ := exec.Command(cli, cmd, "-h").CombinedOutput() // -h exits 0 or 2 depending on the flag package
		return string(out)
	}
	flagRE := regexp.MustCompile(`--([a-z][a-z0-9-]+)`)
	check := func(where, text, cmd string) {
		h := help(cmd)
		for _, m := range flagRE.FindAllStringSubmatch(text, -1) {
			if !strings.Contains(h, "-"+m[1]+" ") && !strings.Contains(h, "-"+m[1]+"\n") {
				t.Errorf("%s passes --%s, which `gstreact %s` does not have", where, m[1], cmd)
			}
		}
	}
	docker, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	d := string(docker)
	for _, copied := range []string{"/src/build/gstreact", "/src/build/libgstreact.so"} {
		if !strings.Contains(d, copied) {
			t.Errorf("Dockerfile does not copy %s", copied)
		}
	}
	cloud := d[strings.Index(d, "AS cloud"):]
	var entry []string
	for _, line := range strings.Split(cloud, "\n") {
		if strings.HasPrefix(line, "ENTRYPOINT") || strings.HasPrefix(line, "CMD") {
			entry = append(entry, line)
		}
	}
	check("Dockerfile cloud target", strings.Join(entry, "\n"), "cloudworker")

	compose, err := os.ReadFile(filepath.Join(root, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := string(compose)
	w, e := strings.Index(c, "\n  worker:"), strings.Index(c, "\n  edge:")
	if w < 0 || e < w {
		t.Fatal("compose.yaml lacks the worker and edge services")
	}
	check("compose.yaml worker", c[w:e], "cloudworker")
	check("compose.yaml edge", c[e:], "run")
	mounts := regexp.MustCompile(`\./pipelines/([a-z0-9-]+\.conf)`).FindAllStringSubmatch(c, -1)
	if len(mounts) == 0 {
		t.Error("compose.yaml mounts no NATS config from pipelines/")
	}
	for _, m := range mounts {
		if _, err := os.Stat(filepath.Join(root, "pipelines", m[1])); err != nil {
			t.Errorf("compose.yaml mounts pipelines/%s: %v", m[1], err)
		}
	}
}

// The JSON recipe on a file URI, writing to a file: one valid record per frame.
func TestRecipeCameraToJSON(t *testing.T) {
	env := pluginEnv(t)
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	img := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1")
	run(t, env, time.Minute, "gst-launch-1.0", "-q", "multifilesrc", "location="+img+"/%06d.jpg", "start-index=1", "stop-index=8",
		"caps=image/jpeg,framerate=30/1", "!", "jpegdec", "!", "videoconvert", "!", "x264enc", "!", "h264parse", "!", "mp4mux", "!", "filesink", "location="+clip)
	out := filepath.Join(t.TempDir(), "detections.jsonl")
	// No NATS server on this port: the recipe still runs, edge-only.
	run(t, env, 2*time.Minute, "./camera-to-json.sh", "file://"+clip, out, "nats://127.0.0.1:1")
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 8 {
		t.Fatalf("%d records for 8 frames:\n%s", len(lines), data)
	}
	persons := 0
	for i, l := range lines {
		var rec struct {
			Stream string `json:"stream"`
			Frame  int    `json:"frame"`
			Boxes  []struct {
				Label  string `json:"label"`
				Source string `json:"source"`
			} `json:"boxes"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("record %d is not JSON: %v\n%s", i, err, l)
		}
		if rec.Stream != "stream0" || rec.Frame != i {
			t.Fatalf("record %d: stream %q frame %d", i, rec.Stream, rec.Frame)
		}
		for _, b := range rec.Boxes {
			if b.Label == "person" {
				persons++
			}
		}
	}
	if persons == 0 {
		t.Fatal("no person boxes in the records of a crowd scene")
	}
}

// A worker process killed with SIGKILL mid-stream (no drain, its connection
// just dies) and a new one started: the pipeline keeps every frame, warns,
// runs edge-only, and takes cloud boxes again from the new worker.
//
// The schedule follows the records the pipeline writes, not the clock, so it
// holds at any speed: the source loops until the test interrupts gst-launch
// (-e: EOS, every frame drains); the kill comes once the first worker has
// served 60 frames with cloud boxes, the new worker once the loss was
// reported, and the end 60 frames after the new worker's first cloud boxes.
func TestWorkerSIGKILLMidStream(t *testing.T) {
	env := pluginEnv(t)
	url, startWorker := externalCloud(t, env)
	first, _ := startWorker()

	// One forward-and-back period of the clip, looped.
	dir, period := pingPong(t, 0)
	records := filepath.Join(t.TempDir(), "records.jsonl")
	var out testlog.Buffer // read while gst-launch writes to it
	// The request timeout outlasts the new worker's cold first inference on
	// a loaded core. The loss is noticed at the first request after the kill
	// (no responders), once the requests the killed worker held have timed
	// out and freed their in-flight slots.
	pipe := exec.Command("gst-launch-1.0", "-e", "-m",
		"multifilesrc", "location="+dir+"/%06d.jpg", "start-index=1", fmt.Sprintf("stop-index=%d", period), "loop=true",
		"caps=image/jpeg,framerate=30/1", "!", "jpegdec", "!", "videoconvert", "!", "videoscale", "!",
		"video/x-raw,width=960,height=540", "!", "reactdetect", "interval=5", "!", "reacttrack", "!",
		"reactcloud", "name=cloud", "server="+url, "interval=10", "timeout=5000", "!",
		"reactpublish", "location="+records, "!", "fakesink", "sync=true")
	pipe.Env, pipe.Stdout, pipe.Stderr = env, &out, &out
	if err := pipe.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pipe.Wait() }()
	t.Cleanup(func() { pipe.Process.Kill() })
	// lines are the complete records written so far (reactpublish flushes
	// whenever its queue runs empty).
	lines := func() []string {
		data, _ := os.ReadFile(records)
		if i := strings.LastIndexByte(string(data), '\n'); i >= 0 {
			return strings.Split(string(data[:i]), "\n")
		}
		return nil
	}
	withCloud := func(from int) (firstAt, count int) {
		firstAt = -1
		for i, l := range lines() {
			if i >= from && strings.Contains(l, `"source":"cloud"`) {
				if firstAt < 0 {
					firstAt = i
				}
				count++
			}
		}
		return
	}
	// waitFor polls cond; the bounds are generous and only catch a hang:
	// starting a worker process means loading its model and a cold first
	// inference, many seconds on a loaded core.
	waitFor := func(what string, bound time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(bound)
		for !cond() {
			select {
			case err := <-done:
				t.Fatalf("the pipeline ended (%v) while waiting for %s:\n%s", err, what, out.String())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s within %v (%d records):\n%s", what, bound, len(lines()), out.String())
			}
		}
	}
	const served = 60 // frames with cloud boxes from a worker before going on
	waitFor("cloud boxes from the first worker", 3*time.Minute, func() bool { _, c := withCloud(0); return c >= served })
	killedAt, logAtKill := len(lines()), len(out.String())
	first.Process.Signal(syscall.SIGKILL)
	waitFor("cloud-unavailable warning after the SIGKILL", time.Minute, func() bool {
		return strings.Contains(out.String()[logAtKill:], "Cloud unavailable")
	})
	restartedAt := len(lines())
	startWorker()
	waitFor("cloud boxes from the new worker", 3*time.Minute, func() bool { f, _ := withCloud(restartedAt); return f >= 0 })
	back, _ := withCloud(restartedAt)
	waitFor("frames after the new worker's first cloud boxes", 3*time.Minute, func() bool { return len(lines()) >= back+served })
	pipe.Process.Signal(os.Interrupt) // -e: EOS, then exit
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pipeline: %v\n%s", err, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("pipeline did not finish within a minute of the interrupt\n%s", out.String())
	}
	log := out.String()
	recs := lines()
	n := len(recs)
	for i, l := range recs {
		var rec struct {
			Frame int `json:"frame"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Frame != i {
			t.Fatalf("record %d: frame %d (%v): frames were lost", i, rec.Frame, err)
		}
	}
	if !strings.Contains(log, "Got EOS") {
		t.Fatalf("the pipeline did not drain to EOS after the interrupt:\n%s", log)
	}
	lost := logAtKill + strings.Index(log[logAtKill:], "Cloud unavailable")
	if !strings.Contains(log[lost:], `state=(string)up`) {
		t.Fatalf("the cloud did not come back after the new worker started:\n%s", log[lost:])
	}
	cloudAtEnd := 0
	for _, l := range recs[n-served:] {
		cloudAtEnd += strings.Count(l, `"source":"cloud"`)
	}
	if cloudAtEnd == 0 {
		t.Fatalf("no cloud boxes in the last %d frames, after the new worker started", served)
	}
	t.Logf("%d records, one per frame; killed at record %d, loss reported by record %d, new worker's cloud boxes from record %d; %d cloud boxes in the last %d frames",
		n, killedAt, restartedAt, back, cloudAtEnd, served)
}
