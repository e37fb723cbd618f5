package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gst-react/gst-react/internal/bench"
)

// Where `gstreact bench` writes; tests replace them.
var (
	benchStdout io.Writer = os.Stdout
	benchStderr io.Writer = os.Stderr
)

// runBench measures the pipeline's stages against their floors in one run
// and prints a table (or one flat JSON object).
func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(benchStderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gstreact bench [--quick] [--format table|json]\n\n"+
			"Measures, in one run on the shared MOT17 frames and models, as ratios against their floors:\n"+
			"raw ONNX Runtime inference, reactdetect against it, the tracker per object, the whole edge\n"+
			"pipeline against the bound its detector and tracker set, fusion, the cloud worker\n"+
			"(throughput, round trip, bytes on the wire), Go allocations per frame and RSS.\n"+
			"Keep the machine otherwise idle: the load average is printed at the top.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	quick := fs.Bool("quick", false, "fewer iterations of everything (under a minute on two cores); the default run takes a few minutes")
	format := fs.String("format", "table", "output format: table or json (one flat object)")
	assets := fs.String("assets", "", "shared assets folder (default: $GSTREACT_ASSETS, else shared/assets beside the checkout)")
	edge := fs.String("edge-model", "", "edge model path or manifest name (default: the manifest's edge model)")
	cloud := fs.String("cloud-model", "", "cloud model path or manifest name (default: the manifest's cloud model)")
	sites := fs.Int("alloc-sites", 0, "also print the N most frequent allocation sites of the pipeline's steady state, and every site of an edge element (on stderr)")
	progress := fs.Bool("progress", true, "print progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format %q: use table or json", *format)
	}
	opts := bench.Options{Quick: *quick, Assets: *assets, EdgeModel: *edge, CloudModel: *cloud, AllocSites: *sites}
	if *progress || *sites > 0 {
		opts.Progress = benchStderr
	}
	rep, err := bench.Run(ctx, opts)
	if err != nil {
		return err
	}
	if *format == "json" {
		return rep.WriteJSON(benchStdout)
	}
	return rep.WriteTable(benchStdout)
}
