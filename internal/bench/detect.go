package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/elements/reactdetect"
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

	// Each frame the element handles is paired with a bare run of its own
	// session just before it, on the streaming thread (a probe on its sink
	// pad runs the session twice and times the second, as a bare loop
	// would): the element's time for the frame (sink pad to src pad)
	// against the bare run's. This machine's speed drifts over seconds (a
	// shared VM here ran the same model at 14 and 24 ms in successive
	// seconds); a pair 20 ms apart cancels the drift where loops of separate
	// runs, even alternated, left the ratio between 0.92 and 1.13 in six
	// quick runs. Same session, same thread, same input: what the element
	// adds is its letterbox, decode and GStreamer work, and what its own run
	// loses by coming after them (detect_restart_ms). How a session's runs
	// compare differs from session to session, so the rounds are many.
	n := p.ratioFrames
	desc := fmt.Sprintf("filesrc location=%s ! jpegdec ! imagefreeze num-buffers=%d ! reactdetect name=detect interval=1 model-file=%s ! fakesink name=sink sync=false",
		launch.Quote(img[0]), n+3, launch.Quote(e.edge))
	rawBefore, err := rawRun(edge, n)
	if err != nil {
		return err
	}
	var elems, added, restarts, ratios []float64
	for range p.ratioRounds {
		if err := ctx.Err(); err != nil {
			return err
		}
		pr := newPairedRuns(n + 3)
		res, err := runPipeline(ctx, pipeSpec{desc: desc, probes: [][2]string{{"detect", "src"}}, capacity: n + 3,
			timeout: 5 * time.Minute, setup: pr.attach})
		if err != nil {
			return err
		}
		if pr.err != nil {
			return pr.err
		}
		out := res.times["detect.src"]
		// The first frames warm the session up (its first run takes about
		// twice as long) and are left out, as the bare loop's warm-up is.
		for i := 3; i < min(len(out), pr.n); i++ {
			el := out[i] - pr.in[i]
			if pr.raw[i] <= 0 || el <= 0 {
				continue
			}
			elems = append(elems, float64(el)/1e6)
			added = append(added, float64(el-pr.raw[i])/1e6)
			if pr.inf[i] > 0 {
				restarts = append(restarts, float64(pr.inf[i]-pr.raw[i])/1e6)
			}
			ratios = append(ratios, float64(pr.raw[i])/float64(el))
		}
	}
	if len(ratios) == 0 {
		return fmt.Errorf("no frame of %q was timed against a bare run", desc)
	}
	rawAfter, err := rawRun(edge, n)
	if err != nil {
		return err
	}
	el := median(elems)
	pairs := fmt.Sprintf("median over %d frames (%d rounds of %d)", len(ratios), p.ratioRounds, n)
	e.add(1, "raw_edge_ms", "raw ORT 416x416 (edge floor)", (ms(rawBefore)+ms(rawAfter))/2, "ms/inference",
		fmt.Sprintf("bare session.Run loop, %s, mean of a loop of %d before and after the element's rounds", filepath.Base(e.edge), n))

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
		"1080p I420 frame (imagefreeze), the element's sink pad to its src pad, "+pairs)
	e.add(2, "detect_vs_raw_ratio", "reactdetect vs raw ORT", median(ratios), "ratio",
		"a bare run of the element's session / the element's time for the frame after it, "+pairs+" (target ≥ 0.95)")
	e.add(2, "detect_added_ms", "  what the element adds", median(added), "ms/frame",
		"the element's time for a frame less the bare run before it (letterbox, decode, GStreamer, restart), "+pairs)
	e.add(2, "detect_restart_ms", "  its run after the letterbox", median(restarts), "ms/frame",
		"the element's session.Run less the bare run before it: ONNX Runtime's threads resuming after other work (0.5-1 ms on a shared VM, whose hypervisor parks a vCPU that spins)")

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

// pairedRuns is a probe on reactdetect's sink pad that runs the element's
// session twice, bare, before each frame reaches the element: raw[i] is the
// second run's time and in[i] when it ended (monoNow), so that a probe on
// the src pad gives the element's own time for frame i.
type pairedRuns struct {
	raw, in []int64
	inf     []int64 // the element's own session.Run for frame i (read at frame i+1)
	n       int     // frames seen (streaming thread only until the run ends)
	err     error
}

func newPairedRuns(capacity int) *pairedRuns {
	return &pairedRuns{raw: make([]int64, capacity), in: make([]int64, capacity), inf: make([]int64, capacity)}
}

func (pr *pairedRuns) attach(p *gst.Pipeline) error {
	el, err := p.GetElementByName("detect")
	if err != nil {
		return fmt.Errorf("no element named detect: %w", err)
	}
	det, ok := glib.FromObjectUnsafePrivate(el.Unsafe()).(*reactdetect.Element)
	if !ok {
		return errors.New("the element named detect is not a reactdetect")
	}
	pad := el.GetStaticPad("sink")
	if pad == nil {
		return errors.New("reactdetect has no sink pad")
	}
	pad.AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		i := pr.n
		if i >= len(pr.raw) || pr.err != nil {
			return gst.PadProbeOK
		}
		pr.n++
		d := det.Detector()
		if d == nil {
			return gst.PadProbeOK
		}
		if i > 0 {
			pr.inf[i-1] = int64(d.Last.Inference)
		}
		// Two runs, the second timed: a run straight after another is the
		// bare loop's, and on this VM one after any other work (even 50 µs
		// of it) took 0.5-1 ms longer, which the element's run pays after
		// its letterbox and a lone bare run would pay too, hiding it.
		s := d.Session()
		if err := s.Run(); err != nil {
			pr.err = err
			return gst.PadProbeOK
		}
		t0 := monoNow()
		if err := s.Run(); err != nil {
			pr.err = err
			return gst.PadProbeOK
		}
		t1 := monoNow()
		pr.raw[i], pr.in[i] = t1-t0, t1
		return gst.PadProbeOK
	})
	return nil
}
