package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/pipetest"
)

// A live input that never delivers a frame: a clear error within a bounded
// time, and nothing in the cache.
func TestTuneSilentRTSPInput(t *testing.T) {
	url := pipetest.SilentRTSP(t)
	var stderr strings.Builder
	saved := tuneStderr
	tuneStderr = &stderr
	defer func() { tuneStderr = saved }()
	cache := t.TempDir()
	start := time.Now()
	err := runTune(context.Background(), []string{"--input", url, "--duration", "2s",
		"--first-frame-timeout", "2s", "--cache-dir", cache, "--max-uplink-kbps", "400"})
	if err == nil || !strings.Contains(err.Error(), "no video frame within 2s") {
		t.Fatalf("error %v\n%s", err, stderr.String())
	}
	if took := time.Since(start); took > 60*time.Second { // a hang bound, not a timing
		t.Fatalf("took %v", took)
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 0 {
		t.Fatalf("cache holds %v after a failed recording", entries)
	}
}
