package cloudworker

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/natsauth"
	"github.com/gst-react/gst-react/internal/wire"
)

// Defaults of Options; DefaultOptions spells them out, and New applies them to
// zero fields.
const (
	DefaultNATSURL         = "nats://127.0.0.1:4222"
	DefaultConcurrency     = 1
	DefaultScoreThreshold  = 0.3
	DefaultNMSThreshold    = 0.45
	DefaultReconnectWait   = 500 * time.Millisecond
	DefaultDrainTimeout    = 30 * time.Second
	DefaultSummaryInterval = 30 * time.Second
	MaxConcurrency         = 64
	DefaultMaxBatchWait    = 10 * time.Millisecond
	MaxBatch               = 64
)

// Options configures a Worker. Zero fields take the defaults documented on each
// field, so Options{NATSURL: url} is a complete configuration.
type Options struct {
	// NATSURL is the server (or comma-separated servers of one cluster) to
	// connect to. Default DefaultNATSURL, nats://127.0.0.1:4222.
	NATSURL string
	// Auth holds the NATS credentials and TLS files; the zero value
	// connects without authentication. See internal/natsauth/SECURITY.md.
	Auth natsauth.Options
	// Subject is the request subject. Default wire.DefaultRequestSubject
	// ("react.detect"); wildcards are allowed, e.g. wire.AllTenantsSubject.
	Subject string
	// Queue is the queue group; workers in one group share the requests.
	// Default wire.DefaultQueueGroup ("react-workers").
	Queue string

	// ModelPath is the ONNX detector: a file path or a manifest model name.
	// Default: the manifest's cloud model in the cache (models.DefaultCloudModel).
	ModelPath string
	// ORTLib is the ONNX Runtime library to load if the process has not loaded
	// one yet. Default: ortlib.Locate() ($GSTREACT_ORT_LIB, else the cache).
	ORTLib string
	// Concurrency is how many requests run at once, each slot with its own
	// detector (a model instance in memory). 1..MaxConcurrency, default 1.
	Concurrency int
	// Threads is ONNX Runtime's intra-op threads per detector; 0 = its default
	// (one per core). With Concurrency > 1 set about cores/Concurrency, or the
	// slots fight over the cores.
	Threads int
	// NoSpin lets ONNX Runtime's threads sleep between requests instead of
	// spinning (onnx.Options.NoSpin): for a worker that shares its cores
	// with other work, such as the in-process worker of gstreact run.
	NoSpin bool
	// CUDA runs the detectors on the CUDA execution provider (GPU 0). New
	// fails, saying so, when the ONNX Runtime library has no CUDA support.
	// Default false: CPU.
	CUDA bool
	// MaxBatch gathers up to this many requests (from any edges) into one
	// model run per slot, with pre-allocated batch tensors and one JPEG
	// decode per request. It needs a model with a dynamic batch dimension; a
	// model with a fixed batch of 1 runs unbatched and the worker logs why.
	// 0 or 1: no batching (default). At most MaxBatch.
	MaxBatch int
	// MaxBatchWait is how long a slot holding fewer than MaxBatch requests
	// waits for more after the first arrived; default 10ms. It adds to the
	// round trip of the first request of a batch under light load.
	MaxBatchWait time.Duration
	// ScoreThreshold is the minimum obj×class score of a box, in (0,1];
	// default (0): the model's threshold in models/manifest.json, else 0.3.
	ScoreThreshold float32
	// NMSThreshold is the IoU above which a same-class box is suppressed, in
	// (0,1]; default 0.45.
	NMSThreshold float32
	// Preprocess overrides the model's preprocessing (preprocess.ParseSpec
	// form, only what differs); "" keeps what the model's format and manifest
	// entry say.
	Preprocess string

	// Limits bound what a request may ask (bytes, pixels) and what a reply may
	// hold; use the same values as the edges. Zero fields are wire's defaults.
	Limits wire.Limits

	// WorkerID names this worker in replies, logs and metrics: 1..64 of
	// [A-Za-z0-9._-]. Default "<hostname>-<pid>".
	WorkerID string

	// MetricsAddr, when set (e.g. "127.0.0.1:9090", or ":9090" for all
	// interfaces), serves Prometheus text metrics at /metrics and a health
	// check at /healthz. Default "": off.
	MetricsAddr string

	// ExtraLatency is slept before each reply, to simulate a slow or distant
	// cloud in tests and demos. It occupies the slot, like a slower model
	// would. Default 0.
	ExtraLatency time.Duration

	// ReconnectWait is the pause between NATS (re)connect attempts; default
	// 500ms. The worker retries forever.
	ReconnectWait time.Duration
	// DrainTimeout bounds Stop: how long in-flight and already received
	// requests may take to finish. Default 30s.
	DrainTimeout time.Duration
	// SummaryInterval is how often a summary line is logged; default 30s,
	// negative = never.
	SummaryInterval time.Duration

	// Logger receives one line per error, connection changes and the periodic
	// summary. Default: text to stderr.
	Logger *slog.Logger
}

