// Package runner builds and runs gst-react pipelines in this process, the
// engine behind `gstreact run`: input → reactdetect → reacttrack → reactcloud
// → reactoverlay → output, with a live status line, Prometheus metrics, a
// summary, and a clean EOS on cancel so files are finalised. Unless told a
// NATS URL it starts an embedded NATS server on loopback and an in-process
// cloud worker, so REACT runs with nothing else installed; several streams
// (RunStreams) share that one server and worker.
//
// A live input (an RTSP camera, a V4L2 device) is captured in a pipeline of
// its own that feeds the analysis pipeline through an appsrc: when the camera
// stalls, ends or fails, only the capture pipeline is torn down and rebuilt,
// with back-off, while detector, tracker, cloud, overlay, encoder and sink run
// on (see relay.go). An rtsp:// output is served by a built-in RTSP server
// (internal/rtspserve).
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/elements"
	"github.com/gst-react/gst-react/internal/launch"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/wire"
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
	// RealTime plays a file, image folder or test input at its frame rate,
	// as a camera delivers frames, instead of as fast as the machine goes
	// (which is slower than real time where the machine cannot keep up).
	// Live inputs arrive in real time already.
	RealTime bool

	// NoCloud runs edge-only: reactdetect and reacttrack, no reactcloud.
	NoCloud bool
	// NATS is the server reactcloud talks to; "" starts an embedded server
	// on loopback with an in-process worker (see Worker*).
	NATS string
	// CloudInterval is REACT's m, frames between offloads (0: element default 30).
	CloudInterval int
	// ChangeThreshold is reactcloud's scene-change threshold (nil: element
	// default 0.1; 0: only every CloudInterval-th frame).
	ChangeThreshold *float64
	// Policy is reactcloud's policy ("" = element default, fixed); with
	// "adaptive" reactdetect follows it and the Max* budgets apply (0 = none).
	Policy                                 string
	MaxUplinkKbps, MaxEdgeFPS, MaxCloudRPS float64
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
	// Progress receives the status line about every ProgressEvery (rewritten
	// in place with \r on a terminal, one line each time otherwise) and a line
	// for each input outage and recovery; nil = quiet.
	Progress      io.Writer
	ProgressEvery time.Duration

	// StallTimeout: a live input (RTSP, V4L2) that delivers no frame for
	// this long is out, and is reconnected (0 = DefaultStallTimeout).
	StallTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the back-off between reconnection
	// attempts, doubling from min to max (0 = DefaultReconnectMin, Max).
	ReconnectMin, ReconnectMax time.Duration
	// NoReconnect puts a live input into the analysis pipeline itself (one
	// gst-launch line): the end or failure of the camera ends the run.
	NoReconnect bool
	// MetricsAddr, when set, serves the status as Prometheus text metrics at
	// http://MetricsAddr/metrics for the length of the run.
	MetricsAddr string
	// Notify, when set, is told of outages, recoveries, served URLs and the
	// metrics address, from the run's goroutines.
	Notify func(Event)
	// CloudReply, when set, is told of every cloud reply reactcloud reports
	// (its reactcloud-reply bus message): the stream, the frame the request
	// was for and its round trip. It is called from each stream's bus loop,
	// so several streams call it concurrently. Replies that arrive after the
	// input's end are not reported.
	CloudReply func(stream string, frame uint64, rtt time.Duration)

	// Publish adds reactpublish after reactcloud: one JSON record per frame
	// to a file (FILE.jsonl, "-" for standard output) or to NATS
	// (nats://HOST:PORT[/SUBJECT]; the subject defaults to
	// react.detections.<stream-id>). "" = off.
	Publish string
	// PublishJetStream stores the NATS records in JetStream, and
	// PublishReplicas is the replicas of the stream it creates (0 = 1).
	PublishJetStream bool
	PublishReplicas  int
}

// Defaults of the reconnecting input.
const (
	DefaultStallTimeout = 5 * time.Second
	DefaultReconnectMin = 500 * time.Millisecond
	DefaultReconnectMax = 10 * time.Second
)

