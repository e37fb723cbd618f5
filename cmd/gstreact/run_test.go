package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/testassets"
)

// set feeds values to a list flag as repeated uses would.
func set(l *listFlag, values ...string) []string {
	for _, v := range values {
		l.Set(v)
	}
	return l.vals
}

func TestRunStreamsFromFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.mp4")
	s, err := streamsFromFlags(set(newList(), "test,test", "test"), []string{out}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 3 || s[0].ID != "cam0" || s[2].ID != "cam2" || s[1].Output != filepath.Join(dir, "out-cam1.mp4") {
		t.Fatalf("streams %+v", s)
	}
	s, err = streamsFromFlags([]string{"test", "test"}, []string{"rtsp://0.0.0.0:8554/live"}, set(newList(), "door, yard"))
	if err != nil || s[0].Output != "rtsp://0.0.0.0:8554/live/door" || s[1].Output != "rtsp://0.0.0.0:8554/live/yard" || s[1].ID != "yard" {
		t.Fatalf("rtsp: %+v %v", s, err)
	}
	s, err = streamsFromFlags([]string{"test", "test"}, []string{"rtsp://0.0.0.0:8554/cam%d"}, nil)
	if err != nil || s[1].Output != "rtsp://0.0.0.0:8554/cam1" {
		t.Fatalf("pattern: %+v %v", s, err)
	}
	// One input keeps the old behaviour: no stream id unless given.
	s, err = streamsFromFlags([]string{"test"}, []string{out}, nil)
	if err != nil || s[0].ID != "" || s[0].Output != out {
		t.Fatalf("single: %+v %v", s, err)
	}
	for _, bad := range [][3][]string{
		{{"test", "test"}, {"a.mp4", "b.mp4", "c.mp4"}, nil},
		{{"test", "test"}, nil, {"x"}},
		{{"test", "test"}, nil, {"x", "x"}},
		{{"test", "test"}, {"same.mp4", "same.mp4"}, nil},
	} {
		if _, err := streamsFromFlags(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// An existing file is one input even with a comma in its name; other values
// are comma lists.
func TestRunInputFlagKeepsExistingFiles(t *testing.T) {
	file := filepath.Join(t.TempDir(), "yard,north.mp4")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	err := runRunTo(context.Background(), []string{"--input", file, "--input", "test,test", "--print-pipeline"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "yard,north.mp4") || strings.Count(out, "cam") < 3 {
		t.Fatalf("want the file whole and 3 streams:\n%s", out)
	}
}

func TestRunPrintPipeline(t *testing.T) {
	var stdout, stderr strings.Builder
	err := runRunTo(context.Background(), []string{"--input", "rtsp://127.0.0.1:1/cam", "--input", "test",
		"--output", "rtsp://0.0.0.0:8554/live", "--encoder", "openh264enc", "--bitrate", "1500", "--print-pipeline"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	got := stdout.String()
	for _, want := range []string{"# cam0\nappsrc name=src", `stream-id="cam1"`, "openh264enc bitrate=1500000 gop-size=30", "appsink name=rtspout"} {
		if !strings.Contains(got, want) {
			t.Errorf("pipeline lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(stderr.String(), "rtspsrc location=\"rtsp://127.0.0.1:1/cam\"") || !strings.Contains(stderr.String(), "rtsp://0.0.0.0:8554/live/cam0") {
		t.Errorf("notes:\n%s", stderr.String())
	}
	stdout.Reset()
	if err := runRunTo(context.Background(), []string{"--input", "rtsp://127.0.0.1:1/cam", "--reconnect=false", "--print-pipeline", "--no-cloud"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout.String(), "uridecodebin") {
		t.Errorf("--reconnect=false: %s", stdout.String())
	}
}

func TestObjectsLine(t *testing.T) {
	for _, c := range []struct {
		in   map[string]int
		want string
	}{
		{nil, ""},
		{map[string]int{"car": 2, "person": 9, "bicycle": 2}, "13 objects: 9 person, 2 bicycle, 2 car"},
		{map[string]int{"dog": 1}, "1 object: 1 dog"},
	} {
		if got := objectsLine(c.in); got != c.want {
			t.Errorf("objectsLine(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// --rtt-log writes one line per cloud reply that eval --latency-trace reads
// back: no reply twice, each with its round trip.
func TestRunRTTLog(t *testing.T) {
	testassets.Model(t, "yolox_nano_416x416")
	path := filepath.Join(t.TempDir(), "rtt.csv")
	var stdout, stderr strings.Builder
	// The small model as the in-process worker's keeps the replies quick.
	err := runRunTo(context.Background(), []string{"--input", "test", "--test-frames", "150", "--cloud-interval", "10",
		"--cloud-model", "yolox_nano_416x416", "--rtt-log", path, "--quiet"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != eval.RTTLogHeader || len(lines) < 2 {
		t.Fatalf("want the header and at least one reply:\n%s\n%s", b, stderr.String())
	}
	frames := map[string]bool{}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) != 3 || f[2] != "stream0" || frames[f[0]] {
			t.Fatalf("line %q: want frame,rtt_ms,stream0, each frame once:\n%s", l, b)
		}
		frames[f[0]] = true
	}
	tr, err := eval.ReadLatencyTrace(path)
	if err != nil || len(tr.RTTs) != len(lines)-1 || tr.Mean() <= 0 {
		t.Fatalf("trace %+v: %v", tr, err)
	}
	if err := runRunTo(context.Background(), []string{"--input", "test", "--no-cloud", "--rtt-log", path}, &stdout, &stderr); err == nil {
		t.Error("--rtt-log with --no-cloud accepted")
	}
}
