package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/gst-react/gst-react/cloudworker"
	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/natsauth"
	"github.com/gst-react/gst-react/internal/preprocess"
	"github.com/gst-react/gst-react/internal/wire"
)

// cloudworkerLog is where `gstreact cloudworker` logs; tests replace it.
var cloudworkerLog io.Writer = os.Stderr

// defaultCloudModelName is the manifest's cloud model (yolox_nano_736x1280).
func defaultCloudModelName() string {
	if e, ok := models.Embedded().ByRole(models.RoleCloud); ok {
		return e.Name
	}
	return ""
}

// runCloudworker serves detection requests from NATS until ctx is cancelled
// (SIGINT/SIGTERM), then drains: requests already received are answered
// before it returns. A second signal while draining exits at once.
func runCloudworker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cloudworker", flag.ContinueOnError)
	fs.SetOutput(cloudworkerLog)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: gstreact cloudworker [flags]\n\n"+
			"Runs the big detector for frames the edges offload: subscribes to the request subject\n"+
			"in a NATS queue group (start more workers, anywhere in the NATS cluster, to add capacity)\n"+
			"and answers each request with boxes. SIGINT/SIGTERM drain and stop it.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	natsURL := fs.String("nats", cloudworker.DefaultNATSURL, "NATS server URL; several servers of one cluster comma-separated")
	model := fs.String("model", defaultCloudModelName(), "cloud ONNX model: file path or manifest name (gstreact models lists them)")
	concurrency := fs.Int("concurrency", cloudworker.DefaultConcurrency,
		fmt.Sprintf("requests served at once, 1..%d; each slot loads its own model instance", cloudworker.MaxConcurrency))
	threads := fs.Int("threads", 0, "ONNX Runtime threads per slot (default 0: all cores, or cores/N each with --concurrency N)")
	maxBatch := fs.Int("max-batch", 0, fmt.Sprintf("gather up to this many requests into one model run per slot, 2..%d (needs a model with a dynamic batch dimension, e.g. yolov5n_640_fp16; others run unbatched and the log says why) (default 0: no batching)", cloudworker.MaxBatch))
	maxBatchWait := fs.Duration("max-batch-wait", cloudworker.DefaultMaxBatchWait, "with --max-batch, how long a slot waits for more requests after the first")
	cuda := fs.Bool("cuda", false, "run the model on the CUDA execution provider, GPU 0 (default false: CPU); needs an ONNX Runtime built with CUDA")
	subject := fs.String("subject", wire.DefaultRequestSubject, "NATS subject to serve; wildcards allowed, e.g. "+wire.AllTenantsSubject+" for every tenant")
	queue := fs.String("queue", wire.DefaultQueueGroup, "NATS queue group; the workers of one group share the requests")
	workerID := fs.String("worker-id", "", "name of this worker in replies, logs and metrics, 1..64 of A-Z a-z 0-9 . _ - (default \"<hostname>-<pid>\")")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus /metrics and /healthz on this address, e.g. :9090 (default \"\": off)")
	extraLatency := fs.Duration("extra-latency", 0, "sleep added before each reply, to simulate a distant cloud, e.g. 300ms (default 0: none)")
	threshold := fs.Float64("threshold", 0, "minimum detection score, in (0, 1] (default 0: the model's own from models/manifest.json, else 0.3)")
	nmsThreshold := fs.Float64("nms-threshold", cloudworker.DefaultNMSThreshold, "NMS IoU threshold, in (0, 1]")
	preproc := fs.String("preprocess", "", "override the model's preprocessing, naming only what differs: "+preprocess.SpecKeys+" (default \"\": the model's own, from its format and models/manifest.json)")
	summary := fs.Duration("summary-interval", cloudworker.DefaultSummaryInterval, "how often to log a summary line (0: never)")
	drainTimeout := fs.Duration("drain-timeout", cloudworker.DefaultDrainTimeout, "on SIGINT/SIGTERM, how long requests already received may take to finish")
	var auth natsauth.Options
	fs.StringVar(&auth.User, "user", "", "NATS user name (needs a password) (default \"\": none)")
	fs.StringVar(&auth.Password, "password", "", "NATS password of --user; when empty, read from $"+natsauth.EnvPassword+" (prefer that: flags show in ps) (default \"\": none)")
	fs.StringVar(&auth.Token, "token", "", "NATS token, instead of --user; when empty, read from $"+natsauth.EnvToken+" (prefer that: flags show in ps) (default \"\": none)")
	fs.StringVar(&auth.CredsFile, "creds", "", "NATS .creds file (user JWT and NKey seed) (default \"\": none)")
	fs.StringVar(&auth.NKeySeedFile, "nkey-seed", "", "file holding an NKey user seed (SU...) (default \"\": none)")
	fs.StringVar(&auth.TLSCAFile, "tls-ca", "", "PEM CA bundle to verify the NATS server with; any --tls-* flag requires TLS (default \"\": none)")
	fs.StringVar(&auth.TLSCertFile, "tls-cert", "", "PEM client certificate for mutual TLS (needs --tls-key) (default \"\": none)")
	fs.StringVar(&auth.TLSKeyFile, "tls-key", "", "PEM private key of --tls-cert (default \"\": none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	auth.FromEnv()
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	if *concurrency < 1 || *concurrency > cloudworker.MaxConcurrency {
		return fmt.Errorf("--concurrency %d is out of range: use 1..%d", *concurrency, cloudworker.MaxConcurrency)
	}
	if *threads < 0 {
		return fmt.Errorf("--threads %d is negative: use 0 for one per core, or a positive count", *threads)
	}
	if *maxBatch < 0 || *maxBatch > cloudworker.MaxBatch || *maxBatchWait < 0 {
		return fmt.Errorf("--max-batch %d must be in 0..%d and --max-batch-wait %s must not be negative", *maxBatch, cloudworker.MaxBatch, *maxBatchWait)
	}
	if *summary < 0 || *drainTimeout <= 0 {
		return fmt.Errorf("--summary-interval %s must not be negative and --drain-timeout %s must be positive", *summary, *drainTimeout)
	}
	if *model == "" {
		return fmt.Errorf("no --model given and the manifest has no cloud model")
	}
	mp, err := resolveModel(*model)
	if err != nil {
		return err
	}
	if *threads == 0 && *concurrency > 1 {
		// N slots each spinning one thread per core only fight for them.
		*threads = max(1, runtime.NumCPU() / *concurrency)
	}
	interval := *summary
	if interval == 0 {
		interval = -1 // Options: negative = never
	}
	log := slog.New(slog.NewTextHandler(cloudworkerLog, nil))
	w, err := cloudworker.New(cloudworker.Options{
		NATSURL:         *natsURL,
		Auth:            auth,
		Subject:         *subject,
		Queue:           *queue,
		ModelPath:       mp,
		Concurrency:     *concurrency,
		MaxBatch:        *maxBatch,
		MaxBatchWait:    *maxBatchWait,
		Threads:         *threads,
		CUDA:            *cuda,
		ScoreThreshold:  float32(*threshold),
		Preprocess:      *preproc,
		NMSThreshold:    float32(*nmsThreshold),
		WorkerID:        *workerID,
		MetricsAddr:     *metricsAddr,
		ExtraLatency:    *extraLatency,
		DrainTimeout:    *drainTimeout,
		SummaryInterval: interval,
		Logger:          log,
	})
	if err != nil {
		return err
	}
	o := w.Options()
	if ctx.Err() != nil { // a signal while the models loaded: nothing to drain
		return w.Stop()
	}
	if err := w.Start(ctx); err != nil {
		w.Stop()
		return err
	}
	attrs := []any{"worker", o.WorkerID, "nats", redactURLs(o.NATSURL), "subject", o.Subject, "queue", o.Queue,
		"auth", o.Auth.String(), "model", w.Describe(), "concurrency", o.Concurrency, "threads", o.Threads, "cuda", o.CUDA}
	if a := w.MetricsAddr(); a != "" {
		attrs = append(attrs, "metrics", "http://"+a+"/metrics")
	}
	if o.ExtraLatency > 0 {
		attrs = append(attrs, "extra_latency", o.ExtraLatency)
	}
	if o.MaxBatch > 1 {
		attrs = append(attrs, "max_batch", o.MaxBatch, "max_batch_wait", o.MaxBatchWait)
	}
	log.Info("cloud worker serving", attrs...)

	<-ctx.Done()
	log.Info("draining: finishing the requests already received; signal again to exit at once", "timeout", o.DrainTimeout)
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- w.Stop() }()
	select {
	case err = <-done:
	case s := <-again:
		return fmt.Errorf("%v while draining: exiting without waiting for %d requests in flight", s, w.Stats().InFlight)
	}
	log.Info("drained", "took", time.Since(t0).Round(time.Millisecond), "err", err)
	return err
}

// redactURLs hides the user information (user:password or token) of each
// comma-separated NATS URL, for logging.
func redactURLs(urls string) string { return natsauth.Redact(urls) }
