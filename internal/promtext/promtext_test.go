package promtext

import (
	"strings"
	"testing"
)

func TestEscapeLabel(t *testing.T) {
	for in, want := range map[string]string{
		`cam-1`:        `cam-1`,
		`rtsp://h/"a"`: `rtsp://h/\"a\"`,
		`C:\video`:     `C:\\video`,
		"two\nlines":   `two\nlines`,
		"\\\"\n":       `\\\"\n`,
	} {
		if got := EscapeLabel(in); got != want {
			t.Errorf("EscapeLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHeader(t *testing.T) {
	var b strings.Builder
	Header(&b, "gstreact_run_frames_total", "counter", "Frames out of the pipeline.")
	want := "# HELP gstreact_run_frames_total Frames out of the pipeline.\n# TYPE gstreact_run_frames_total counter\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}
