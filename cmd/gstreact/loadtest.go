package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // sequence frames
	_ "image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gst-react/gst-react/internal/bench"
	"github.com/gst-react/gst-react/internal/chart"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/loadtest"
	"github.com/gst-react/gst-react/internal/natsauth"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/videodecode"
	"github.com/gst-react/gst-react/internal/wire"
)

// Where `gstreact loadtest` writes; tests replace them.
var (
	loadtestStdout io.Writer = os.Stdout
	loadtestStderr io.Writer = os.Stderr
)

// defaultLoadSource is the shared sequence the load test sends when --source
// is not given (a 1920x1080 street crowd, like a real camera's frames).
const defaultLoadSource = "video/MOT17-04-FRCNN-mini"

// runLoadtest simulates N edges against a worker pool and prints a row per N.
func runLoadtest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(loadtestStderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gstreact loadtest --nats URL --edges 1,2,4,8 [--m 30 --fps 30] [--duration 30s] [--find-capacity --slo 500ms] [flags]\n\n"+
			"Simulates N REACT edges against the cloud workers serving a NATS server: each edge sends a real\n"+
			"JPEG frame (encoded once, as reactcloud encodes it) every m-th frame at fps, through the real wire\n"+
			"format, with reactcloud's in-flight limit and timeout. Per N it prints the round trip p50/p95/p99,\n"+
			"replies per second, timeouts, errors, skipped frames and each worker's share of the replies.\n"+
			"--find-capacity goes on past --edges (doubling, then bisecting) to the largest N whose p95 stays\n"+
			"within --slo with no timeouts or errors. Run it from a machine other than the workers' when you can:\n"+
			"here it shares the CPU with them (it costs little: no encoding, no decoding).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	natsURL := fs.String("nats", "nats://127.0.0.1:4222", "NATS server URL; several servers of one cluster comma-separated")
	edgesFlag := newList("1", "2", "4", "8")
	fs.Var(edgesFlag, "edges", "numbers of simulated edges, one step each, comma-separated")
	m := fs.Int("m", offload.DefaultInterval, "REACT's m: each edge offloads every m-th frame")
	fps := fs.Float64("fps", 30, "each edge's frame rate; a request every m/fps seconds")
	duration := fs.Duration("duration", 30*time.Second, "how long each step (each N) sends")
	findCapacity := fs.Bool("find-capacity", false, "after --edges, search for the largest N within --slo (doubling, then bisecting)")
	slo := fs.Duration("slo", 500*time.Millisecond, "round-trip p95 a step must stay within (with no timeouts or errors) to count as carried")
	maxEdges := fs.Int("max-edges", 256, "largest N --find-capacity tries")
	maxInflight := fs.Int("max-inflight", offload.DefaultMaxInflight, "requests an edge may have outstanding; a frame due beyond it is skipped (reactcloud's max-inflight)")
	timeout := fs.Duration("timeout", offload.DefaultTimeout, "an edge abandons a request not answered in this time (reactcloud's timeout)")
	subject := fs.String("subject", wire.DefaultRequestSubject, "NATS subject the requests go to")
	source := fs.String("source", "", "frames to send: a folder of images (a MOT sequence or its img1/) or a video file (default: shared assets' "+defaultLoadSource+")")
	frames := fs.Int("frames", 30, "distinct frames to take from --source (evenly spaced); edges cycle through them")
	jpegWidth := fs.Int("jpeg-max-width", offload.DefaultJPEGMaxWidth, "downscale wider frames before JPEG encoding (reactcloud's jpeg-max-width; 0 = full size)")
	jpegQuality := fs.Int("jpeg-quality", offload.DefaultJPEGQuality, "JPEG quality 1..100 (reactcloud's jpeg-quality)")
	format := fs.String("format", "table", "output: table, or json (a list of rows)")
	plot := fs.String("plot", "", "also draw round trip p50/p95/p99 against N as a PNG to this file")
	var auth natsauth.Options
	fs.StringVar(&auth.User, "user", "", "NATS user name (password from $"+natsauth.EnvPassword+")")
	fs.StringVar(&auth.Token, "token", "", "NATS token; when empty, read from $"+natsauth.EnvToken)
	fs.StringVar(&auth.CredsFile, "creds", "", "NATS .creds file")
	fs.StringVar(&auth.TLSCAFile, "tls-ca", "", "PEM CA bundle to verify the NATS server with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	auth.FromEnv()
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format %q: use table or json", *format)
	}
	var edges []int
	for _, v := range edgesFlag.vals {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return fmt.Errorf("--edges %q: want whole numbers in 1..10000, e.g. 1,2,4,8", v)
		}
		edges = append(edges, n)
	}
	if *duration <= 0 {
		return fmt.Errorf("--duration %v must be positive", *duration)
	}
	if *frames < 1 {
		return fmt.Errorf("--frames %d must be at least 1", *frames)
	}
	if *findCapacity && *slo <= 0 {
		return errors.New("--find-capacity needs --slo > 0")
	}
	if *maxEdges < 1 {
		return fmt.Errorf("--max-edges %d must be at least 1", *maxEdges)
	}
	natsOpts, err := auth.NATSOptions()
	if err != nil {
		return err
	}
	src := *source
	if src == "" {
		assets, err := bench.FindAssets()
		if err != nil {
			return fmt.Errorf("no --source given and %w", err)
		}
		src = filepath.Join(assets, defaultLoadSource)
	}
	imgs, err := loadFrames(ctx, src, *frames)
	if err != nil {
		return err
	}
	ocfg := offload.DefaultConfig()
	ocfg.JPEGMaxWidth, ocfg.JPEGQuality = *jpegWidth, *jpegQuality
	if err := ocfg.Validate(); err != nil {
		return fmt.Errorf("--jpeg-max-width/--jpeg-quality: %w", err)
	}
	encoded, err := loadtest.EncodeFrames(imgs, ocfg)
	if err != nil {
		return fmt.Errorf("encoding the frames of %s: %w", src, err)
	}
	jpegBytes := 0
	for _, f := range encoded {
		jpegBytes += len(f.JPEG)
	}
	cfg := loadtest.Config{
		NATSURL: *natsURL, NATSOptions: natsOpts, Subject: *subject, M: *m, FPS: *fps, Duration: *duration,
		MaxInflight: *maxInflight, Timeout: *timeout, Frames: encoded,
	}
	if *slo > 0 {
		cfg.SLO = *slo
	}
	lt, err := loadtest.New(cfg)
	if err != nil {
		return err
	}
	defer lt.Close()
	fmt.Fprintf(loadtestStderr, "loadtest: %d frames of %s (%dx%d, JPEG %dx%d, %d KB each on average), a request every %v per edge (m=%d at %g fps), %v per step, %s\n",
		len(encoded), src, encoded[0].Width, encoded[0].Height, encoded[0].JPEGWidth, encoded[0].JPEGHeight,
		jpegBytes/len(encoded)/1000, cfg.Period(), *m, *fps, *duration, loadNote())
	// A cold worker loads its model on the first request: wait for it
	// before the clock of the first step starts.
	if err := lt.Probe(ctx, 60*time.Second); err != nil {
		return err
	}
	progress := func(r loadtest.Row) {
		fmt.Fprintf(loadtestStderr, "loadtest: %d edges: p95 %.0f ms, %.2f replies/s, %d timeouts, %d errors, %d skipped%s\n",
			r.Edges, r.RTTP95MS, r.RepliesPerS, r.Timeouts, r.Errors, r.Skipped, sloWord(r))
	}
	rows, capacity, err := lt.Sweep(ctx, edges, *findCapacity, *maxEdges, progress)
	if err != nil {
		return err
	}
	if *plot != "" {
		if err := writeLoadPlot(*plot, rows, cfg, capacity, *findCapacity); err != nil {
			return err
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(loadtestStdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return err
		}
	} else if err := writeLoadTable(loadtestStdout, rows); err != nil {
		return err
	}
	if *findCapacity {
		fmt.Fprintf(loadtestStderr, "capacity: %d edges (m=%d at %g fps) within p95 ≤ %v with no timeouts or errors\n", capacity, *m, *fps, *slo)
	}
	return nil
}

