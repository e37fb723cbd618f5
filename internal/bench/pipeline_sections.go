package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gst-react/gst-react/internal/launch"
	"github.com/gst-react/gst-react/internal/runner"
)

const (
	pipeK = 5  // reactdetect interval in the edge pipeline
	pipeM = 30 // reactcloud interval
)

// localCloud starts (once) the embedded NATS server and in-process worker
// that `gstreact run` uses by default.
func (e *env) localCloud(ctx context.Context) (*runner.LocalCloud, error) {
	if e.local != nil {
		return e.local, nil
	}
	lc, err := runner.StartLocalCloud(ctx, runner.LocalCloudOptions{Model: e.cloud})
	if err != nil {
		return nil, err
	}
	e.local = lc
	return lc, nil
}

func (e *env) stopLocalCloud() {
	if e.local != nil {
		e.local.Stop()
		e.local = nil
	}
}

// edgePipeline is section 4's pipeline, with the knobs that were measured to
// choose it (issue 17).
type edgePipeline struct {
	location            string // multifilesrc pattern of the 1080p JPEG stream
	frames              int
	edgeModel, cloudURL string
	// oneThread leaves out the queue after videoscale, so decoding and
	// analysis share one streaming thread (the pipeline before issue 17).
	oneThread bool
	// detectThreads is reactdetect's threads property (0: what gstreact
	// run sets, runner.DetectThreads).
	detectThreads int
}

// desc is the pipeline as gstreact run builds it for a folder of JPEGs:
// decoding and scaling on the source thread, runner.AnalysisQueue, then
// the analysis thread (reactdetect … reactoverlay).
func (ep edgePipeline) desc() string {
	threads := ep.detectThreads
	if threads <= 0 {
		threads = runner.DetectThreads()
	}
	det := fmt.Sprintf("reactdetect name=detect interval=%d threads=%d model-file=%s", pipeK, threads, launch.Quote(ep.edgeModel))
	q := runner.AnalysisQueue + " ! "
	if ep.oneThread {
		q = ""
	}
	cloudEl := fmt.Sprintf("reactcloud name=cloud server=%s interval=%d", launch.Quote(ep.cloudURL), pipeM)
	return fmt.Sprintf(`multifilesrc location=%s index=0 stop-index=%d caps="image/jpeg,framerate=30/1" ! jpegdec name=dec ! videoscale name=scale ! video/x-raw,width=960,height=540 ! %s%s ! reacttrack name=track ! %s ! reactoverlay name=overlay ! fakesink name=sink sync=false`,
		launch.Quote(ep.location), ep.frames-1, q, det, cloudEl)
}

// edgeTimes is what the probes of one edge pipeline run say, per stage.
type edgeTimes struct {
	first, last   int     // the frames measured
	fps, boundFPS float64 // frames/s out of reactoverlay; 1/(t_detect/k + t_track)
	// source: jpegdec + videoscale per frame, on the source thread.
	// wait: the analysis thread waiting for its next frame (with one
	// streaming thread, the source's whole cost).
	source, wait          float64 // ms/frame
	detect, detectOther   float64 // ms per detection; ms on the other frames
	track, cloud, overlay float64 // ms/frame
	detections            int
}

// edgePipelineProbes are the pads measureEdge reads, in its order.
var edgePipelineProbes = [][2]string{
	{"detect", "sink"}, {"detect", "src"}, {"track", "src"}, {"cloud", "src"}, {"overlay", "src"},
	{"dec", "sink"}, {"scale", "src"},
}

// edgeOverlayProbe is the index in edgePipelineProbes of the last element's output.
const edgeOverlayProbe = 4

