package promtext

import "testing"

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