// Summary is what a finished run reports (one per stream).
type Summary struct {
	// Stream is the stream's id (reactcloud's stream-id).
	Stream   string
	Frames   int64
	Boxes    int64
	BySource [3]int64 // boxes by detection.Source: edge, tracked, cloud
	// Objects counts the objects followed (distinct edge track ids) by
	// class name, each under the class it last had; nil when none.
	Objects map[string]int
	// Cloud is reactcloud's last status (nil without the cloud).
	Cloud    map[string]interface{}
	Elapsed  time.Duration
	Output   string
	Pipeline string
	// Served is the URL an rtsp:// output was served at.
	Served string
	// Outages of a reconnecting input, their total length, and the frames
	// repeated while it was down.
	Outages  int
	Downtime time.Duration
	Repeated int64
	// Err is why this stream failed (nil when it ran to its end); RunStreams
	// also returns the errors of all streams joined.
	Err error
}

// FPS is frames per second of wall time.
func (s Summary) FPS() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Frames) / s.Elapsed.Seconds()
}

// EventKind says what an Event is about.
type EventKind string

// Event kinds.
const (
	EventServing   EventKind = "serving"    // Detail: the rtsp:// URL of an output
	EventMetrics   EventKind = "metrics"    // Detail: the metrics URL
	EventInputUp   EventKind = "input-up"   // frames flow: first connection, or back after an outage
	EventInputDown EventKind = "input-down" // an outage began (Detail: why)
	EventCloud     EventKind = "cloud"      // Detail: the NATS URL the streams' reactcloud use
)

// Event is something a run tells Options.Notify.
type Event struct {
	Stream string
	Kind   EventKind
	Detail string
	// Outage is how long the input was down (EventInputUp after an outage).
	Outage time.Duration
	Time   time.Time
}

// sourceName is the analysis pipeline's appsrc of a reconnecting input.
const sourceName = "src"

// reconnecting says whether Run captures o's input in a pipeline of its own.
func reconnecting(o Options, in launch.Input) bool { return in.Reconnects() && !o.NoReconnect }

// Description is the gst-launch description Run would use. For a live input
// that reconnects, it starts with an appsrc fed by a capture pipeline
// (CaptureDescription).
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
	threads := o.Threads
	if threads <= 0 {
		threads = DetectThreads()
	}
	det = append(det, fmt.Sprintf("threads=%d", threads))
	stages := []string{strings.Join(det, " "), "reacttrack name=track"}
	if !o.NoCloud {
		cloud := []string{"reactcloud name=cloud"}
		if o.NATS != "" {
			cloud = append(cloud, "server="+launch.Quote(o.NATS))
		}
		if o.CloudInterval > 0 {
			cloud = append(cloud, fmt.Sprintf("interval=%d", o.CloudInterval))
		}
		if o.ChangeThreshold != nil {
			cloud = append(cloud, fmt.Sprintf("change-threshold=%g", *o.ChangeThreshold))
		}
		if o.StreamID != "" {
			cloud = append(cloud, "stream-id="+launch.Quote(o.StreamID))
		}
		if o.Policy != "" {
			cloud = append(cloud, "policy="+launch.Quote(o.Policy))
		}
		for _, b := range []struct {
			name string
			v    float64
		}{{"max-uplink-kbps", o.MaxUplinkKbps}, {"max-edge-fps", o.MaxEdgeFPS}, {"max-cloud-rps", o.MaxCloudRPS}} {
			if b.v > 0 {
				cloud = append(cloud, fmt.Sprintf("%s=%g", b.name, b.v))
			}
		}
		stages = append(stages, strings.Join(cloud, " "))
	}
	if o.Publish != "" {
		pub, err := publishStage(o)
		if err != nil {
			return "", in, out, err
		}
		stages = append(stages, pub)
	}
	src := in.Source(o.TestFrames)
	switch {
	case reconnecting(o, in):
		src = launch.FeedSource(sourceName)
	case o.RealTime && !in.Reconnects():
		// Synchronised to the clock where frames leave the source: the
		// analysis behind it then sees them as a camera would hand them over.
		src += " ! " + RealTimePacer
	}
	// A queue puts decoding (and any conversion) on a thread of its own, so
	// it runs on another core beside the analysis. A reconnecting input's
	// appsrc already has its own thread and decodes in the capture pipeline.
	queue := AnalysisQueue + " ! "
	if reconnecting(o, in) {
		queue = ""
	}
	desc := fmt.Sprintf("%s ! videoconvert ! %s%s ! reactoverlay name=overlay ! %s",
		src, queue, strings.Join(stages, " ! "), out.Sink)
	return desc, in, out, nil
}