// DefaultOptions returns the defaults spelled out. ModelPath is left empty when
// there is no cache directory (no $HOME); New then asks for a model.
func DefaultOptions() Options {
	mp, _ := models.DefaultCloudModel()
	return Options{
		NATSURL:         DefaultNATSURL,
		Subject:         wire.DefaultRequestSubject,
		Queue:           wire.DefaultQueueGroup,
		ModelPath:       mp,
		Concurrency:     DefaultConcurrency,
		ScoreThreshold:  DefaultScoreThreshold,
		NMSThreshold:    DefaultNMSThreshold,
		Limits:          wire.DefaultLimits(),
		WorkerID:        DefaultWorkerID(),
		ReconnectWait:   DefaultReconnectWait,
		DrainTimeout:    DefaultDrainTimeout,
		SummaryInterval: DefaultSummaryInterval,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
}

// DefaultWorkerID is "<hostname>-<pid>" with characters outside [A-Za-z0-9._-]
// replaced by '-', shortened to fit wire.MaxWorkerIDLen.
func DefaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	pid := "-" + strconv.Itoa(os.Getpid())
	b := []byte(host)
	for i, c := range b {
		if !wire.IDChar(c) {
			b[i] = '-'
		}
	}
	if len(b) > wire.MaxWorkerIDLen-len(pid) {
		b = b[:wire.MaxWorkerIDLen-len(pid)]
	}
	return string(b) + pid
}

// withDefaults fills zero fields. It does not touch ModelPath when set, so a
// caller-given path is what error messages name.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	set := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	set(&o.NATSURL, d.NATSURL)
	set(&o.Subject, d.Subject)
	set(&o.Queue, d.Queue)
	set(&o.ModelPath, d.ModelPath)
	set(&o.WorkerID, d.WorkerID)
	if o.Concurrency == 0 {
		o.Concurrency = d.Concurrency
	}
	if o.ScoreThreshold == 0 {
		// The model's own threshold: score scales differ by family (GFL
		// scores run lower than YOLOX's obj×cls).
		o.ScoreThreshold = d.ScoreThreshold
		if mp, err := models.Resolve(o.ModelPath); err == nil {
			if e, ok := models.Embedded().ForFile(mp); ok && e.Threshold > 0 {
				o.ScoreThreshold = e.Threshold
			}
		}
	}
	if o.NMSThreshold == 0 {
		o.NMSThreshold = d.NMSThreshold
	}
	if o.ReconnectWait == 0 {
		o.ReconnectWait = d.ReconnectWait
	}
	if o.MaxBatchWait == 0 {
		o.MaxBatchWait = DefaultMaxBatchWait
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = d.DrainTimeout
	}
	if o.SummaryInterval == 0 {
		o.SummaryInterval = d.SummaryInterval
	}
	if o.Logger == nil {
		o.Logger = d.Logger
	}
	return o
}

