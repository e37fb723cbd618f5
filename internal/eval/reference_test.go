package eval_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/evalmetrics"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/offload"
)

// synthFrame is a textured frame (so the trackers have something to hold)
// whose brightness is base.
func synthFrame(w, h int, base uint8) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := base + uint8((x*7+y*13)%32)
			img.Set(x, y, color.RGBA{v, v / 2, 255 - v, 255})
		}
	}
	return img
}

// writeSequence writes an unlabelled MOT folder of the frames at fps.
func writeSequence(t *testing.T, dir string, fps float64, frames []*image.RGBA) *eval.Sequence {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "img1"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, img := range frames {
		f, err := os.Create(filepath.Join(dir, "img1", fmt.Sprintf("%06d.jpg", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	ini := fmt.Sprintf("[Sequence]\nframeRate=%g\n", fps)
	if err := os.WriteFile(filepath.Join(dir, "seqinfo.ini"), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := eval.LoadSequence(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Labelled() {
		t.Fatal("a folder without gt/gt.txt is labelled")
	}
	return s
}

// fixedDetector reports the same boxes on every frame.
type fixedDetector struct{ boxes []detection.Detection }

func (d fixedDetector) Detect(*frame.Frame) ([]detection.Detection, error) { return d.boxes, nil }
func (fixedDetector) Close()                                               {}

func fakeModel(t *testing.T, role string, boxes ...detection.Detection) *eval.Model {
	path := filepath.Join(t.TempDir(), role+".onnx")
	if err := os.WriteFile(path, []byte("fake "+role+" model"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &eval.Model{Role: role, Path: path, ScoreThreshold: 0.3, NMSThreshold: 0.45,
		Open: func() (eval.FrameDetector, error) { return fixedDetector{boxes}, nil }}
}

func box(x1, y1, x2, y2 float32, class int, score float32) detection.Detection {
	return detection.Detection{Box: detection.Rect{X1: x1, Y1: y1, X2: x2, Y2: y2}, Class: class, Score: score}
}

// TestSceneChangeOffloads: besides every m-th frame, the replay sends a
// frame whose thumbnail differs from the last sent one by the engine's
// threshold, as reactcloud does, and counts it in the cost.
func TestSceneChangeOffloads(t *testing.T) {
	var frames []*image.RGBA
	for i := range 40 {
		frames = append(frames, synthFrame(160, 96, map[bool]uint8{true: 20, false: 180}[i < 20]))
	}
	seq := writeSequence(t, t.TempDir(), 20, frames)
	car := box(10, 10, 60, 50, 2, 0.9)
	p, err := eval.Prepare(context.Background(), seq, fakeModel(t, "edge", car), fakeModel(t, "cloud", car), eval.PrepareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g := eval.Grid{K: []int{5}, M: []int{30}, Latencies: []time.Duration{0}, Fusion: []eval.FusionParams{eval.DefaultFusionParams()}}
	o := eval.DefaultOptions()
	o.Reference = eval.DefaultReference(seq, []int{2})
	for _, c := range []struct {
		threshold float64
		requests  int // in the 2 s of video
		scene     int
	}{
		{eval.DefaultCloudConfig().ChangeThreshold, 3, 1}, // frames 0, 20 (the cut) and 30
		{0, 2, 0}, // frames 0 and 30
	} {
		o.Cloud.ChangeThreshold = c.threshold
		rs, err := eval.Sweep(context.Background(), p, eval.PingPong(40, 0), g, o)
		if err != nil {
			t.Fatal(err)
		}
		if r := rs[0]; r.SceneChangeRequests != c.scene || r.CloudRequestsPerS != float64(c.requests)/2 {
			t.Errorf("change threshold %g: %d scene changes, %g requests/s; want %d and %d/2 s", c.threshold, r.SceneChangeRequests, r.CloudRequestsPerS, c.scene, c.requests)
		}
	}
}

// TestCloudReferenceAndCost sweeps an unlabelled sequence against the cloud
// reference: cloud-only at m=1, latency 0 is the reference itself, the edge
// model that only sees cars scores half (two classes), and the costs are
// the schedule's counts and reactcloud's request sizes.
func TestCloudReferenceAndCost(t *testing.T) {
	var frames []*image.RGBA
	for range 40 {
		frames = append(frames, synthFrame(320, 192, 60))
	}
	seq := writeSequence(t, t.TempDir(), 20, frames)
	car, person := box(40, 40, 120, 100, 2, 0.9), box(200, 30, 240, 150, 0, 0.8)
	p, err := eval.Prepare(context.Background(), seq, fakeModel(t, "edge", car), fakeModel(t, "cloud", car, person), eval.PrepareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g := eval.Grid{K: []int{4}, M: []int{1}, Latencies: []time.Duration{0}, Fusion: []eval.FusionParams{eval.DefaultFusionParams()}}
	o := eval.DefaultOptions()
	if _, err := eval.Sweep(context.Background(), p, eval.PingPong(40, 0), g, o); err == nil || !strings.Contains(err.Error(), "--reference cloud") {
		t.Fatalf("scoring unlabelled footage against ground truth: %v, want an error naming --reference cloud", err)
	}
	o.Reference = eval.DefaultReference(seq, []int{0, 2})
	rs, err := eval.Sweep(context.Background(), p, eval.PingPong(40, 0), g, o)
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	if r.Reference != "cloud" || r.Classes != "0,2" {
		t.Fatalf("row says reference %q classes %q", r.Reference, r.Classes)
	}
	if r.CloudOnly.MAP50 != 1 || math.Abs(r.EdgeOnly.MAP50-0.5) > 1e-9 || r.Fused.MAP50 < 0.99 {
		t.Fatalf("edge %.3f cloud %.3f fused %.3f, want 0.5, 1, ~1", r.EdgeOnly.MAP50, r.CloudOnly.MAP50, r.Fused.MAP50)
	}
	// 40 frames at 20 fps are 2 s: 10 edge runs, 40 requests.
	if r.EdgeDetectPerS != 5 || r.CloudRequestsPerS != 20 || r.SceneChangeRequests != 0 {
		t.Fatalf("cost %+v, want 5 edge runs/s and 20 requests/s", r.Cost)
	}
	enc := offload.NewRequestEncoder(offload.DefaultConfig())
	total := 0
	for i, sf := range seq.Frames {
		f, err := eval.DecodeImage(sf.Path)
		if err != nil {
			t.Fatal(err)
		}
		msg, jpegBytes, err := enc.Encode(&f, uint64(i))
		if err != nil || jpegBytes < 1000 || len(msg) <= jpegBytes {
			t.Fatalf("request %d bytes around a %d-byte JPEG: %v", len(msg), jpegBytes, err)
		}
		total += len(msg)
	}
	if want := math.Round(float64(total)*8/1000/2*1000) / 1000; r.UplinkKbps != want {
		t.Fatalf("uplink %v kbit/s, want %v", r.UplinkKbps, want)
	}
}

func TestSpearman(t *testing.T) {
	for _, c := range []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		{[]float64{1, 2, 3, 4, 5}, []float64{2, 1, 4, 3, 5}, 0.8},
		{[]float64{1, 1, 2, 3}, []float64{1, 2, 3, 4}, 0.9486832980505138}, // ties share ranks 1.5
	} {
		if got := eval.Spearman(c.x, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Spearman(%v, %v) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	if !math.IsNaN(eval.Spearman([]float64{1, 1, 1}, []float64{1, 2, 3})) || !math.IsNaN(eval.Spearman([]float64{1}, []float64{1})) {
		t.Error("no ranking to compare must be NaN")
	}
	if got := eval.FormatClasses([]int{7, 0, 2, 5, 6, 1}); got != "0-2,5-7" {
		t.Errorf("FormatClasses = %q", got)
	}
}

func TestRankAgreement(t *testing.T) {
	row := func(ref string, k int, fused float64) eval.Result {
		return eval.Result{Sequence: "s", K: k, M: 10, Reference: ref, Classes: "0", Fused: eval.Score{MAP50: fused}}
	}
	rs := []eval.Result{row("gt", 1, 0.9), row("gt", 5, 0.8), row("gt", 10, 0.7),
		row("cloud", 1, 0.5), row("cloud", 5, 0.6), row("cloud", 10, 0.4)}
	a := eval.RankAgreement(rs)
	if len(a) != 1 || a[0].Points != 3 || a[0].A != "gt 0" || a[0].B != "cloud 0" || math.Abs(a[0].Spearman-0.5) > 1e-12 {
		t.Fatalf("RankAgreement = %+v", a)
	}
	if len(eval.RankAgreement(rs[:3])) != 0 {
		t.Fatal("one reference has nothing to agree with")
	}
}

// fakeVideo decodes n synthetic frames at fps, failing with err after them.
func fakeVideo(n int, fps float64, err error, calls *int) eval.VideoDecoder {
	return func(ctx context.Context, path string, fn func(*image.RGBA) error) (float64, error) {
		*calls++
		for i := range n {
			if e := fn(synthFrame(96, 64, uint8(10*i))); e != nil {
				return 0, e
			}
		}
		return fps, err
	}
}

// TestLoadVideo: a video's frames are extracted once into the cache; a
// failed or empty decode leaves nothing behind.
func TestLoadVideo(t *testing.T) {
	dir := t.TempDir()
	clip := filepath.Join(dir, "street cam.mp4")
	if err := os.WriteFile(clip, []byte("stand-in for a video file"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "frames")
	calls := 0
	s, err := eval.LoadVideo(context.Background(), clip, eval.VideoOptions{Dir: cache, Decode: fakeVideo(7, 12.5, nil, &calls)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "street cam" || s.FPS != 12.5 || len(s.Frames) != 7 || s.Video != clip || s.Labelled() {
		t.Fatalf("sequence %q at %g fps, %d frames, video %q", s.Name, s.FPS, len(s.Frames), s.Video)
	}
	f, err := eval.DecodeImage(s.Frames[6].Path)
	if err != nil || f.Width != 96 || f.Height != 64 {
		t.Fatalf("frame 7: %dx%d, %v", f.Width, f.Height, err)
	}
	if s, err = eval.LoadVideo(context.Background(), clip, eval.VideoOptions{Dir: cache}); err != nil || len(s.Frames) != 7 || calls != 1 {
		t.Fatalf("second load: %v, %d decodes; want the cached frames", err, calls)
	}

	broken := errors.New("corrupt stream")
	for name, dec := range map[string]eval.VideoDecoder{
		"empty.mp4":  fakeVideo(0, 30, nil, &calls),
		"broken.mp4": fakeVideo(3, 30, broken, &calls),
		"norate.mp4": fakeVideo(3, 0, nil, &calls),
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := eval.LoadVideo(context.Background(), path, eval.VideoOptions{Dir: cache, Decode: dec}); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	ents, _ := os.ReadDir(cache)
	if len(ents) != 1 {
		t.Fatalf("the frame cache holds %d entries, want only the complete video", len(ents))
	}
}

// TestFindSequencesMixed: a folder may hold MOT folders (labelled or not)
// and video files; other files are skipped, and an empty folder says what
// it wanted.
func TestFindSequencesMixed(t *testing.T) {
	dir := t.TempDir()
	writeSequence(t, filepath.Join(dir, "b-seq"), 25, []*image.RGBA{synthFrame(64, 48, 0)})
	for _, name := range []string{"a-clip.MP4", "notes.txt", "c-clip.mkv"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := eval.FindSequences([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, " ") != "a-clip.MP4 b-seq c-clip.mkv" {
		t.Fatalf("found %v", names)
	}
	if _, err := eval.FindSequences([]string{t.TempDir()}); err == nil || !strings.Contains(err.Error(), "holds no sequence") {
		t.Fatalf("an empty folder: %v", err)
	}
}

// TestReferenceAPInterpolation scores one frame by hand: two cars in the
// reference, one found (score 0.9) and one false box (0.8), so recall stops
// at 0.5 with precision 1 up to it. VOC's every-point AP is the area, 0.5;
// COCO's 101-point AP samples recall 0, 0.01, ..., 0.5: 51 of 101 points.
func TestReferenceAPInterpolation(t *testing.T) {
	seq := writeSequence(t, t.TempDir(), 20, []*image.RGBA{synthFrame(160, 96, 60)})
	a, b := box(10, 10, 50, 50, 2, 0.9), box(100, 10, 140, 50, 2, 0.9)
	p, err := eval.Prepare(context.Background(), seq, fakeModel(t, "edge", a), fakeModel(t, "cloud", a, b), eval.PrepareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stream := [][]detection.Detection{{a, box(60, 60, 90, 90, 2, 0.8)}}
	for _, c := range []struct {
		ap   evalmetrics.Interpolation
		want float64
	}{{evalmetrics.Interp101, 51.0 / 101}, {evalmetrics.EveryPoint, 0.5}} {
		ref := eval.Reference{Kind: eval.ReferenceCloud, Classes: []int{2}, AP: c.ap}
		s, err := ref.ScoreStream(p, []int{0}, stream)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(s.MAP50-c.want) > 1e-9 {
			t.Errorf("%v: mAP@0.5 %.6f, want %.6f", c.ap, s.MAP50, c.want)
		}
	}
}
