// Package runner builds and runs a gst-react pipeline in this process, the
// engine behind `gstreact run`: input → reactdetect → reacttrack → reactcloud
// → reactoverlay → output, with progress, a summary, and a clean EOS on cancel
// so files are finalised. Unless told a NATS URL it starts an embedded NATS
// server on loopback and an in-process cloud worker, so REACT runs with
// nothing else installed.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/elements"
	"github.com/gst-react/gst-react/internal/gstvideo"
	"github.com/gst-react/gst-react/internal/labels"
	"github.com/gst-react/gst-react/internal/launch"
)

// Options for one run. Zero values mean the element defaults.
type Options struct {
	Input, Output string
	Model         string
	Interval      int
	Threshold     float64 // <0: element default
	NMSThreshold  float64 // <0: element default
	Classes       string
	LabelsFile    string
	Threads       int
	Encoder       launch.EncoderOptions
	// TestFrames is the length of the "test" input (videotestsrc).
	TestFrames int

	// NoCloud runs edge-only: reactdetect and reacttrack, no reactcloud.
	NoCloud bool
	// NATS is the server reactcloud talks to; "" starts an embedded server
	// on loopback with an in-process worker (see Worker*).
	NATS string
	// CloudInterval is REACT's m, frames between offloads (0: element default 30).
	CloudInterval int
	// StreamID names this stream on the wire ("" = element default).
	StreamID string
	// CloudModel is the in-process worker's model ("" = the manifest's cloud model).
	CloudModel string
	// WorkerThreads is the in-process worker's ONNX Runtime threads (0 = default).
	WorkerThreads int
	// WorkerLatency is added to each in-process worker reply, to show REACT
	// with a distant cloud.
	WorkerLatency time.Duration
	// Log receives the embedded server's and worker's log lines; nil = discard.
	Log *slog.Logger
	// Progress receives a status line about every ProgressEvery; nil = quiet.
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Summary is what a finished run reports.
type Summary struct {
	Frames   int64
	Boxes    int64
	BySource [3]int64 // boxes by detection.Source: edge, tracked, cloud
	// Cloud is reactcloud's last status (nil without the cloud).
	Cloud    map[string]interface{}
	Elapsed  time.Duration
	Output   string
	Pipeline string
}

// FPS is frames per second of wall time.
func (s Summary) FPS() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Frames) / s.Elapsed.Seconds()
}

// Description is the gst-launch description Run would use.
func Description(o Options) (string, launch.Input, launch.Output, error) {
	in, err := launch.ResolveInput(o.Input)
	if err != nil {
		return "", in, launch.Output{}, err
	}
	out, err := launch.ResolveOutput(o.Output, o.Encoder)
	if err != nil {
		return "", in, out, err
	}
	det := []string{"reactdetect name=detect"}
	if o.Model != "" {
		det = append(det, "model-file="+launch.Quote(o.Model))
	}
	if o.Interval > 0 {
		det = append(det, fmt.Sprintf("interval=%d", o.Interval))
	}
	if o.Threshold >= 0 {
		det = append(det, fmt.Sprintf("threshold=%g", o.Threshold))
	}
	if o.NMSThreshold >= 0 {
		det = append(det, fmt.Sprintf("nms-threshold=%g", o.NMSThreshold))
	}
	if o.Classes != "" {
		det = append(det, "classes="+launch.Quote(o.Classes))
	}
	if o.LabelsFile != "" {
		det = append(det, "labels-file="+launch.Quote(o.LabelsFile))
	}
	if o.Threads > 0 {
		det = append(det, fmt.Sprintf("threads=%d", o.Threads))
	}
	stages := []string{strings.Join(det, " "), "reacttrack name=track"}
	if !o.NoCloud {
		cloud := []string{"reactcloud name=cloud"}
		if o.NATS != "" {
			cloud = append(cloud, "server="+launch.Quote(o.NATS))
		}
		if o.CloudInterval > 0 {
			cloud = append(cloud, fmt.Sprintf("interval=%d", o.CloudInterval))
		}
		if o.StreamID != "" {
			cloud = append(cloud, "stream-id="+launch.Quote(o.StreamID))
		}
		stages = append(stages, strings.Join(cloud, " "))
	}
	desc := fmt.Sprintf("%s ! videoconvert ! %s ! reactoverlay name=overlay ! %s",
		in.Source(o.TestFrames), strings.Join(stages, " ! "), out.Sink)
	return desc, in, out, nil
}

var initOnce atomic.Bool

// Init initialises GStreamer and registers the gst-react elements in-process.
func Init() error {
	if initOnce.CompareAndSwap(false, true) {
		gst.Init(nil)
	}
	return elements.RegisterStatic()
}

