// Package runner builds and runs a gst-react pipeline in this process, the
// engine behind `gstreact run`: input → reactdetect → reactoverlay → output,
// with progress, a summary, and a clean EOS on cancel so files are finalised.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/elements"
	"github.com/gst-react/gst-react/internal/gstvideo"
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
	// Progress receives a status line about every ProgressEvery; nil = quiet.
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Summary is what a finished run reports.
type Summary struct {
	Frames   int64
	Boxes    int64
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
	desc := fmt.Sprintf("%s ! videoconvert ! %s ! reactoverlay name=overlay ! %s",
		in.Source(o.TestFrames), strings.Join(det, " "), out.Sink)
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
	overlay, err := pipeline.GetElementByName("overlay")
	if err != nil {
		return sum, err
	}
	overlay.GetStaticPad("src").AddProbe(gst.PadProbeTypeBuffer, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if buf := info.GetBuffer(); buf != nil {
			frames.Add(1)
			boxes.Add(int64(gstvideo.CountROIs(gstvideo.BufferFromGst(buf))))
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
		line := progressLine(frames.Load(), boxes.Load(), time.Since(start), in.Frames, pipeline)
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
			return finish(&sum, &frames, &boxes, start), errors.New("pipeline did not finish within 10 s of the interrupt; output may be incomplete")
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
			return finish(&sum, &frames, &boxes, start), nil
		case gst.MessageError:
			gerr := msg.ParseError()
			report(true)
			return finish(&sum, &frames, &boxes, start), fmt.Errorf("%s: %s\n  (%s)", msg.Source(), gerr.Error(), gerr.DebugString())
		case gst.MessageWarning:
			if o.Progress != nil {
				w := msg.ParseWarning()
				fmt.Fprintf(o.Progress, "\nwarning from %s: %s\n", msg.Source(), w.Error())
			}
		}
	}
}

func finish(sum *Summary, frames, boxes *atomic.Int64, start time.Time) Summary {
	sum.Frames, sum.Boxes, sum.Elapsed = frames.Load(), boxes.Load(), time.Since(start)
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
