// Command gstreact is the gst-react CLI: set-up, running REACT pipelines,
// and (as the project grows) the cloud worker, evaluation and benchmarks.
//
//	gstreact setup [--models-from DIR] [--ort-lib PATH] [--no-download]
//	gstreact run --input PATH --output PATH [flags]
//	gstreact cloudworker [--nats URL] [--model PATH|NAME] [--concurrency N] [flags]
//	gstreact eval --sequence DIR [--k LIST] [--m LIST] [--latency LIST] [flags]
//	gstreact bench [--quick] [--format table|json]
//	gstreact loadtest --nats URL --edges 1,2,4,8 [--find-capacity --slo 500ms]
//	gstreact models
//	gstreact version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const version = "0.1.0"

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

var commands = []command{
	{"setup", "provide ONNX Runtime and the models in the per-user cache", runSetup},
	{"run", "run REACT on a video file, image folder or camera and write the overlaid video", runRun},
	{"cloudworker", "serve the cloud detector to edges over NATS (queue group; add workers to scale)", runCloudworker},
	{"eval", "replay MOT sequences or video files on a simulated clock and report mAP and cost over a grid of k, m, latency", runEval},
	{"tune", "choose k and m for a camera: the most accurate configuration within an uplink, edge and cloud budget", runTune},
	{"bench", "measure every stage against its floor in one run (raw ONNX Runtime, pipeline bound, worker, allocations)", runBench},
	{"loadtest", "simulate N edges against the cloud workers: round trips, replies/s and the capacity within an SLO", runLoadtest},
	{"models", "list the known models and whether they are in the cache", runModels},
	{"version", "print the version", func(context.Context, []string) error { fmt.Println("gstreact", version); return nil }},
}

func usage() {
	fmt.Fprintf(os.Stderr, "gstreact %s: REACT edge-cloud video analytics on GStreamer\n\nUsage: gstreact COMMAND [flags]\n\nCommands:\n", version)
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun `gstreact COMMAND -h` for the flags of one command.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands {
		if c.name == os.Args[1] {
			if err := c.run(ctx, os.Args[2:]); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					return
				}
				fmt.Fprintf(os.Stderr, "gstreact %s: %v\n", c.name, err)
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "gstreact: unknown command %q\n\n", os.Args[1])
	usage()
	os.Exit(2)
}
