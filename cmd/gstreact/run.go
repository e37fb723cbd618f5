package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gst-react/gst-react/elements/reactdetect"
	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/launch"
	"github.com/gst-react/gst-react/internal/policy"
	"github.com/gst-react/gst-react/internal/runner"
	"github.com/gst-react/gst-react/internal/wire"
)

func runRun(ctx context.Context, args []string) error {
	return runRunTo(ctx, args, os.Stdout, os.Stderr)
}

func runRunTo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o runner.Options
	// An existing file or folder is one input even if its name has a comma.
	inputs := &listFlag{whole: func(v string) bool { _, err := os.Stat(v); return err == nil }}
	outputs, ids := newList(), newList()
	fs.Var(inputs, "input", "video file, image folder (MOT img1/), rtsp:// camera, V4L2 device (/dev/video0), URI (file://, http://), or \"test\"; repeat the flag or give a comma list for several cameras")
	fs.Var(outputs, "output", "output .mp4/.mkv file, rtsp://HOST:PORT/PATH to serve the video (e.g. rtsp://0.0.0.0:8554/react), \"display\", or \"none\" (default none); one per --input, or one for all: a pattern with %d or {id}, or a name the stream id is added to")
	fs.StringVar(&o.Model, "model", "", "edge ONNX model file or manifest name (default: yolox_nano_416x416 from the cache)")
	fs.IntVar(&o.Interval, "interval", 0, "run the edge detector on every Nth frame (default 5)")
	fs.Float64Var(&o.Threshold, "threshold", reactdetect.DefaultThreshold, "minimum detection score 0..1")
	fs.Float64Var(&o.NMSThreshold, "nms-threshold", reactdetect.DefaultNMSThreshold, "NMS IoU threshold 0..1")
	fs.StringVar(&o.Classes, "classes", "", "keep only these classes, e.g. \"person,car\" (default all)")
	fs.StringVar(&o.LabelsFile, "labels", "", "class names file, one per line (default COCO)")
	fs.IntVar(&o.Threads, "threads", 0, "reactdetect's ONNX Runtime threads (default one per core but one, left to decoding)")
	fs.StringVar(&o.Encoder.Encoder, "encoder", "x264enc", "H.264 encoder for file and RTSP output: x264enc or openh264enc")
	fs.IntVar(&o.Encoder.Bitrate, "bitrate", 0, "H.264 bitrate in kbit/s, file and RTSP output (default: encoder's)")
	fs.IntVar(&o.TestFrames, "test-frames", 300, "frames produced by --input test")
	fs.BoolVar(&o.RealTime, "realtime", false, "play a file, image folder or --input test at its frame rate, as a camera would deliver it (default: as fast as the machine goes)")
	fs.StringVar(&o.NATS, "nats", "", "NATS server of the cloud workers, e.g. nats://cloud:4222 (default: start an embedded server and an in-process worker, shared by all inputs)")
	fs.BoolVar(&o.NoCloud, "no-cloud", false, "edge only: detector and tracker, no cloud offload")
	fs.IntVar(&o.CloudInterval, "cloud-interval", 0, "send every Nth frame to the cloud, REACT's m (default 30); with --policy adaptive the base interval the policy spends from (default: from the budgets)")
	fs.StringVar(&o.Policy, "policy", "", "fixed (REACT: reactdetect every --interval frames, every --cloud-interval-th frame to the cloud) or adaptive (reactcloud decides both per frame, within the --max-* budgets; --interval is not used)")
	fs.Float64Var(&o.MaxUplinkKbps, "max-uplink-kbps", 0, "adaptive policy: uplink budget in kbit/s (0 = none)")
	fs.Float64Var(&o.MaxEdgeFPS, "max-edge-fps", 0, "adaptive policy: edge detector runs per second (0 = none)")
	fs.Float64Var(&o.MaxCloudRPS, "max-cloud-rps", 0, "adaptive policy: cloud requests per second (0 = none)")
	changeThreshold := fs.Float64("change-threshold", -1, "also send a frame to the cloud when the scene changes by this much, 0..1 (0: only every --cloud-interval-th frame; default: reactcloud's 0.1)")
	fs.Var(ids, "stream-id", "name of each stream on the wire, one per --input (comma list or repeated; default stream0 for one input, cam0, cam1, … for several)")
	fs.StringVar(&o.CloudModel, "cloud-model", "", "in-process worker's ONNX model file or manifest name (default: yolox_nano_736x1280)")
	fs.DurationVar(&o.WorkerLatency, "worker-latency", 0, "extra delay of each in-process worker reply, to show a distant cloud (e.g. 500ms)")
	fs.DurationVar(&o.StallTimeout, "stall-timeout", runner.DefaultStallTimeout, "an RTSP or V4L2 input with no frame for this long is reconnected")
	fs.DurationVar(&o.ReconnectMax, "reconnect-max", runner.DefaultReconnectMax, "longest wait between reconnection attempts (the wait doubles from 0.5 s)")
	reconnect := fs.Bool("reconnect", true, "reconnect an RTSP or V4L2 input that drops (false: its end or failure ends the run)")
	fs.StringVar(&o.MetricsAddr, "metrics-addr", "", "serve Prometheus text metrics at http://ADDR/metrics, e.g. 127.0.0.1:9100 (default off)")
	fs.StringVar(&o.Publish, "publish", "", "also write reactpublish's records, one JSON line per frame per stream: to FILE.jsonl (several streams: {id} in the name, else the stream id is added), - for standard output, or nats://HOST:PORT[/SUBJECT] (default subject react.detections.<stream-id>)")
	fs.BoolVar(&o.PublishJetStream, "jetstream", false, "with --publish nats://…, store the records in JetStream (stream REACT_DETECTIONS, created when missing; each record kept until acknowledged)")
	fs.IntVar(&o.PublishReplicas, "jetstream-replicas", 0, "with --jetstream, replicas of the stream when it is created, e.g. 3 in a 3-node cluster (default 0: one copy)")
	rttLog := fs.String("rtt-log", "", "write each cloud reply's round trip to FILE as CSV lines \"frame,rtt_ms,stream\" (header first; gstreact eval --latency-trace replays it)")
	quiet := fs.Bool("quiet", false, "no status lines")
	printPipeline := fs.Bool("print-pipeline", false, "print the gst-launch-1.0 description and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	o.NoReconnect = !*reconnect
	for _, m := range []*string{&o.Model, &o.CloudModel} {
		if *m == "" {
			continue
		}
		p, err := resolveModel(*m)
		if err != nil {
			return err
		}
		*m = p
	}
	if *changeThreshold >= 0 {
		if *changeThreshold > 1 {
			return fmt.Errorf("--change-threshold %v must be in [0, 1]", *changeThreshold)
		}
		o.ChangeThreshold = changeThreshold
	}
	if o.Policy != "" {
		if _, err := policy.ParseMode(o.Policy); err != nil {
			return fmt.Errorf("--policy: %w", err)
		}
	}
	if o.MaxUplinkKbps < 0 || o.MaxEdgeFPS < 0 || o.MaxCloudRPS < 0 {
		return fmt.Errorf("--max-uplink-kbps, --max-edge-fps and --max-cloud-rps must be >= 0 (0 = no limit)")
	}
	if o.PublishJetStream && o.Publish == "" {
		return fmt.Errorf("--jetstream needs --publish nats://HOST:PORT[/SUBJECT]")
	}
	if o.PublishReplicas < 0 || o.PublishReplicas > 5 {
		return fmt.Errorf("--jetstream-replicas %d must be in 0..5", o.PublishReplicas)
	}
	if o.NoCloud && o.NATS != "" {
		return fmt.Errorf("--no-cloud and --nats contradict each other: pick one")
	}
	streams, err := streamsFromFlags(inputs.vals, outputs.vals, ids.vals)
	if err != nil {
		return err
	}
	if *printPipeline {
		return printPipelines(stdout, stderr, o, streams)
	}
	if *rttLog != "" {
		if o.NoCloud {
			return fmt.Errorf("--rtt-log records cloud replies: drop --no-cloud")
		}
		log, err := newRTTLog(*rttLog)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := log.close(); cerr != nil {
				fmt.Fprintf(stderr, "--rtt-log: %v\n", cerr)
			}
		}()
		o.CloudReply = log.add
	}
	if !*quiet {
		o.Progress = stderr
		o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if len(streams) == 1 {
		o.Input, o.Output, o.StreamID = streams[0].Input, streams[0].Output, streams[0].ID
		sum, err := runner.Run(ctx, o)
		printSummary(stderr, "", sum, err)
		return err
	}
	sums, err := runner.RunStreams(ctx, o, streams)
	for _, s := range sums {
		printSummary(stderr, s.Stream+": ", s, s.Err) // one failed stream does not hide what the others wrote
	}
	return err
}

