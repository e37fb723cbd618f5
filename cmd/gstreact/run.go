package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/gst-react/gst-react/internal/runner"
)

func runRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var o runner.Options
	fs.StringVar(&o.Input, "input", "", "video file, image folder (MOT img1/), URI (rtsp://, file://), or \"test\"")
	fs.StringVar(&o.Output, "output", "", "output .mp4/.mkv file, \"display\", or \"none\" (default none)")
	fs.StringVar(&o.Model, "model", "", "edge ONNX model file or manifest name (default: yolox_nano_416x416 from the cache)")
	fs.IntVar(&o.Interval, "interval", 0, "run the edge detector on every Nth frame (default 5)")
	fs.Float64Var(&o.Threshold, "threshold", -1, "minimum detection score 0..1 (default 0.3)")
	fs.Float64Var(&o.NMSThreshold, "nms-threshold", -1, "NMS IoU threshold 0..1 (default 0.45)")
	fs.StringVar(&o.Classes, "classes", "", "keep only these classes, e.g. \"person,car\" (default all)")
	fs.StringVar(&o.LabelsFile, "labels", "", "class names file, one per line (default COCO)")
	fs.IntVar(&o.Threads, "threads", 0, "ONNX Runtime threads (default one per core)")
	fs.StringVar(&o.Encoder.Encoder, "encoder", "x264enc", "H.264 encoder for file output: x264enc or openh264enc")
	fs.IntVar(&o.Encoder.Bitrate, "bitrate", 0, "H.264 bitrate in kbit/s (default: encoder's)")
	fs.IntVar(&o.TestFrames, "test-frames", 300, "frames produced by --input test")
	fs.StringVar(&o.NATS, "nats", "", "NATS server of the cloud workers, e.g. nats://cloud:4222 (default: start an embedded server and an in-process worker)")
	fs.BoolVar(&o.NoCloud, "no-cloud", false, "edge only: detector and tracker, no cloud offload")
	fs.IntVar(&o.CloudInterval, "cloud-interval", 0, "send every Nth frame to the cloud, REACT's m (default 30)")
	fs.StringVar(&o.StreamID, "stream-id", "", "name of this stream on the wire (default stream0)")
	fs.StringVar(&o.CloudModel, "cloud-model", "", "in-process worker's ONNX model file or manifest name (default: yolox_nano_736x1280)")
	fs.DurationVar(&o.WorkerLatency, "worker-latency", 0, "extra delay of each in-process worker reply, to show a distant cloud (e.g. 500ms)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	printPipeline := fs.Bool("print-pipeline", false, "print the gst-launch-1.0 description and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
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
	if o.NoCloud && o.NATS != "" {
		return fmt.Errorf("--no-cloud and --nats contradict each other: pick one")
	}
	if *printPipeline {
		desc, _, _, err := runner.Description(o)
		if err != nil {
			return err
		}
		fmt.Println(desc)
		if !o.NoCloud && o.NATS == "" {
			fmt.Fprintln(os.Stderr, "(run starts an embedded NATS server and an in-process worker and sets reactcloud's server to it; gst-launch-1.0 needs a NATS server and `gstreact cloudworker` running)")
		}
		return nil
	}
	if !*quiet {
		o.Progress = os.Stderr
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	sum, err := runner.Run(ctx, o)
	fmt.Fprintf(os.Stderr, "summary: %d frames in %.1f s (%.1f fps), %d boxes (%.1f per frame)",
		sum.Frames, sum.Elapsed.Seconds(), sum.FPS(), sum.Boxes, float64(sum.Boxes)/float64(max(sum.Frames, 1)))
	if sum.Boxes > 0 {
		fmt.Fprintf(os.Stderr, " [edge %d, tracked %d, cloud %d]", sum.BySource[0], sum.BySource[1], sum.BySource[2])
	}
	if sum.Output != "" && err == nil {
		fmt.Fprintf(os.Stderr, ", wrote %s", sum.Output)
	}
	fmt.Fprintln(os.Stderr)
	if c := sum.Cloud; c != nil {
		fmt.Fprintf(os.Stderr, "cloud: %v; %v frames offloaded, %v replies, mean round trip %.0f ms, %v skipped while requests were in flight\n",
			c["cloud"], c["offloaded"], c["replies"], c["mean-rtt-ms"], c["skipped-full"])
	}
	return err
}