// validate checks o after withDefaults; errors say what is allowed.
func (o *Options) validate() error {
	if strings.ContainsAny(o.NATSURL, " \t\r\n") {
		return fmt.Errorf("NATS URL %q contains white space; give a URL such as nats://host:4222 (several: comma-separated, no spaces)", natsauth.Redact(o.NATSURL))
	}
	if err := o.Auth.Validate(); err != nil {
		return err
	}
	if err := checkSubject(o.Subject); err != nil {
		return err
	}
	if o.Queue == "" || strings.ContainsAny(o.Queue, " \t\r\n") {
		return fmt.Errorf("queue group %q is not valid: give a non-empty name without white space, e.g. %q", o.Queue, wire.DefaultQueueGroup)
	}
	if o.ModelPath == "" {
		return fmt.Errorf("no model given and no default cloud model (no cache directory): pass a model path or name; %s", models.SetupHint)
	}
	if o.Concurrency < 1 || o.Concurrency > MaxConcurrency {
		return fmt.Errorf("concurrency %d is out of range: use 1..%d (each slot loads its own model instance)", o.Concurrency, MaxConcurrency)
	}
	if o.MaxBatch < 0 || o.MaxBatch > MaxBatch {
		return fmt.Errorf("max batch %d is out of range: use 0 or 1 (no batching) up to %d", o.MaxBatch, MaxBatch)
	}
	if o.MaxBatchWait < 0 {
		return fmt.Errorf("max batch wait %s is negative: use a small positive duration, e.g. %s", o.MaxBatchWait, DefaultMaxBatchWait)
	}
	if o.Threads < 0 {
		return fmt.Errorf("threads %d is negative: use 0 for ONNX Runtime's default, or a positive count per detector", o.Threads)
	}
	if !(o.ScoreThreshold > 0 && o.ScoreThreshold <= 1) {
		return fmt.Errorf("score threshold %v is out of range: use a value in (0, 1], e.g. %v", o.ScoreThreshold, DefaultScoreThreshold)
	}
	if !(o.NMSThreshold > 0 && o.NMSThreshold <= 1) {
		return fmt.Errorf("NMS threshold %v is out of range: use a value in (0, 1], e.g. %v", o.NMSThreshold, DefaultNMSThreshold)
	}
	if id := o.WorkerID; !wire.ValidWorkerID(id) {
		return fmt.Errorf("worker id %q is not valid: use 1..%d characters of A-Z a-z 0-9 . _ -", id, wire.MaxWorkerIDLen)
	}
	if o.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(o.MetricsAddr); err != nil || port == "" {
			return fmt.Errorf("metrics address %q is not host:port: use e.g. 127.0.0.1:9090, or :9090 for all interfaces", o.MetricsAddr)
		}
	}
	if o.ExtraLatency < 0 {
		return fmt.Errorf("extra latency %s is negative: use 0 (none) or a positive duration", o.ExtraLatency)
	}
	if o.ReconnectWait < 0 || o.DrainTimeout < 0 {
		return fmt.Errorf("reconnect wait %s and drain timeout %s must not be negative", o.ReconnectWait, o.DrainTimeout)
	}
	l := o.Limits
	if l.MaxJPEGBytes < 0 || l.MaxWidth < 0 || l.MaxHeight < 0 || l.MaxPixels < 0 || l.MaxBoxes < 0 || l.MaxClass < 0 {
		return fmt.Errorf("limits %+v have a negative field: use 0 for a default, or a positive limit", l)
	}
	return nil
}

// checkSubject applies NATS's subject rules for subscriptions: dot-separated
// non-empty tokens without white space, '*' only as a whole token, '>' only as
// the whole last token.
func checkSubject(s string) error {
	bad := func(why string) error {
		return fmt.Errorf("subject %q is not a valid NATS subject (%s); use e.g. %q or %q", s, why, wire.DefaultRequestSubject, wire.AllTenantsSubject)
	}
	if s == "" {
		return bad("empty")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return bad("white space")
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return bad("empty token")
		case t == ">" && i != len(toks)-1:
			return bad("'>' must be the last token")
		case len(t) > 1 && strings.ContainsAny(t, "*>"):
			return bad("wildcards must be whole tokens")
		}
	}
	return nil
}
