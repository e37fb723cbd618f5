package elements_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/launch"
	"github.com/gst-react/gst-react/internal/mot"
	"github.com/gst-react/gst-react/internal/onnx/onnxtest"
	"github.com/gst-react/gst-react/internal/pipetest"
	"github.com/gst-react/gst-react/internal/testassets"
)

func motSource(t *testing.T, seq string) (string, *mot.GroundTruth) {
	t.Helper()
	dir := filepath.Join(testassets.SharedAssets(t), "video", seq)
	in, err := launch.ResolveInput(dir)
	if err != nil {
		t.Fatal(err)
	}
	gt, err := mot.LoadGT(dir)
	if err != nil {
		t.Fatal(err)
	}
	return in.Source(0), gt
}

// personRecall scores the "person" boxes of every frame against eval=1 GT rows.
func personRecall(frames []pipetest.Frame, gt *mot.GroundTruth) (float64, int) {
	matched, total := 0, 0
	for _, f := range frames {
		var persons []detection.Detection
		for _, d := range f.Dets {
			if d.Class == 0 {
				persons = append(persons, d)
			}
		}
		m, n := mot.Matches(persons, gt.Frames[f.Index+1], 0.5)
		matched += m
		total += n
	}
	return float64(matched) / math.Max(1, float64(total)), total
}

func TestDetectFindsPeopleOnMOT17(t *testing.T) {
	src, gt := motSource(t, "MOT17-04-FRCNN-mini")
	for _, tc := range []struct {
		model     string
		minRecall float64
	}{
		{"yolox_nano_416x416", 0.25},
		{"yolox_nano_736x1280", 0.55},
	} {
		t.Run(tc.model, func(t *testing.T) {
			desc := fmt.Sprintf("%s ! videoconvert ! reactdetect name=det interval=1 model-file=%s ! fakesink name=sink",
				src, launch.Quote(testassets.Model(t, tc.model)))
			res, err := pipetest.Run(desc, 2*time.Minute, pipetest.Probe{Element: "sink", Pad: "sink"})
			if err != nil || len(res.Errors) > 0 {
				t.Fatalf("run: %v %s", err, res.ErrorText())
			}
			frames := res.Frames["sink.sink"]
			if len(frames) != 8 {
				t.Fatalf("got %d frames, want 8", len(frames))
			}
			recall, total := personRecall(frames, gt)
			t.Logf("%s: person recall %.3f over %d GT boxes (IoU 0.5, score >= 0.3)", tc.model, recall, total)
			if recall < tc.minRecall {
				t.Fatalf("person recall %.3f < %.2f", recall, tc.minRecall)
			}
			for _, f := range frames {
				if !f.HasMeta || !f.Detected || f.FrameNum != uint64(f.Index) {
					t.Fatalf("frame %d: frame meta %+v", f.Index, f)
				}
				for i, d := range f.Dets {
					if d.Source != detection.SourceEdge || d.Score < 0.3 || d.Score > 1 || d.Box.Empty() || f.Labels[i] == "" {
						t.Fatalf("frame %d: bad detection %+v label %q", f.Index, d, f.Labels[i])
					}
				}
			}
		})
	}
}

func TestDetectIntervalMarksFrames(t *testing.T) {
	src, _ := motSource(t, "MOT17-04-FRCNN-mini")
	desc := fmt.Sprintf("%s ! videoconvert ! reactdetect interval=3 classes=person ! fakesink name=sink", src)
	res, err := pipetest.Run(desc, time.Minute, pipetest.Probe{Element: "sink", Pad: "sink"})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	frames := res.Frames["sink.sink"]
	if len(frames) != 8 {
		t.Fatalf("got %d frames, want 8", len(frames))
	}
	for _, f := range frames {
		want := f.Index%3 == 0
		if !f.HasMeta || f.Detected != want {
			t.Fatalf("frame %d: detected=%v hasMeta=%v, want detected=%v", f.Index, f.Detected, f.HasMeta, want)
		}
		if !want && len(f.Dets) != 0 {
			t.Fatalf("frame %d: %d boxes on a frame the detector skipped", f.Index, len(f.Dets))
		}
		if want && len(f.Dets) == 0 {
			t.Fatalf("frame %d: no people found", f.Index)
		}
		for i := range f.Dets {
			if f.Dets[i].Class != 0 || f.Labels[i] != "person" {
				t.Fatalf("classes=person let through class %d (%s)", f.Dets[i].Class, f.Labels[i])
			}
		}
	}
}

