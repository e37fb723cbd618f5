package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gst-react/gst-react/internal/detector"
	"github.com/gst-react/gst-react/internal/launch"
	"github.com/gst-react/gst-react/internal/onnx"
)

// rawRun is the mean time of n bare session.Run calls (after one warm-up).
func rawRun(s *onnx.Session, n int) (time.Duration, error) {
	if err := s.Run(); err != nil {
		return 0, err
	}
	t0 := time.Now()
	for range n {
		if err := s.Run(); err != nil {
			return 0, err
		}
	}
	return time.Since(t0) / time.Duration(n), nil
}

// detectSections: (1) raw ONNX Runtime at the edge and cloud input sizes,
// (2) reactdetect interval=1 against the raw floor, and the split of one
// Detect call into its stages.
func (e *env) detectSections(ctx context.Context) error {
	p := e.plan
	img, err := seqImages(e.assets, mainSeq)
	if err != nil {
		return err
	}
	edge, err := onnx.Open(e.edge, onnx.Options{})
	if err != nil {
		return err
	}
	defer edge.Close()

	// Rounds alternate the bare loop and the element, and each element run
	// is compared with the mean of the bare loops just before and after it:
	// this machine's speed drifts over seconds (a shared VM here ran the same
	// model at 14 and 24 ms in successive seconds), and a ratio of adjacent
	// runs cancels that where a ratio of two separate medians does not.
	n := p.ratioFrames
	desc := fmt.Sprintf("filesrc location=%s ! jpegdec ! imagefreeze num-buffers=%d ! reactdetect name=detect interval=1 model-file=%s ! fakesink name=sink sync=false",
		launch.Quote(img[0]), n+3, launch.Quote(e.edge))
	var raws, elems, ratios []float64
	bare := func() error {
		r, err := rawRun(edge, n)
		raws = append(raws, ms(r))
		return err
	}
	if err := bare(); err != nil {
		return err
	}
	for range p.ratioRounds {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := runPipeline(ctx, pipeSpec{desc: desc, probes: [][2]string{{"sink", "sink"}}, capacity: n + 3, timeout: 5 * time.Minute})
		if err != nil {
			return err
		}
		el, err := meanInterval(res.times["sink.sink"], 2)
		if err != nil {
			return err
		}
		if err := bare(); err != nil {
			return err
		}
		elems = append(elems, ms(el))
		around := (raws[len(raws)-2] + raws[len(raws)-1]) / 2
		ratios = append(ratios, around/ms(el))
	}
	raw, el := median(raws), median(elems)
	rounds := fmt.Sprintf("median of %d rounds of %d", p.ratioRounds, n)
	e.add(1, "raw_edge_ms", "raw ORT 416x416 (edge floor)", raw, "ms/inference",
		fmt.Sprintf("bare session.Run loop, %s, median of %d loops of %d", filepath.Base(e.edge), len(raws), n))

	cloud, err := onnx.Open(e.cloud, onnx.Options{})
	if err != nil {
		return err
	}
	rc, err := rawRun(cloud, p.rawCloudRuns)
	cloud.Close()
	if err != nil {
		return err
	}
	e.add(1, "raw_cloud_ms", "raw ORT 736x1280 (cloud floor)", ms(rc), "ms/inference",
		fmt.Sprintf("bare session.Run loop, %s, mean of %d", filepath.Base(e.cloud), p.rawCloudRuns))

	e.add(2, "detect_ms", "reactdetect interval=1", el, "ms/frame",
		"1080p I420 frame (imagefreeze) → fakesink, sink-probe interval, "+rounds)
	e.add(2, "detect_vs_raw_ratio", "reactdetect vs raw ORT", median(ratios), "ratio",
		"throughput of the element / the bare session.Run loops either side of it, "+rounds+" (target ≥ 0.95)")

	// The stages of one Detect call on the same frame, in the same format.
	f, err := loadI420(img[0])
	if err != nil {
		return err
	}
	d, err := detector.New(detector.Config{ModelPath: e.edge, ScoreThreshold: 0.3, NMSThreshold: 0.45})
	if err != nil {
		return err
	}
	defer d.Close()
	d.SetBT709(true)
	var pre, inf, dec time.Duration
	for i := -2; i < p.stageRuns; i++ {
		if _, err := d.Detect(&f); err != nil {
			return err
		}
		if i >= 0 {
			pre += d.Last.Preprocess
			inf += d.Last.Inference
			dec += d.Last.Decode
		}
	}
	k := time.Duration(p.stageRuns)
	total := pre + inf + dec
	note := fmt.Sprintf("detector.Detect on the 1080p I420 frame, mean of %d", p.stageRuns)
	e.add(2, "detect_preprocess_ms", "  preprocess (letterbox 1080p→416)", ms(pre/k), "ms/frame", note)
	e.add(2, "detect_inference_ms", "  inference (session.Run)", ms(inf/k), "ms/frame", note)
	e.add(2, "detect_decode_ms", "  decode + NMS", ms(dec/k), "ms/frame", note)
	e.add(2, "detect_preprocess_pct", "  preprocess share", 100*float64(pre)/float64(total), "%", "of Detect time")
	e.add(2, "detect_inference_pct", "  inference share", 100*float64(inf)/float64(total), "%", "of Detect time")
	e.add(2, "detect_decode_pct", "  decode + NMS share", 100*float64(dec)/float64(total), "%", "of Detect time")
	return nil
}