// streamsFromFlags pairs inputs with outputs and stream ids.
func streamsFromFlags(inputs, outputs, ids []string) ([]runner.Stream, error) {
	ins := inputs
	if len(ins) == 0 {
		ins = []string{""} // "no --input given", from ResolveInput
	}
	idList := ids
	if len(idList) > 0 && len(idList) != len(ins) {
		return nil, fmt.Errorf("%d stream ids for %d inputs: give one --stream-id per --input", len(idList), len(ins))
	}
	streams := make([]runner.Stream, len(ins))
	for i, in := range ins {
		streams[i].Input = in
		if len(idList) > 0 {
			streams[i].ID = idList[i]
		}
	}
	single := len(ins) == 1
	if !single {
		if err := runner.StreamIDs(streams); err != nil {
			return nil, err
		}
	}
	names := make([]string, len(streams))
	for i, s := range streams {
		names[i] = s.ID
		if names[i] == "" {
			names[i] = wire.DefaultStreamID
		}
	}
	outs, err := launch.ExpandOutputs(outputs, names)
	if err != nil {
		return nil, err
	}
	for i := range streams {
		streams[i].Output = outs[i]
	}
	return streams, nil
}

func printPipelines(stdout, stderr io.Writer, o runner.Options, streams []runner.Stream) error {
	for _, s := range streams {
		so := o
		so.Input, so.Output, so.StreamID = s.Input, s.Output, s.ID
		if len(streams) > 1 {
			so.Publish = runner.StreamPublishTarget(o.Publish, s.ID)
		}
		desc, _, out, err := runner.Description(so)
		if err != nil {
			return err
		}
		if len(streams) > 1 {
			fmt.Fprintf(stdout, "# %s\n", s.ID)
		}
		fmt.Fprintln(stdout, desc)
		if c := runner.CaptureDescription(so); c != "" {
			fmt.Fprintf(stderr, "(the appsrc %q is fed by a capture pipeline that run rebuilds after every outage:\n  %s\n use --reconnect=false for a single gst-launch-1.0 line)\n", "src", c)
		}
		if out.RTSP != nil {
			fmt.Fprintf(stderr, "(the appsink %q feeds run's built-in RTSP server at rtsp://%s%s)\n", launch.RTSPSink, out.RTSP.Addr(), out.RTSP.Path)
		}
	}
	if !o.NoCloud && o.NATS == "" {
		fmt.Fprintln(stderr, "(run starts an embedded NATS server and an in-process worker and sets reactcloud's server to it; gst-launch-1.0 needs a NATS server and `gstreact cloudworker` running)")
	}
	return nil
}