// The detector reads every supported format natively; the boxes must not
// depend on which one upstream negotiated.
func TestDetectFormatsAgree(t *testing.T) {
	dir := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1", "000001.jpg")
	var ref []detection.Detection
	for _, format := range []string{"RGB", "BGR", "BGRx", "xRGB", "RGBA", "ABGR", "I420", "NV12"} {
		desc := fmt.Sprintf("filesrc location=%s ! jpegdec ! videoconvert ! video/x-raw,format=%s ! reactdetect interval=1 ! fakesink name=sink",
			launch.Quote(dir), format)
		res, err := pipetest.Run(desc, time.Minute, pipetest.Probe{Element: "sink", Pad: "sink"})
		if err != nil || len(res.Errors) > 0 {
			t.Fatalf("%s: %v %s", format, err, res.ErrorText())
		}
		dets := res.Frames["sink.sink"][0].Dets
		if ref == nil {
			ref = dets
			if len(ref) < 10 {
				t.Fatalf("RGB: only %d boxes", len(ref))
			}
			continue
		}
		// Count boxes of this format that match a reference box closely.
		match := 0
		for _, d := range dets {
			for _, r := range ref {
				if d.Class == r.Class && detection.IoU(d.Box, r.Box) > 0.8 {
					match++
					break
				}
			}
		}
		t.Logf("%s: %d boxes, %d match RGB's %d", format, len(dets), match, len(ref))
		if float64(match) < 0.8*float64(len(ref)) {
			t.Fatalf("%s: only %d of %d boxes agree with RGB", format, match, len(ref))
		}
	}
}

func TestVideotestsrcRunsCleanWithNoBoxes(t *testing.T) {
	desc := "videotestsrc num-buffers=12 pattern=black ! video/x-raw,width=320,height=240,format=I420 ! reactdetect interval=1 ! identity name=before ! reactoverlay ! fakesink name=sink"
	res, err := pipetest.Run(desc, time.Minute,
		pipetest.Probe{Element: "before", Pad: "src", Pixels: true}, pipetest.Probe{Element: "sink", Pad: "sink", Pixels: true})
	if err != nil || len(res.Errors) > 0 || len(res.Warnings) > 0 {
		t.Fatalf("run: %v errors=%v warnings=%v", err, res.Errors, res.Warnings)
	}
	before, after := res.Frames["before.src"], res.Frames["sink.sink"]
	if len(after) != 12 {
		t.Fatalf("got %d frames, want 12", len(after))
	}
	for i, f := range after {
		if len(f.Dets) != 0 {
			t.Fatalf("frame %d: %d boxes on a black frame", i, len(f.Dets))
		}
		if string(f.Pixels) != string(before[i].Pixels) {
			t.Fatalf("frame %d: reactoverlay changed a frame without boxes", i)
		}
	}
}

// reactoverlay must draw on the box edges and leave everything far from a
// box (and its label) untouched.
func TestOverlayChangesPixelsOnlyNearBoxes(t *testing.T) {
	img := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1", "000001.jpg")
	const w, h, thick = 960, 540, 2
	for _, format := range []string{"BGRx", "RGB"} {
		desc := fmt.Sprintf("filesrc location=%s ! jpegdec ! videoconvert ! videoscale ! video/x-raw,width=%d,height=%d,format=%s ! reactdetect interval=1 ! identity name=before ! reactoverlay thickness=%d ! fakesink name=sink",
			launch.Quote(img), w, h, format, thick)
		res, err := pipetest.Run(desc, time.Minute,
			pipetest.Probe{Element: "before", Pad: "src", Pixels: true}, pipetest.Probe{Element: "sink", Pad: "sink", Pixels: true})
		if err != nil || len(res.Errors) > 0 {
			t.Fatalf("run: %v %s", err, res.ErrorText())
		}
		before, after := res.Frames["before.src"][0], res.Frames["sink.sink"][0]
		if len(after.Dets) == 0 {
			t.Fatal("no boxes to draw")
		}
		bpp := 4
		if format == "RGB" {
			bpp = 3
		}
		stride := (w*bpp + 3) &^ 3
		changed := func(x, y int) bool {
			o := y*stride + x*bpp
			return string(before.Pixels[o:o+bpp]) != string(after.Pixels[o:o+bpp])
		}
		// Every changed pixel lies near a box: within the line, or in the label
		// band above it (labels are at most 40 px tall and 200 px wide here; a label
		// near the right edge is shifted left to stay in the frame).
		near := func(x, y int) bool {
			fx, fy := float32(x), float32(y)
			for _, d := range after.Dets {
				b := d.Box
				if fx >= b.X1-200 && fx <= b.X2+200 && fy >= b.Y1-40 && fy <= b.Y2+thick+2 {
					return true
				}
			}
			return false
		}
		nChanged := 0
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				if changed(x, y) {
					nChanged++
					if !near(x, y) {
						t.Fatalf("%s: pixel (%d,%d) changed far from every box", format, x, y)
					}
				}
			}
		}
		// Box edges are drawn: most pixels on each box's left edge changed.
		for _, d := range after.Dets {
			x := int(d.Box.X1 + 0.5)
			y0, y1 := int(d.Box.Y1+0.5)+thick, int(d.Box.Y2+0.5)-thick
			if x < 0 || x >= w || y1-y0 < 4 {
				continue
			}
			on := 0
			for y := max(y0, 0); y < min(y1, h); y++ {
				if changed(x, y) {
					on++
				}
			}
			if float64(on) < 0.3*float64(y1-y0) {
				t.Fatalf("%s: box %+v: only %d of %d left-edge pixels changed", format, d.Box, on, y1-y0)
			}
		}
		// Far from every box nothing changed, and plenty of such pixels exist.
		t.Logf("%s: %d boxes, %d pixels changed of %d", format, len(after.Dets), nChanged, w*h)
		if nChanged == 0 || nChanged > w*h/2 {
			t.Fatalf("%s: %d pixels changed", format, nChanged)
		}
	}
}

func TestMissingModelNamesTheFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-model.onnx")
	corrupt := filepath.Join(t.TempDir(), "corrupt.onnx")
	os.WriteFile(corrupt, []byte("this is not an ONNX model"), 0o644)
	for _, tc := range []struct{ path, reason string }{
		{missing, "no such file"},
		{corrupt, "not a readable ONNX model"},
	} {
		desc := fmt.Sprintf("videotestsrc num-buffers=5 ! reactdetect model-file=%s ! fakesink", launch.Quote(tc.path))
		res, err := pipetest.Run(desc, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		msg := res.ErrorText()
		if !strings.Contains(msg, tc.path) || !strings.Contains(msg, tc.reason) {
			t.Fatalf("error for %s should name the file and say %q; got: %s", tc.path, tc.reason, msg)
		}
	}
}

func TestWrongLabelsFileLength(t *testing.T) {
	lf := filepath.Join(t.TempDir(), "labels.txt")
	os.WriteFile(lf, []byte("cat\ndog\n"), 0o644)
	res, err := pipetest.Run(fmt.Sprintf("videotestsrc num-buffers=2 ! reactdetect labels-file=%s ! fakesink", launch.Quote(lf)), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msg := res.ErrorText(); !strings.Contains(msg, "80 classes") || !strings.Contains(msg, "has 2") {
		t.Fatalf("want a class-count mismatch error, got: %s", msg)
	}
}

func TestWrongCapsFailNegotiation(t *testing.T) {
	for _, el := range []string{"reactdetect", "reactoverlay"} {
		// Either the launch parser refuses the link or negotiation fails at run
		// time; both are clean failures with a message, not a crash or a hang.
		res, err := pipetest.Run("videotestsrc num-buffers=3 ! video/x-raw,format=GRAY8 ! "+el+" ! fakesink", 30*time.Second)
		msg := ""
		if err != nil {
			msg = err.Error()
		} else {
			msg = res.ErrorText()
		}
		if low := strings.ToLower(msg); !strings.Contains(low, "could not link") && !strings.Contains(low, "not-negotiated") && !strings.Contains(low, "negotiat") {
			t.Fatalf("%s with GRAY8: want a negotiation error, got: %q", el, msg)
		}
	}
}

// A valid ONNX model whose output is no detection head: the error names the
// file and says what output it has and what was expected.
func TestWrongShapeModelSaysWhatIsWrong(t *testing.T) {
	testassets.InitORT(t)
	model := onnxtest.WriteReduceMeanModel(t, t.TempDir(), 64, 64)
	res, err := pipetest.Run(fmt.Sprintf("videotestsrc num-buffers=3 ! reactdetect model-file=%s ! fakesink", launch.Quote(model)), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	msg := res.ErrorText()
	t.Log(msg)
	if !strings.Contains(msg, model) || !strings.Contains(msg, "[1 64 64]") {
		t.Fatalf("want an error naming %s and its output shape, got: %s", model, msg)
	}
}