// RealTimePacer holds each frame of a file or test input until its
// timestamp on the pipeline clock (Options.RealTime).
const RealTimePacer = "identity name=realtime sync=true"

// AnalysisQueue is the queue between decoding and reactdetect. Up to 8
// frames (and 10 MB, GStreamer's default: 3 frames of 1080p) let the
// source decode ahead while the detector runs on its k-th frame; more would
// only add latency and memory.
const AnalysisQueue = "queue name=analysis max-size-buffers=8 max-size-time=0"

// DetectThreads is reactdetect's ONNX Runtime threads in gstreact run: one
// per core but the one the decoder uses behind AnalysisQueue. Measured on 2
// cores in gstreact bench's edge pipeline (process CPU time, 5 interleaved
// runs each): 37 ms of CPU per frame with 1 thread, 41 with 2 sleeping
// between detections, at the same frame rate; with 2 spinning, 48 ms and
// 28% fewer frames per second.
func DetectThreads() int { return max(1, runtime.NumCPU()-1) }

// CaptureDescription is the capture pipeline of a reconnecting input, or ""
// when o's input is part of the analysis pipeline.
func CaptureDescription(o Options) string {
	in, err := launch.ResolveInput(o.Input)
	if err != nil || !reconnecting(o, in) {
		return ""
	}
	return in.Capture("")
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
// which sends EOS so the output file is complete). A live input that drops
// is reconnected (Options.StallTimeout, ReconnectMin/Max) and the run goes on.
func Run(ctx context.Context, o Options) (Summary, error) {
	sums, err := run(ctx, o, []Stream{{Input: o.Input, Output: o.Output, ID: o.StreamID}}, true)
	if len(sums) == 0 {
		return Summary{}, err
	}
	return sums[0], err
}

// Stream is one camera of RunStreams.
type Stream struct {
	Input, Output string
	// ID is reactcloud's stream-id and the stream's name in status lines and
	// metrics ("" = cam0, cam1, … by position).
	ID string
}

// RunStreams runs one pipeline per stream, all at once, sharing one cloud:
// unless o.NATS is set, one embedded NATS server and one in-process worker
// serve every stream (the worker's queue group takes all their requests), and
// rtsp:// outputs on the same address share one RTSP server. Options.Input,
// Output and StreamID are ignored. Each stream runs to its own end; RunStreams
// returns when all have ended (or ctx is cancelled), with one Summary per
// stream, and the errors of the streams that failed.
func RunStreams(ctx context.Context, o Options, streams []Stream) ([]Summary, error) {
	if len(streams) == 0 {
		return nil, errors.New("no streams: give at least one --input")
	}
	return run(ctx, o, streams, false)
}

// StreamIDs checks ids and fills in the empty ones (cam0, cam1, … by
// position).
func StreamIDs(streams []Stream) error {
	seen := map[string]bool{}
	for i := range streams {
		if streams[i].ID == "" {
			streams[i].ID = fmt.Sprintf("cam%d", i)
		}
		id := streams[i].ID
		if !wire.ValidStreamID(id) {
			return fmt.Errorf("stream id %q: use 1-64 of A-Z a-z 0-9 . _ -", id)
		}
		if seen[id] {
			return fmt.Errorf("stream id %q is given to two streams", id)
		}
		seen[id] = true
	}
	return nil
}

func defaultStreamID() string { return offload.DefaultStreamID }
