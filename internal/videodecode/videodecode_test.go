package videodecode_test

import (
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/videodecode"
)

var errEnough = errors.New("enough frames")

// TestDecodeClip decodes the first frames of a real H.264 MP4 and stops.
func TestDecodeClip(t *testing.T) {
	clip := filepath.Join(testassets.SharedAssets(t), "clips", "tokyo_street_walk_handheld_moving.mp4")
	var sizes []image.Point
	var grey []uint8
	_, err := videodecode.Decode(context.Background(), clip, func(img *image.RGBA) error {
		sizes = append(sizes, img.Bounds().Size())
		grey = append(grey, img.Pix[img.PixOffset(320, 180)])
		if len(sizes) == 5 {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("Decode returned %v, want the callback's error", err)
	}
	for i, s := range sizes {
		if s != (image.Point{640, 360}) {
			t.Fatalf("frame %d is %v, want 640x360", i, s)
		}
	}
	if grey[0] == 0 && grey[4] == 0 {
		t.Fatalf("frames look black: %v", grey)
	}
}

// TestDecodeFrameRate reads the declared rate of a whole (12.5 fps) clip.
func TestDecodeFrameRate(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes a whole clip")
	}
	clip := filepath.Join(testassets.SharedAssets(t), "clips", "intel_car-detection_static_ccby.mp4")
	n := 0
	fps, err := videodecode.Decode(context.Background(), clip, func(*image.RGBA) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if fps != 12.5 || n != 377 {
		t.Fatalf("got %d frames at %g fps, want 377 at 12.5 (SOURCES.md)", n, fps)
	}
}

func TestDecodeBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.mp4")
	text := filepath.Join(dir, "notes.mp4")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(text, []byte(strings.Repeat("not a video\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		empty:                      "empty",
		text:                       "does not decode as video",
		filepath.Join(dir, "gone"): "no such file",
	} {
		_, err := videodecode.Decode(context.Background(), path, func(*image.RGBA) error { return nil })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%s) = %v, want an error saying %q", filepath.Base(path), err, want)
		}
	}
}
