package bench

import (
	"context"
	"fmt"
	"path/filepath"
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
	edgeDet := fmt.Sprintf("reactdetect name=detect interval=%d model-file=%s", pipeK, launch.Quote(e.edge))
	cloudEl := fmt.Sprintf("reactcloud name=cloud server=%s interval=%d", launch.Quote(lc.URL()), pipeM)
	desc := fmt.Sprintf(`multifilesrc location=%s index=0 stop-index=%d caps="image/jpeg,framerate=30/1" ! jpegdec ! videoscale ! video/x-raw,width=960,height=540 ! %s ! reacttrack name=track ! %s ! reactoverlay name=overlay ! fakesink name=sink sync=false`,
		launch.Quote(loc), p.pipeFrames-1, edgeDet, cloudEl)
	rssBefore, _ := readRSS()
	res, err := runPipeline(ctx, pipeSpec{
		desc: desc,
		probes: [][2]string{
			{"detect", "sink"}, {"detect", "src"}, {"track", "src"}, {"cloud", "src"}, {"overlay", "src"},
		},
		capacity: p.pipeFrames, timeout: 10 * time.Minute,
		allocProbe: 4, allocFrom: p.pipeAlloc[0], allocTo: p.pipeAlloc[1], byOwner: true,
		sampleRSS: true, keepElementMessages: true,
	})
	if err != nil {
		return err
	}
	t := func(k string) []int64 { return res.times[k] }
	dIn, dOut, tOut, cOut, oOut := t("detect.sink"), t("detect.src"), t("track.src"), t("cloud.src"), t("overlay.src")
	n := min(len(dIn), len(dOut), len(tOut), len(cOut), len(oOut))
	if n < p.pipeSkip+10 {
		return fmt.Errorf("only %d frames went through the pipeline", n)
	}
	var source, det, detOther, track, cloud, overlay float64
	var nDet, nOther int
	for i := p.pipeSkip; i < n; i++ {
		source += float64(dIn[i] - oOut[i-1])
		d := float64(dOut[i] - dIn[i])
		if i%pipeK == 0 {
			det += d
			nDet++
		} else {
			detOther += d
			nOther++
		}
		track += float64(tOut[i] - dOut[i])
		cloud += float64(cOut[i] - tOut[i])
		overlay += float64(oOut[i] - cOut[i])
	}
	frames := float64(n - p.pipeSkip)
	tDet, tTrack := det/float64(nDet)/1e6, track/frames/1e6
	fps := float64(n-1-p.pipeSkip) / (float64(oOut[n-1]-oOut[p.pipeSkip]) / 1e9)
	bound := 1000 / (tDet/pipeK + tTrack)
	run := fmt.Sprintf("frames %d..%d of %d", p.pipeSkip, n-1, n)
	e.add(4, "pipeline_fps", "edge pipeline 960x540", fps, "frames/s",
		fmt.Sprintf("multifilesrc→jpegdec→videoscale→reactdetect k=%d→reacttrack→reactcloud m=%d→reactoverlay→fakesink sync=false; %s; the in-process cloud worker shares the %d cores",
			pipeK, pipeM, run, e.rep.Machine.Cores))
	e.add(4, "pipeline_bound_fps", "bound 1/(t_detect/k + t_track)", bound, "frames/s",
		fmt.Sprintf("t_detect %.1f ms, t_track %.2f ms, k=%d, from the same run", tDet, tTrack, pipeK))
	e.add(4, "pipeline_vs_bound_ratio", "pipeline / bound", fps/bound, "ratio", "the rest is decode, scale, reactcloud, overlay and the worker")
	e.add(4, "pipeline_source_ms", "  read+jpegdec+videoscale", source/frames/1e6, "ms/frame", "1080p JPEG → 960x540 I420, per frame (probe gaps)")
	e.add(4, "pipeline_detect_ms", "  reactdetect per detection", tDet, "ms/detection",
		fmt.Sprintf("%d detections; %.2f ms on the other frames", nDet, detOther/max(float64(nOther), 1)/1e6))
	e.add(4, "pipeline_track_ms", "  reacttrack", tTrack, "ms/frame", "mean over all frames (seeding and stepping)")
	e.add(4, "pipeline_cloud_ms", "  reactcloud (streaming thread)", cloud/frames/1e6, "ms/frame", "ring store, offload copy, fusion")
	e.add(4, "pipeline_overlay_ms", "  reactoverlay", overlay/frames/1e6, "ms/frame", "")
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
		if i >= e.opts.AllocSites {
			break
		}
		if site.owner == "bench" {
			continue
		}
		e.logf("alloc site %6.2f/frame %-12s %s", float64(site.n)/res.ownerFrames, site.owner, site.stack)
	}
	win := fmt.Sprintf("frames %d..%d of the run above", p.pipeAlloc[0], p.pipeAlloc[1])
	per := func(owner string) float64 { return float64(res.owners[owner]) / res.ownerFrames }
	edgeAllocs := 0.0
	for _, el := range []string{"reactdetect", "reacttrack", "reactcloud", "reactoverlay"} {
		v := per(el)
		edgeAllocs += v
		note := win + "; by allocation stack"
		switch el {
		case "reactdetect":
			note += fmt.Sprintf(", detection every %d frames", pipeK)
		case "reactcloud":
			note += fmt.Sprintf(", with its engine's goroutines and %d-frame offloads", pipeM)
		}
		e.add(7, "allocs_"+strings.TrimPrefix(el, "react"), "allocs "+el, v, "allocs/frame", note)
	}
	e.add(7, "allocs_per_frame", "allocs of the four elements", edgeAllocs, "allocs/frame", "sum of the above (target 0)")
	e.add(7, "pipeline_allocs_per_frame", "allocs of the whole process", float64(res.mallocs)/res.allocFrames, "allocs/frame",
		fmt.Sprintf("same frames (MemStats); by stack: in-process worker %.1f, NATS server %.1f, NATS client %.1f, other %.1f",
			per("cloudworker"), per("nats-server"), per("nats-client"), per("other")))
	return nil
}