func printSummary(w io.Writer, prefix string, sum runner.Summary, err error) {
	fmt.Fprintf(w, "%ssummary: %d frames in %.1f s (%.1f fps), %d boxes (%.1f per frame)", prefix,
		sum.Frames, sum.Elapsed.Seconds(), sum.FPS(), sum.Boxes, float64(sum.Boxes)/float64(max(sum.Frames, 1)))
	if sum.Boxes > 0 {
		fmt.Fprintf(w, " [edge %d, tracked %d, cloud %d]", sum.BySource[0], sum.BySource[1], sum.BySource[2])
	}
	if sum.Output != "" && err == nil {
		fmt.Fprintf(w, ", wrote %s", sum.Output)
	}
	if line := objectsLine(sum.Objects); line != "" {
		fmt.Fprintf(w, "\n%sfollowed %s", prefix, line)
	}
	if sum.Served != "" {
		fmt.Fprintf(w, ", served %s", sum.Served)
	}
	fmt.Fprintln(w)
	if sum.Outages > 0 {
		fmt.Fprintf(w, "%sinput: %d outages, %.1f s down in all, %d frames held\n", prefix, sum.Outages, sum.Downtime.Seconds(), sum.Repeated)
	}
	if c := sum.Cloud; c != nil {
		fmt.Fprintf(w, "%scloud: %v; %v frames offloaded, %v replies, mean round trip %.0f ms, %v skipped while requests were in flight\n",
			prefix, c["cloud"], c["offloaded"], c["replies"], c["mean-rtt-ms"], c["skipped-full"])
	}
}

// objectsLine is "12 objects: 9 person, 2 car, 1 bicycle", most first (ties
// by name), or "" for none.
func objectsLine(objects map[string]int) string {
	type count struct {
		class string
		n     int
	}
	var cs []count
	total := 0
	for c, n := range objects {
		cs = append(cs, count{c, n})
		total += n
	}
	if total == 0 {
		return ""
	}
	slices.SortFunc(cs, func(a, b count) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.class, b.class)
	})
	var b strings.Builder
	if total == 1 {
		b.WriteString("1 object:")
	} else {
		fmt.Fprintf(&b, "%d objects:", total)
	}
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %d %s", c.n, c.class)
	}
	return b.String()
}

// rttLog writes gstreact run --rtt-log: eval.RTTLogHeader, then one line per
// cloud reply in the order they arrived (eval.ParseLatencyTrace reads it).
type rttLog struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	err error
}

func newRTTLog(path string) (*rttLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--rtt-log: %w", err)
	}
	l := &rttLog{f: f, w: bufio.NewWriter(f)}
	fmt.Fprintln(l.w, eval.RTTLogHeader)
	return l, nil
}

// add records one reply; streams call it concurrently.
func (l *rttLog) add(stream string, frame uint64, rtt time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := fmt.Fprintf(l.w, "%d,%.3f,%s\n", frame, float64(rtt.Microseconds())/1000, stream); err != nil && l.err == nil {
		l.err = err
	}
}

func (l *rttLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.err
	if ferr := l.w.Flush(); err == nil {
		err = ferr
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
