package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/mot"
	"github.com/gst-react/gst-react/internal/tracker"
)

// trackerSection (3): Median Flow per object per frame on the real MOT17-04
// frames, pyramids at 960x540 (scale 2 of the 1080p frame), the ground-truth
// pedestrians as boxes, tracked frame to frame forward and back.
func (e *env) trackerSection(ctx context.Context) error {
	seq := filepath.Join(e.assets, "video", mainSeq)
	img, err := seqImages(e.assets, mainSeq)
	if err != nil {
		return err
	}
	gt, err := mot.LoadGT(seq)
	if err != nil {
		return err
	}
	cfg := tracker.DefaultConfig()
	const scale = 2
	pyrs := make([]tracker.Pyramid, len(img))
	boxes := make([][]detection.Rect, len(img))
	objects := 0
	var build time.Duration
	for i, path := range img {
		f, err := loadI420(path)
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := pyrs[i].Build(&f, scale, cfg.Levels); err != nil {
			return err
		}
		build += time.Since(t0)
		for _, b := range gt.Frames[i+1] {
			if b.Eval {
				boxes[i] = append(boxes[i], b.Box)
			}
		}
		objects += len(boxes[i])
	}
	if objects == 0 {
		return fmt.Errorf("%s: no ground-truth pedestrians", seq)
	}
	// Pyramid builds again, now that the buffers exist (the element reuses its own).
	f0, err := loadI420(img[0])
	if err != nil {
		return err
	}
	var p tracker.Pyramid
	p.Build(&f0, scale, cfg.Levels)
	builds := 4 * e.plan.trackReps * len(img)
	t0 := time.Now()
	for range builds {
		p.Build(&f0, scale, cfg.Levels)
	}
	pyr := time.Since(t0) / time.Duration(builds)

	mf := tracker.NewMedianFlow(cfg)
	var tracked, kept int
	var spent time.Duration
	for range e.plan.trackReps {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := 0; i+1 < len(pyrs); i++ {
			for _, dir := range [2][2]int{{i, i + 1}, {i + 1, i}} {
				a, b := &pyrs[dir[0]], &pyrs[dir[1]]
				t0 := time.Now()
				for _, box := range boxes[dir[0]] {
					if _, ok := mf.Track(a, b, box); ok {
						kept++
					}
				}
				spent += time.Since(t0)
				tracked += len(boxes[dir[0]])
			}
		}
	}
	// KCF (reacttrack tracker=kcf) on the same pairs: a filter trained on
	// the first frame of the pair (not timed: reacttrack trains on detection
	// frames), then one step, detection and learning, timed.
	kcf := tracker.NewKCF()
	var model tracker.KCFModel
	var kcfTracked, kcfKept int
	var kcfSpent time.Duration
	for range e.plan.trackReps {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := 0; i+1 < len(pyrs); i++ {
			for _, dir := range [2][2]int{{i, i + 1}, {i + 1, i}} {
				a, b := &pyrs[dir[0]], &pyrs[dir[1]]
				for _, box := range boxes[dir[0]] {
					if !kcf.Init(&model, a, box, cfg.MinVisible) {
						continue
					}
					t0 := time.Now()
					if _, ok := kcf.Track(&model, b, box, cfg.MinVisible); ok {
						kcfKept++
					}
					kcfSpent += time.Since(t0)
					kcfTracked++
				}
			}
		}
	}
	per := spent / time.Duration(tracked)
	perFrame := float64(objects) / float64(len(img))
	lv0 := pyrs[0].Levels[0]
	note := fmt.Sprintf("Median Flow %dx%d grid, %d levels at %dx%d, %d tracks of GT boxes, %.0f%% kept",
		cfg.GridSize, cfg.GridSize, len(pyrs[0].Levels), lv0.W, lv0.H, tracked, 100*float64(kept)/float64(tracked))
	e.add(3, "track_us_per_object", "tracker per object per frame", float64(per)/1e3, "µs", note)
	if kcfTracked > 0 {
		e.add(3, "track_kcf_us_per_object", "  KCF per object per frame", float64(kcfSpent/time.Duration(kcfTracked))/1e3, "µs",
			fmt.Sprintf("tracker=kcf, the same %d tracks, %.0f%% kept", kcfTracked, 100*float64(kcfKept)/float64(kcfTracked)))
	}
	e.add(3, "track_objects", "  objects per frame", perFrame, "boxes", "MOT17-04 ground-truth pedestrians (eval=1)")
	e.add(3, "track_pyramid_ms", "  pyramid per frame", ms(pyr), "ms/frame", fmt.Sprintf("grey 960x540 + %d levels from a 1080p I420 frame", cfg.Levels))
	frameMS := ms(pyr) + perFrame*float64(per)/1e6
	e.add(3, "track_frame_ms", "  tracking one frame", frameMS, "ms/frame", "pyramid + every object")
	return nil
}
