package videodecode_test

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/pipetest"
	"github.com/gst-react/gst-react/internal/rtspserve"
	"github.com/gst-react/gst-react/internal/videodecode"
)

// Recording a loopback RTSP camera gives a clip Decode reads back at the
// camera's rate.
func TestRecordRTSP(t *testing.T) {
	gst.Init(nil)
	srv, err := rtspserve.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const cam = "( videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! videoconvert ! video/x-raw,format=I420 ! jpegenc ! rtpjpegpay name=pay0 )"
	if err := srv.MountLaunch("/cam", cam, true); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "clip.mkv")
	n, err := videodecode.Record(context.Background(), srv.URL("/cam"), path, time.Second, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	decoded := 0
	fps, err := videodecode.Decode(context.Background(), path, func(img *image.RGBA) error {
		if img.Rect.Dx() != 320 || img.Rect.Dy() != 240 {
			t.Fatalf("frame %v", img.Rect)
		}
		decoded++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// About 15 frames of a 1 s recording; the rate within a loose band, as
	// the first frames' timestamps may bunch up on a busy machine.
	if n < 5 || decoded < 5 || decoded > n || !(fps > 5 && fps < 40) {
		t.Fatalf("recorded %d frames, decoded %d at %g fps", n, decoded, fps)
	}
}

// A server that accepts the connection and never answers: a clear error
// within a bounded time, and no file left.
func TestRecordSilentRTSP(t *testing.T) {
	url := pipetest.SilentRTSP(t)
	path := filepath.Join(t.TempDir(), "clip.mkv")
	start := time.Now()
	_, err := videodecode.Record(context.Background(), url, path, time.Second, 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "no video frame within 2s") {
		t.Fatalf("error %v", err)
	}
	if took := time.Since(start); took > 60*time.Second { // a hang bound, not a timing
		t.Fatalf("took %v", took)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s left behind: %v", path, err)
	}
}
