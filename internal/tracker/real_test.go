package tracker

import (
	"bufio"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
)

// mot17Dir is the MOT17-04 excerpt shared by the repository's tests
// (repo root/../shared/...).
const mot17Dir = "../../../shared/assets/video/MOT17-04-FRCNN-mini"

type gtBox struct {
	id  int
	box detection.Rect
}

// loadGT reads gt_boxes.csv (frame,track_id,x1,y1,x2,y2,mot_class,coco_class,eval)
// and keeps the eval=1 rows, per frame.
func loadGT(t testing.TB, path string) map[int][]gtBox {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int][]gtBox{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		c := strings.Split(sc.Text(), ",")
		if len(c) != 9 || c[8] != "1" {
			continue
		}
		var v [6]float64
		for i := range v {
			if v[i], err = strconv.ParseFloat(c[i], 64); err != nil {
				t.Fatalf("%s: %q: %v", path, sc.Text(), err)
			}
		}
		out[int(v[0])] = append(out[int(v[0])], gtBox{int(v[1]), detection.Rect{X1: float32(v[2]), Y1: float32(v[3]), X2: float32(v[4]), Y2: float32(v[5])}})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// loadJPEGAsI420 decodes a JPEG into an I420 frame. Only the Y plane is filled:
// the tracker never reads chroma.
func loadJPEGAsI420(t testing.TB, path string) frame.Frame {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	img, err := jpeg.Decode(fh)
	if err != nil {
		t.Fatal(err)
	}
	yc, ok := img.(*image.YCbCr)
	if !ok {
		t.Fatalf("%s decodes to %T, want *image.YCbCr", path, img)
	}
	b := yc.Bounds()
	f := frame.Alloc(frame.I420, b.Dx(), b.Dy())
	for y := 0; y < b.Dy(); y++ {
		copy(f.Data[y*f.Stride[0]:y*f.Stride[0]+b.Dx()], yc.Y[y*yc.YStride:y*yc.YStride+b.Dx()])
	}
	return f
}

func TestRealFramesMOT17(t *testing.T) {
	if _, err := os.Stat(filepath.Join(mot17Dir, "img1", "000008.jpg")); err != nil {
		t.Skipf("MOT17 excerpt not available: %v", err)
	}
	gt := loadGT(t, filepath.Join(mot17Dir, "gt", "gt_boxes.csv"))
	const last = 8
	var p Pyramid
	build := func(n int) *Pyramid {
		f := loadJPEGAsI420(t, filepath.Join(mot17Dir, "img1", fmt.Sprintf("%06d.jpg", n)))
		if err := p.Build(&f, 2, 3); err != nil { // 960x540, as the element tracks
			t.Fatal(err)
		}
		return &p
	}
	tr := NewTracks(Config{})
	init := gt[1]
	dets := make([]detection.Detection, len(init))
	for i, g := range init {
		dets[i] = detection.Detection{Box: g.box, Score: 1, Source: detection.SourceEdge}
	}
	out := tr.Update(dets, build(1))
	ourToGT := map[int]int{}
	for i, d := range out {
		ourToGT[d.TrackID] = init[i].id
	}
	for n := 2; n <= last; n++ {
		out = tr.Step(build(n))
		t.Logf("frame %d: %d of %d tracks alive", n, len(out), len(init))
	}
	truth := map[int]detection.Rect{}
	for _, g := range gt[last] {
		truth[g.id] = g.box
	}
	tracked := map[int]detection.Rect{}
	for _, d := range out {
		tracked[ourToGT[d.TrackID]] = d.Box
	}
	// Score every GT object of frame 1 that is still annotated on frame 8:
	// "tracked" is our box (IoU 0 when the track was dropped), "static" is the
	// frame-1 box left where it was, the no-tracker baseline.
	var sumTrack, sumStatic, sumTrackAlive, sumStaticAlive float64
	var n, alive int
	minIoU := 1.0
	for _, g := range init {
		want, ok := truth[g.id]
		if !ok {
			continue
		}
		n++
		st := float64(detection.IoU(g.box, want))
		sumStatic += st
		if got, ok := tracked[g.id]; ok {
			alive++
			it := float64(detection.IoU(got, want))
			sumTrack += it
			sumTrackAlive += it
			sumStaticAlive += st
			minIoU = min(minIoU, it)
			t.Logf("id %3d: tracked IoU %.3f static %.3f", g.id, it, st)
		} else {
			t.Logf("id %3d: lost, static %.3f, frame-1 box %v", g.id, st, g.box)
		}
	}
	meanAll, staticAll := sumTrack/float64(n), sumStatic/float64(n)
	meanAlive, staticAlive := sumTrackAlive/float64(alive), sumStaticAlive/float64(alive)
	t.Logf("frame %d: %d GT objects, %d tracked; mean IoU tracked %.3f (lost = 0) vs static %.3f; over tracked objects %.3f vs static %.3f; worst tracked %.3f",
		last, n, alive, meanAll, staticAll, meanAlive, staticAlive, minIoU)

	// Measured (default Config, 960x540): 41 of 42 tracked (the lost one, id 97,
	// is 93% above the frame on frame 1, below MinVisible); mean IoU 0.905 over
	// tracked objects vs 0.843 static; 0.883 vs 0.847 counting the lost one as
	// 0; worst tracked object 0.629 (id 66, static 0.439). (Without the grid
	// inset, 0.912 and 0.890: these crowded 1080p pedestrians are small, and
	// the inset pays on larger people, see Config.InsetX.) The pedestrians move
	// slowly, so the static baseline is already high and the asserted margins
	// are modest; they still fail if tracking adds nothing over standing still.
	if alive < n-2 {
		t.Errorf("only %d of %d objects tracked to frame %d", alive, n, last)
	}
	if meanAlive < 0.85 {
		t.Errorf("mean IoU of tracked boxes %.3f < 0.85", meanAlive)
	}
	if meanAlive < staticAlive+0.03 {
		t.Errorf("tracking (%.3f) does not beat static boxes (%.3f) by 0.03", meanAlive, staticAlive)
	}
	if meanAll <= staticAll {
		t.Errorf("counting lost tracks as 0, tracking (%.3f) does not beat static boxes (%.3f)", meanAll, staticAll)
	}
	if minIoU < 0.5 {
		t.Errorf("a tracked box has IoU %.3f < 0.5 with its ground truth", minIoU)
	}
}