func sloWord(r loadtest.Row) string {
	switch {
	case r.WithinSLO == nil:
		return ""
	case *r.WithinSLO:
		return ", within SLO"
	}
	return ", over SLO"
}

// loadNote states the machine's load, to be quoted with the numbers: the
// workers and this load generator may share it.
func loadNote() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load average unknown"
	}
	return fmt.Sprintf("load average %s %s %s", f[0], f[1], f[2])
}

func writeLoadTable(w io.Writer, rows []loadtest.Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "edges\tsent\treplies/s\tp50 ms\tp95 ms\tp99 ms\ttimeouts\terrors\tskipped\tSLO\t workers")
	for _, r := range rows {
		var shares []string
		for _, s := range r.Shares() {
			shares = append(shares, fmt.Sprintf("%s %.0f%%", s.ID, 100*s.Fraction))
		}
		slo := "-"
		if r.WithinSLO != nil {
			slo = map[bool]string{true: "ok", false: "over"}[*r.WithinSLO]
		}
		fmt.Fprintf(tw, "%d\t%d\t%.2f\t%.0f\t%.0f\t%.0f\t%d\t%d\t%d\t%s\t %s\n", r.Edges, r.Sent, r.RepliesPerS,
			r.RTTP50MS, r.RTTP95MS, r.RTTP99MS, r.Timeouts, r.Errors, r.Skipped, slo, strings.Join(shares, ", "))
	}
	return tw.Flush()
}

