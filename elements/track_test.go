package elements_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/pipetest"
)

// Between detector frames reacttrack carries the boxes (source=tracked,
// growing age), keeps track ids across re-detections, and keeps recall close
// to the detector's own: without it those frames would have no boxes at all.
// Both trackers.
func TestTrackCarriesBoxesBetweenDetections(t *testing.T) {
	for _, tracker := range []string{"medianflow", "kcf"} {
		t.Run(tracker, func(t *testing.T) { testTrackCarriesBoxes(t, tracker) })
	}
}

func testTrackCarriesBoxes(t *testing.T, tracker string) {
	src, gt := motSource(t, "MOT17-04-FRCNN-mini")
	const interval = 4
	desc := fmt.Sprintf("%s ! videoconvert ! reactdetect interval=%d ! reacttrack tracker=%s ! fakesink name=sink", src, interval, tracker)
	res, err := pipetest.Run(desc, 2*time.Minute, pipetest.Probe{Element: "sink", Pad: "sink"})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	frames := res.Frames["sink.sink"]
	if len(frames) != 8 {
		t.Fatalf("got %d frames", len(frames))
	}
	var detected, tracked []pipetest.Frame
	for _, f := range frames {
		age := f.Index % interval
		for _, d := range f.Dets {
			wantSrc := detection.SourceTracked
			if age == 0 {
				wantSrc = detection.SourceEdge
			}
			if d.Source != wantSrc || d.Age != age || d.TrackID <= 0 {
				t.Fatalf("frame %d: box %+v, want source %v age %d and a track id", f.Index, d, wantSrc, age)
			}
		}
		if age == 0 {
			detected = append(detected, f)
		} else {
			tracked = append(tracked, f)
		}
	}
	rd, _ := personRecall(detected, gt)
	rt, _ := personRecall(tracked, gt)
	t.Logf("person recall: detector frames %.3f, tracked frames %.3f", rd, rt)
	if rt < 0.8*rd {
		t.Fatalf("tracked frames' recall %.3f fell below 80%% of the detector frames' %.3f", rt, rd)
	}
	// Ids survive the re-detection on frame 4: most frame-3 ids reappear.
	ids := map[int]bool{}
	for _, d := range frames[3].Dets {
		ids[d.TrackID] = true
	}
	kept := 0
	for _, d := range frames[4].Dets {
		if ids[d.TrackID] {
			kept++
		}
	}
	if len(frames[4].Dets) == 0 || float64(kept) < 0.6*float64(len(frames[4].Dets)) {
		t.Fatalf("only %d of %d re-detected boxes kept their track id", kept, len(frames[4].Dets))
	}
}

func TestTrackWithoutDetectorIsANoOp(t *testing.T) {
	res, err := pipetest.Run("videotestsrc num-buffers=10 ! video/x-raw,width=320,height=240 ! reacttrack ! reactoverlay ! fakesink name=sink",
		time.Minute, pipetest.Probe{Element: "sink", Pad: "sink"})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	for _, f := range res.Frames["sink.sink"] {
		if len(f.Dets) != 0 {
			t.Fatalf("frame %d: %d boxes out of nowhere", f.Index, len(f.Dets))
		}
	}
}