// measureEdge turns the probe times of a run into per-stage times, skipping
// the first skip frames (start-up). Each stage's time is the gap between the
// probes around it on one frame, so it stays its own with the source on
// another thread; the source is timed from jpegdec's input to videoscale's
// output (reading a page-cached JPEG is left out).
func measureEdge(times map[string][]int64, skip int) (edgeTimes, error) {
	t := func(k string) []int64 { return times[k] }
	dIn, dOut, tOut, cOut, oOut := t("detect.sink"), t("detect.src"), t("track.src"), t("cloud.src"), t("overlay.src")
	decIn, scaleOut := t("dec.sink"), t("scale.src")
	n := min(len(dIn), len(dOut), len(tOut), len(cOut), len(oOut), len(decIn), len(scaleOut))
	if n < skip+10 {
		return edgeTimes{}, fmt.Errorf("only %d frames went through the pipeline", n)
	}
	var r edgeTimes
	var nOther int
	for i := skip; i < n; i++ {
		r.source += float64(scaleOut[i] - decIn[i])
		r.wait += float64(dIn[i] - oOut[i-1])
		d := float64(dOut[i] - dIn[i])
		if i%pipeK == 0 {
			r.detect += d
			r.detections++
		} else {
			r.detectOther += d
			nOther++
		}
		r.track += float64(tOut[i] - dOut[i])
		r.cloud += float64(cOut[i] - tOut[i])
		r.overlay += float64(oOut[i] - cOut[i])
	}
	frames := float64(n-skip) * 1e6
	r.first, r.last = skip, n-1
	r.source, r.wait = r.source/frames, r.wait/frames
	r.detect /= float64(max(r.detections, 1)) * 1e6
	r.detectOther /= float64(max(nOther, 1)) * 1e6
	r.track, r.cloud, r.overlay = r.track/frames, r.cloud/frames, r.overlay/frames
	r.fps = float64(n-1-skip) / (float64(oOut[n-1]-oOut[skip]) / 1e9)
	r.boundFPS = 1000 / (r.detect/pipeK + r.track)
	return r, nil
}