// writeLoadPlot draws p50/p95/p99 against N with the SLO as a dashed line.
func writeLoadPlot(path string, rows []loadtest.Row, cfg loadtest.Config, capacity int, found bool) error {
	lc := chart.LineChart{
		Title:  "gstreact loadtest: round trip against the number of edges",
		XLabel: fmt.Sprintf("edges (each a request every %v: m=%d at %g fps)", cfg.Period(), cfg.M, cfg.FPS),
		YLabel: "round trip, ms",
		LogX:   true,
	}
	p := [3][]float64{}
	for _, r := range rows {
		lc.X = append(lc.X, float64(r.Edges))
		v := [3]float64{r.RTTP50MS, r.RTTP95MS, r.RTTP99MS}
		for i := range p {
			if r.Replies == 0 {
				v[i] = math.NaN()
			}
			p[i] = append(p[i], v[i])
		}
	}
	lc.Series = []chart.Series{{Name: "p50", Y: p[0]}, {Name: "p95", Y: p[1]}, {Name: "p99", Y: p[2]}}
	if cfg.SLO > 0 {
		lc.Markers = []chart.Marker{{Name: "SLO " + cfg.SLO.String(), Y: float64(cfg.SLO) / 1e6}}
	}
	var rps []string
	for _, r := range rows {
		rps = append(rps, fmt.Sprintf("%d:%.1f", r.Edges, r.RepliesPerS))
	}
	lc.Note = "replies/s by edges " + strings.Join(rps, " ") + "; " + loadNote()
	if found {
		lc.Note += fmt.Sprintf("; capacity %d edges", capacity)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	if err := lc.WritePNG(f, 1000, 600); err != nil {
		f.Close()
		return fmt.Errorf("--plot %s: %w", path, err)
	}
	return f.Close()
}

// loadFrames reads up to n frames, evenly spaced, from a folder of images
// (a MOT sequence folder or its img1/) or a video file.
func loadFrames(ctx context.Context, path string, n int) ([]*frame.Frame, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--source %s: %w", path, err)
	}
	if !st.IsDir() {
		return videoFrames(ctx, path, n)
	}
	dir := path
	if _, err := os.Stat(filepath.Join(path, "img1")); err == nil {
		dir = filepath.Join(path, "img1")
	}
	var files []string
	for _, pat := range []string{"*.jpg", "*.jpeg", "*.png"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("--source %s: no .jpg or .png images in %s", path, dir)
	}
	slices.Sort(files)
	var out []*frame.Frame
	for _, i := range spaced(len(files), n) {
		fh, err := os.Open(files[i])
		if err != nil {
			return nil, err
		}
		img, _, err := image.Decode(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("--source: %s: %w", files[i], err)
		}
		out = append(out, rgbaFrame(img))
	}
	return out, nil
}

// spaced picks min(n, total) indices spread evenly over [0, total).
func spaced(total, n int) []int {
	n = min(n, total)
	out := make([]int, n)
	for i := range out {
		out[i] = i * total / n
	}
	return out
}

var errEnoughFrames = errors.New("enough frames")

func videoFrames(ctx context.Context, path string, n int) ([]*frame.Frame, error) {
	// Decode every frame once to count them would double the cost: keep
	// every k-th of the first frames instead, k chosen for a 10 s stretch
	// at 30 fps.
	every := max(1, 300/n)
	var out []*frame.Frame
	i := 0
	_, err := videodecode.Decode(ctx, path, func(img *image.RGBA) error {
		if i%every == 0 {
			out = append(out, rgbaFrame(img))
		}
		i++
		if len(out) >= n {
			return errEnoughFrames
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnoughFrames) {
		return nil, fmt.Errorf("--source %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--source %s: no frames decoded", path)
	}
	return out, nil
}

// rgbaFrame copies img into an RGBA frame.
func rgbaFrame(img image.Image) *frame.Frame {
	b := img.Bounds()
	f := frame.Alloc(frame.RGBA, b.Dx(), b.Dy())
	dst := &image.RGBA{Pix: f.Data, Stride: f.Stride[0], Rect: image.Rect(0, 0, b.Dx(), b.Dy())}
	draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
	return &f
}
