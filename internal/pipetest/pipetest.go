// Package pipetest runs real GStreamer pipelines for tests and benchmarks:
// build from a gst-launch description, play to EOS with a deadline, and
// observe buffers (frames, ROIs, pixels) at named elements' pads.
package pipetest

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/gstvideo"
	"github.com/gst-react/gst-react/internal/labels"
	"github.com/gst-react/gst-react/internal/runner"
)

// Frame is what a probe saw on one buffer.
type Frame struct {
	Index  int
	PTS    int64
	Seen   time.Time // when the probe saw the buffer
	Dets   []detection.Detection
	Labels []string
	// Detected/FrameNum come from GstReactFrameMeta (HasMeta false when absent).
	HasMeta  bool
	Detected bool
	FrameNum uint64
	// Pixels is a copy of the buffer's bytes when the probe asked for them.
	Pixels []byte
}

// Message is an element message, copied off the bus as its serialised
// structure (the GstStructure belongs to the message and dies with it; a
// string is one allocation, so tests that count allocations are not charged
// for the fields).
type Message struct {
	Name string
	Raw  string
	Time time.Time
}

// Fields parses the message's structure.
func (m Message) Fields() map[string]interface{} {
	s := gst.NewStructureFromString(m.Raw)
	if s == nil {
		return nil
	}
	return s.Values()
}

// Result of one pipeline run.
type Result struct {
	Frames   map[string][]Frame // by probe name
	Errors   []string
	Warnings []string
	Messages []Message // element messages, in bus order
	Elapsed  time.Duration
}

// ErrorText joins every error message.
func (r *Result) ErrorText() string { return strings.Join(r.Errors, "\n") }

// Probe observes buffers leaving (pad "src") or entering (pad "sink") an element.
// With Counter set it only counts them, into Counter, with no Go code per
// buffer (Result.Frames then has no entry for it).
type Probe struct {
	Element string
	Pad     string
	Pixels  bool
	Counter *gstvideo.BufferCounter
}

// Run builds desc, plays it until EOS, an error, or timeout, observing probes.
func Run(desc string, timeout time.Duration, probes ...Probe) (*Result, error) {
	return RunUntil(desc, timeout, nil, probes...)
}

// RunUntil is Run for an endless source: once stop is closed it sends EOS
// into the pipeline, so the frames already in flight drain and the run ends
// as at a file's end. A test that must see some events happen (not some
// number of frames go by) lets the source run and closes stop after them.
func RunUntil(desc string, timeout time.Duration, stop <-chan struct{}, probes ...Probe) (*Result, error) {
	if err := runner.Init(); err != nil {
		return nil, err
	}
	p, err := gst.NewPipelineFromString(desc)
	if err != nil {
		return nil, fmt.Errorf("pipeline %q: %w", desc, err)
	}
	defer p.SetState(gst.StateNull)
	res := &Result{Frames: map[string][]Frame{}}
	var mu sync.Mutex
	lbl := gstvideo.NewLabels(labels.COCO())
	for _, pr := range probes {
		pr := pr
		el, err := p.GetElementByName(pr.Element)
		if err != nil {
			return nil, fmt.Errorf("no element named %s: %w", pr.Element, err)
		}
		pad := el.GetStaticPad(pr.Pad)
		if pad == nil {
			return nil, fmt.Errorf("element %s has no pad %s", pr.Element, pr.Pad)
		}
		if pr.Counter != nil {
			pr.Counter.Attach(pad)
			continue
		}
		key := pr.Element + "." + pr.Pad
		var rois gstvideo.ROIs
		pad.AddProbe(gst.PadProbeTypeBuffer, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
			buf := info.GetBuffer()
			if buf == nil {
				return gst.PadProbeOK
			}
			b := gstvideo.BufferFromGst(buf)
			dets, names := rois.Read(b, lbl)
			fr := Frame{Seen: time.Now(), PTS: b.PTS(), Dets: append([]detection.Detection(nil), dets...), Labels: append([]string(nil), names...)}
			fr.FrameNum, fr.Detected, fr.HasMeta = gstvideo.FrameMeta(b)
			if pr.Pixels {
				mi := buf.Map(gst.MapRead)
				fr.Pixels = append([]byte(nil), mi.Bytes()...)
				buf.Unmap()
			}
			mu.Lock()
			fr.Index = len(res.Frames[key])
			res.Frames[key] = append(res.Frames[key], fr)
			mu.Unlock()
			return gst.PadProbeOK
		})
	}
	start := time.Now()
	bus := p.GetPipelineBus()
	if err := p.SetState(gst.StatePlaying); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-stop:
			p.SendEvent(gst.NewEOSEvent())
			stop = nil // once
		default:
		}
		msg := bus.TimedPop(gst.ClockTime(50 * time.Millisecond))
		if msg == nil {
			continue
		}
		switch msg.Type() {
		case gst.MessageEOS:
			res.Elapsed = time.Since(start)
			return res, nil
		case gst.MessageError:
			e := msg.ParseError()
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %s (%s)", msg.Source(), e.Error(), e.DebugString()))
			res.Elapsed = time.Since(start)
			return res, nil
		case gst.MessageWarning:
			w := msg.ParseWarning()
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %s", msg.Source(), w.Error()))
		case gst.MessageElement:
			if s := msg.GetStructure(); s != nil {
				res.Messages = append(res.Messages, Message{Name: s.Name(), Raw: s.String(), Time: time.Now()})
			}
		}
	}
	res.Elapsed = time.Since(start)
	return res, fmt.Errorf("pipeline did not finish within %s", timeout)
}