// pipelineSections: (4) the full edge pipeline against the bound its
// detector and tracker set, and from the same run (7) its RSS and the Go
// allocations per frame of each element, attributed by allocation stack.
func (e *env) pipelineSections(ctx context.Context) error {
	lc, err := e.localCloud(ctx)
	if err != nil {
		return err
	}
	img, err := seqImages(e.assets, mainSeq)
	if err != nil {
		return err
	}
	p := e.plan
	loc, err := linkStream(filepath.Join(e.tmp, "stream1080"), img, p.pipeFrames)
	if err != nil {
		return err
	}
	ep := edgePipeline{location: loc, frames: p.pipeFrames, edgeModel: e.edge, cloudURL: lc.URL()}
	rssBefore, _ := readRSS()
	res, err := runPipeline(ctx, pipeSpec{
		desc: ep.desc(), probes: edgePipelineProbes,
		capacity: p.pipeFrames, timeout: 10 * time.Minute,
		allocProbe: edgeOverlayProbe, allocFrom: p.pipeAlloc[0], allocTo: p.pipeAlloc[1], byOwner: true,
		sampleRSS: true, keepElementMessages: true,
	})
	if err != nil {
		return err
	}
	r, err := measureEdge(res.times, p.pipeSkip)
	if err != nil {
		return err
	}
	run := fmt.Sprintf("frames %d..%d of %d", r.first, r.last, r.last+1)
	e.add(4, "pipeline_fps", "edge pipeline 960x540", r.fps, "frames/s",
		fmt.Sprintf("multifilesrc→jpegdec→videoscale→queue→reactdetect k=%d threads=%d→reacttrack→reactcloud m=%d→reactoverlay→fakesink sync=false; %s; the in-process cloud worker shares the %d cores",
			pipeK, runner.DetectThreads(), pipeM, run, e.rep.Machine.Cores))
	e.add(4, "pipeline_bound_fps", "bound 1/(t_detect/k + t_track)", r.boundFPS, "frames/s",
		fmt.Sprintf("t_detect %.1f ms, t_track %.2f ms, k=%d, from the same run", r.detect, r.track, pipeK))
	e.add(4, "pipeline_vs_bound_ratio", "pipeline / bound", r.fps/r.boundFPS, "ratio", "the rest is reactcloud, overlay, waiting for the source, and the worker")
	e.add(4, "pipeline_source_ms", "  jpegdec+videoscale (source thread)", r.source, "ms/frame",
		"1080p JPEG → 960x540 I420, jpegdec input to videoscale output, on its own thread behind the queue")
	e.add(4, "pipeline_wait_ms", "  analysis waits for a frame", r.wait, "ms/frame",
		"reactoverlay's output to reactdetect's next input: ~0 while the source keeps up")
	e.add(4, "pipeline_detect_ms", "  reactdetect per detection", r.detect, "ms/detection",
		fmt.Sprintf("%d detections; %.2f ms on the other frames", r.detections, r.detectOther))
	e.add(4, "pipeline_track_ms", "  reacttrack", r.track, "ms/frame", "mean over all frames (seeding and stepping)")
	e.add(4, "pipeline_cloud_ms", "  reactcloud (streaming thread)", r.cloud, "ms/frame", "ring store, offload copy, fusion")
	e.add(4, "pipeline_overlay_ms", "  reactoverlay", r.overlay, "ms/frame", "")
	st := res.messages["reactcloud-status"]
	offloads, rtt := runner.FieldNumber(st["offloaded"]), runner.FieldNumber(st["mean-rtt-ms"])
	e.add(4, "pipeline_offloads", "  offloads during the run", offloads, "requests",
		fmt.Sprintf("%v replies, %v skipped (in flight), last reactcloud-status", st["replies"], st["skipped-full"]))
	e.add(4, "pipeline_rtt_ms", "  offload round trip under load", rtt, "ms", "mean-rtt-ms of reactcloud-status: the worker competes with the pipeline")
	e.add(7, "rss_mb", "RSS of the running pipeline", res.rssPeak, "MiB",
		fmt.Sprintf("VmRSS peak, whole process (edge model, in-process worker + cloud model, NATS); %.0f MiB before it started", rssBefore))
	if res.allocFrames <= 0 {
		return fmt.Errorf("the allocation window saw no frames")
	}
	for i, site := range res.sites {
		// Past the N most frequent, the elements' own sites still print:
		// they are what allocs_per_frame counts, and one in 40 frames would
		// never make a top N.
		if e.opts.AllocSites == 0 || site.owner == "bench" || (i >= e.opts.AllocSites && !edgeElement(site.owner)) {
			continue
		}
		e.logf("alloc site %6.2f/frame %-12s %s", float64(site.n)/res.ownerFrames, site.owner, site.stack)
	}
	win := fmt.Sprintf("frames %d..%d of the run above", p.pipeAlloc[0], p.pipeAlloc[1])
	per := func(owner string) float64 { return float64(res.owners[owner]) / res.ownerFrames }
	edgeAllocs := 0.0
	for _, el := range edgeElements {
		v := per(el)
		edgeAllocs += v
		note := win + "; by allocation stack"
		switch el {
		case "reactdetect":
			note += fmt.Sprintf(", detection every %d frames", pipeK)
		case "reactcloud":
			note += ", its streaming thread (request goroutines below)"
		}
		e.add(7, "allocs_"+strings.TrimPrefix(el, "react"), "allocs "+el, v, "allocs/frame", note)
	}
	e.add(7, "allocs_per_frame", "allocs of the four elements", edgeAllocs, "allocs/frame", "sum of the above: the per-frame paths (target 0)")
	e.add(7, "allocs_cloud_requests", "allocs of reactcloud's requests", per("reactcloud-requests"), "allocs/frame",
		fmt.Sprintf("%s; its other goroutines, once per offload (every %d frames here), reply or second: JPEG encoding, the NATS request, the reply's fast-forward, the status relay", win, pipeM))
	e.add(7, "pipeline_allocs_per_frame", "allocs of the whole process", float64(res.mallocs)/res.allocFrames, "allocs/frame",
		fmt.Sprintf("same frames (MemStats); by stack: in-process worker %.1f, NATS server %.1f, NATS client %.1f, other %.1f",
			per("cloudworker"), per("nats-server"), per("nats-client"), per("other")))
	return nil
}

// edgeElements are the allocation owners whose sum is allocs_per_frame.
var edgeElements = []string{"reactdetect", "reacttrack", "reactcloud", "reactoverlay"}

func edgeElement(owner string) bool { return slices.Contains(edgeElements, owner) }
