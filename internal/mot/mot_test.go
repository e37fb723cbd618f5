package mot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
)

func TestLoadGTShared(t *testing.T) {
	dir := "../../../shared/assets/video/MOT17-04-FRCNN-mini"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("shared assets not present")
	}
	gt, err := LoadGT(dir)
	if err != nil {
		t.Fatal(err)
	}
	if gt.Last != 8 || len(gt.Frames[1]) != 99 {
		t.Fatalf("last=%d frame1=%d rows, want 8 and 99", gt.Last, len(gt.Frames[1]))
	}
	eval := 0
	for _, b := range gt.Frames[1] {
		if b.Eval {
			eval++
		}
	}
	if eval == 0 || eval == 99 {
		t.Fatalf("eval rows on frame 1: %d; want some but not all", eval)
	}
}

func TestLoadGTErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gt.txt")
	os.WriteFile(p, []byte("1,1,10,10,5,5,1,1,1\n2,1,x,10,5,5,1,1,1\n"), 0o644)
	if _, err := LoadGT(p); err == nil {
		t.Fatal("bad number accepted")
	}
	if _, err := LoadGT(filepath.Join(t.TempDir(), "none.txt")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestMatches(t *testing.T) {
	gts := []GTBox{
		{Box: detection.Rect{X1: 0, Y1: 0, X2: 10, Y2: 10}, Eval: true},
		{Box: detection.Rect{X1: 20, Y1: 0, X2: 30, Y2: 10}, Eval: true},
		{Box: detection.Rect{X1: 40, Y1: 0, X2: 50, Y2: 10}, Eval: false},
	}
	dets := []detection.Detection{
		{Box: detection.Rect{X1: 0, Y1: 0, X2: 10, Y2: 10}, Score: 0.9},
		{Box: detection.Rect{X1: 1, Y1: 0, X2: 11, Y2: 10}, Score: 0.8},  // duplicate of the first
		{Box: detection.Rect{X1: 40, Y1: 0, X2: 50, Y2: 10}, Score: 0.7}, // only an ignored box
	}
	m, n := Matches(dets, gts, 0.5)
	if m != 1 || n != 2 {
		t.Fatalf("matched %d of %d, want 1 of 2", m, n)
	}
}