// Run plays the pipeline to the end of the input (or until ctx is cancelled,
// which sends EOS so the output file is complete).
func Run(ctx context.Context, o Options) (Summary, error) {
	if _, _, out, err := Description(o); err != nil {
		return Summary{Output: out.File}, err // bad input or output: say so before starting anything
	}
	if !o.NoCloud && o.NATS == "" {
		cloud, err := StartLocalCloud(context.WithoutCancel(ctx), LocalCloudOptions{Model: o.CloudModel, Threads: o.WorkerThreads, ExtraLatency: o.WorkerLatency, Log: o.Log})
		if err != nil {
			return Summary{}, err
		}
		defer cloud.Stop()
		o.NATS = cloud.URL()
	}
	desc, in, out, err := Description(o)
	sum := Summary{Output: out.File, Pipeline: desc}
	if err != nil {
		return sum, err
	}
	if err := Init(); err != nil {
		return sum, err
	}
	pipeline, err := gst.NewPipelineFromString(desc)
	if err != nil {
		return sum, fmt.Errorf("building pipeline: %w\n  pipeline: %s", err, desc)
	}
	defer pipeline.SetState(gst.StateNull)

	var frames, boxes atomic.Int64
	var bySource [3]atomic.Int64
	overlay, err := pipeline.GetElementByName("overlay")
	if err != nil {
		return sum, err
	}
	var rois gstvideo.ROIs
	names := gstvideo.NewLabels(labels.COCO())
	overlay.GetStaticPad("sink").AddProbe(gst.PadProbeTypeBuffer, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if buf := info.GetBuffer(); buf != nil {
			frames.Add(1)
			dets, _ := rois.Read(gstvideo.BufferFromGst(buf), names)
			boxes.Add(int64(len(dets)))
			for _, d := range dets {
				if int(d.Source) < len(bySource) {
					bySource[d.Source].Add(1)
				}
			}
		}
		return gst.PadProbeOK
	})

	start := time.Now()
	if err := pipeline.SetState(gst.StatePlaying); err != nil {
		return sum, busError(pipeline.GetPipelineBus(), fmt.Errorf("starting pipeline: %w", err))
	}
	bus := pipeline.GetPipelineBus()
	every := o.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	lastReport := time.Now()
	eosSent := false
	var eosDeadline time.Time
	report := func(final bool) {
		if o.Progress == nil {
			return
		}
		line := progressLine(frames.Load(), boxes.Load(), time.Since(start), in.Frames, pipeline) + cloudLine(sum.Cloud)
		if isTerminal(o.Progress) {
			end := ""
			if final {
				end = "\n"
			}
			fmt.Fprintf(o.Progress, "\r%-78s%s", line, end)
		} else {
			fmt.Fprintln(o.Progress, line)
		}
	}
	for {
		if ctx.Err() != nil && !eosSent {
			pipeline.SendEvent(gst.NewEOSEvent())
			eosSent, eosDeadline = true, time.Now().Add(10*time.Second)
		}
		if eosSent && time.Now().After(eosDeadline) {
			return finish(&sum, &frames, &boxes, &bySource, start), errors.New("pipeline did not finish within 10 s of the interrupt; output may be incomplete")
		}
		msg := bus.TimedPop(gst.ClockTime(100 * time.Millisecond))
		if time.Since(lastReport) >= every {
			report(false)
			lastReport = time.Now()
		}
		if msg == nil {
			continue
		}
		switch msg.Type() {
		case gst.MessageEOS:
			report(true)
			return finish(&sum, &frames, &boxes, &bySource, start), nil
		case gst.MessageError:
			gerr := msg.ParseError()
			report(true)
			return finish(&sum, &frames, &boxes, &bySource, start), fmt.Errorf("%s: %s\n  (%s)", msg.Source(), gerr.Error(), gerr.DebugString())
		case gst.MessageElement:
			if st := msg.GetStructure(); st != nil && st.Name() == "reactcloud-status" {
				sum.Cloud = st.Values()
			}
		case gst.MessageWarning:
			if o.Progress != nil {
				w := msg.ParseWarning()
				fmt.Fprintf(o.Progress, "\nwarning from %s: %s\n", msg.Source(), w.Error())
			}
		}
	}
}

func finish(sum *Summary, frames, boxes *atomic.Int64, bySource *[3]atomic.Int64, start time.Time) Summary {
	sum.Frames, sum.Boxes, sum.Elapsed = frames.Load(), boxes.Load(), time.Since(start)
	for i := range bySource {
		sum.BySource[i] = bySource[i].Load()
	}
	return *sum
}

func progressLine(frames, boxes int64, elapsed time.Duration, total int, p *gst.Pipeline) string {
	fps := float64(frames) / max(elapsed.Seconds(), 1e-9)
	pct := ""
	if total > 0 {
		pct = fmt.Sprintf("/%d (%.0f%%)", total, 100*float64(frames)/float64(total))
	} else if okD, dur := p.QueryDuration(gst.FormatTime); okD && dur > 0 {
		if okP, pos := p.QueryPosition(gst.FormatTime); okP && pos >= 0 {
			pct = fmt.Sprintf(" (%.0f%%)", 100*float64(pos)/float64(dur))
		}
	}
	return fmt.Sprintf("frames %d%s  %.1f fps  boxes %d", frames, pct, fps, boxes)
}

// cloudLine is the cloud part of a progress line, from reactcloud's status.
func cloudLine(st map[string]interface{}) string {
	if st == nil {
		return ""
	}
	return fmt.Sprintf("  cloud %v rtt %.0f ms in-flight %v", st["cloud"], st["rtt-ms"], st["in-flight"])
}

func busError(bus *gst.Bus, fallback error) error {
	for {
		msg := bus.TimedPop(gst.ClockTime(200 * time.Millisecond))
		if msg == nil {
			return fallback
		}
		if msg.Type() == gst.MessageError {
			gerr := msg.ParseError()
			return fmt.Errorf("%s: %s\n  (%s)", msg.Source(), gerr.Error(), gerr.DebugString())
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
