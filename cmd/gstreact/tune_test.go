package main

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// A live input that never delivers a frame: a clear error within a bounded
// time, and nothing in the cache.
func TestTuneSilentRTSPInput(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	var stderr strings.Builder
	saved := tuneStderr
	tuneStderr = &stderr
	defer func() { tuneStderr = saved }()
	cache := t.TempDir()
	start := time.Now()
	err = runTune(context.Background(), []string{"--input", "rtsp://" + ln.Addr().String() + "/cam", "--duration", "2s",
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
