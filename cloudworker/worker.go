// Package cloudworker is the cloud side of REACT: a NATS service that runs the
// big detector on frames the edges offload and answers with boxes.
//
// A Worker subscribes to the request subject (wire.DefaultRequestSubject) in a
// queue group (wire.DefaultQueueGroup), so each request reaches one worker and
// more workers, on any machine of the NATS cluster, add capacity. Each request
// is a wire.Request: a JPEG plus the size of the frame it came from. The worker
// validates it (protocol, limits, and the JPEG's declared size before decoding
// anything, against decompression bombs), decodes the JPEG, runs the detector,
// scales the boxes from JPEG to frame pixels and replies with a wire.Reply. A
// request that cannot be served still gets a reply, with an error code, so the
// edge never waits for its timeout to learn that; only a request without a reply
// subject goes unanswered.
//
// Concurrency slots each own a detector (ONNX session), a frame buffer and a
// reply buffer, so steady-state handling allocates little beyond the JPEG
// decoder's image. The worker keeps retrying NATS forever, so it may start
// before the server and survives server restarts; Stop drains: requests already
// received are finished and answered before the connection closes.
package cloudworker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/detector"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/natsauth"
	"github.com/gst-react/gst-react/internal/onnx"
	"github.com/gst-react/gst-react/internal/ortlib"
	"github.com/gst-react/gst-react/internal/wire"
)

// maxDetections caps boxes per reply below Limits.MaxBoxes: NMS costs grow with
// it and 300 is the decoder's default, plenty for a crowded frame.
const maxDetections = 300

// Worker is a cloud detection worker. Create it with New, then Run it (or
// Start and later Stop). Its methods are safe for concurrent use.
type Worker struct {
	opts  Options
	lim   wire.Limits
	log   *slog.Logger
	slots []*slot
	c     *counters
	elog  errLogLimiter

	mu       sync.Mutex // guards the lifecycle fields below
	started  bool
	stopped  bool
	stopErr  error
	nc       *nats.Conn
	sub      *nats.Subscription
	subDone  chan struct{} // closed when the subscription's callbacks are over
	work     chan job
	slotsWG  sync.WaitGroup
	quit     chan struct{} // stops the summary loop
	bgWG     sync.WaitGroup
	httpSrv  *http.Server
	httpAddr string
	stopping atomic.Bool

	testHook func(*wire.Request) // called before decoding; tests inject panics
}

// job is one received message and when it arrived.
type job struct {
	m    *nats.Msg
	recv time.Time
}

// slot is one unit of concurrency: its own detector and reused buffers.
type slot struct {
	id    int
	det   *detector.Detector
	conv  converter
	boxes []wire.Box
	out   []byte
	// Batching only (see batch.go): the gathered requests' own buffers,
	// the frames of the model run and their items' indices.
	items   []*batchItem
	frames  []*frame.Frame
	batched []int
}

// New checks opts (zero fields take their defaults, see Options), loads ONNX
// Runtime if the process has not yet, and loads one detector per concurrency
// slot. Errors name the model file and say how to fix the problem.
func New(opts Options) (*Worker, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	mp, err := models.Resolve(opts.ModelPath)
	if err != nil {
		return nil, err
	}
	opts.ModelPath = mp
	lib := opts.ORTLib
	if lib == "" {
		if lib, err = ortlib.Locate(); err != nil {
			return nil, err
		}
	}
	if err := onnx.Init(lib); err != nil {
		return nil, err
	}
	lim := opts.Limits.WithDefaults()
	opts.Limits = lim
	w := &Worker{
		opts: opts,
		lim:  lim,
		log:  opts.Logger.With("worker", opts.WorkerID),
		c:    newCounters(),
	}
	for i := range opts.Concurrency {
		det, err := detector.New(detector.Config{
			ModelPath:      opts.ModelPath,
			Threads:        opts.Threads,
			NoSpin:         opts.NoSpin,
			CUDA:           opts.CUDA,
			ScoreThreshold: opts.ScoreThreshold,
			NMSThreshold:   opts.NMSThreshold,
			MaxDetections:  min(lim.MaxBoxes, maxDetections),
			Preprocess:     opts.Preprocess,
			MaxBatch:       opts.MaxBatch,
		})
		if err != nil {
			w.closeDetectors()
			return nil, fmt.Errorf("loading detector %d of %d from %s: %w", i+1, opts.Concurrency, opts.ModelPath, err)
		}
		// JFIF is BT.601; the converter hands the detector BT.601 planes.
		det.SetBT709(false)
		w.slots = append(w.slots, &slot{id: i, det: det})
	}
	if d := w.slots[0].det; opts.MaxBatch > 1 {
		if d.MaxBatch() > 1 {
			w.log.Info("batching requests", "max_batch", d.MaxBatch(), "max_batch_wait", opts.MaxBatchWait)
		} else {
			w.log.Warn("batching off: running one request per model run", "max_batch", opts.MaxBatch, "reason", d.BatchNote())
		}
	}
	return w, nil
}

// Options returns the options in effect, defaults filled in and ModelPath
// resolved to a file.
func (w *Worker) Options() Options { return w.opts }

// Describe summarises the model for logs.
func (w *Worker) Describe() string { return w.slots[0].det.Describe() }

// MetricsAddr is the address the metrics endpoint listens on (useful with port
// 0), or "" when it is off or not started.
func (w *Worker) MetricsAddr() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.httpAddr
}

// Stats returns a snapshot of the counters.
func (w *Worker) Stats() Stats { return w.c.snapshot(w.opts.WorkerID) }

// Start connects to NATS, subscribes and starts the slots, then returns. When
// the server is not reachable yet it returns anyway and keeps connecting in the
// background; requests are served once it appears. It fails only when the
// worker was already started or stopped, the metrics address cannot be
// listened on, or the NATS URL is malformed. ctx only bounds start-up.
func (w *Worker) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stopped:
		return errors.New("cloudworker: Start after Stop; make a new Worker")
	case w.started:
		return errors.New("cloudworker: already started")
	}
	if w.opts.MetricsAddr != "" {
		l, err := net.Listen("tcp", w.opts.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics endpoint: %w (pick another --metrics-addr, or leave it empty to turn metrics off)", err)
		}
		w.httpAddr = l.Addr().String()
		w.httpSrv = &http.Server{Handler: w.handler(), ReadHeaderTimeout: 5 * time.Second}
		go w.httpSrv.Serve(l)
	}
	w.work = make(chan job, intakeLen)
	w.subDone = make(chan struct{})
	w.quit = make(chan struct{})
	authOpts, err := w.opts.Auth.NATSOptions()
	if err != nil {
		w.closeHTTP()
		return err
	}
	server := natsauth.Redact(w.opts.NATSURL)
	var lastRefusal atomic.Pointer[string] // logged once per distinct refusal
	opts := append([]nats.Option{
		nats.Name("gstreact-cloudworker " + w.opts.WorkerID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(w.opts.ReconnectWait),
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(func(nc *nats.Conn) {
			w.c.connected.Store(true)
			lastRefusal.Store(nil)
			w.log.Info("connected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			w.c.connected.Store(false)
			if w.stopping.Load() {
				return
			}
			w.log.Warn("disconnected from NATS; reconnecting", "err", redactErr(w.opts, err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			w.c.connected.Store(true)
			lastRefusal.Store(nil)
			w.c.reconnects.Add(1)
			w.log.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) { w.c.connected.Store(false) }),
	}, authOpts...)
	opts = append(opts, natsauth.RefusalOptions(
		func(err error) {
			// nats.go retries every ReconnectWait: log each distinct
			// refusal once.
			msg := redactErr(w.opts, err)
			if prev := lastRefusal.Swap(&msg); prev == nil || *prev != msg {
				w.log.Error("NATS server refused the worker; retrying (check --user/--password, --token, --creds, --nkey-seed, --tls-*)",
					"url", server, "err", msg)
			}
		},
		// Slow consumer: requests arrive faster than the slots serve them
		// and NATS dropped some; their edges will time out.
		func(err error) { w.log.Error("NATS error", "err", redactErr(w.opts, err)) },
	)...)
	nc, err := nats.Connect(w.opts.NATSURL, opts...)
	if err != nil {
		w.closeHTTP()
		return fmt.Errorf("connecting to NATS at %s: %s", server, redactErr(w.opts, err))
	}
	w.c.connected.Store(nc.IsConnected())
	sub, err := nc.QueueSubscribe(w.opts.Subject, w.opts.Queue, w.onMsg)
	if err != nil {
		nc.Close()
		w.closeHTTP()
		return fmt.Errorf("subscribing to %s in queue %s: %w", w.opts.Subject, w.opts.Queue, err)
	}
	// The delivery goroutine calls this after its last callback has
	// returned, which is what Drain waits for.
	sub.SetClosedHandler(func(string) { close(w.subDone) })
	if nc.IsConnected() {
		// Make sure the server has the subscription when Start returns, so
		// a request sent right after is not answered "no responders".
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			w.log.Warn("NATS flush after subscribing failed", "err", err)
		}
	}
	w.nc, w.sub = nc, sub
	for _, s := range w.slots {
		w.slotsWG.Add(1)
		go func() {
			defer w.slotsWG.Done()
			if s.det.MaxBatch() > 1 {
				w.serveBatches(s)
				return
			}
			for j := range w.work {
				w.handle(s, j)
			}
		}()
	}
	if w.opts.SummaryInterval > 0 {
		w.bgWG.Add(1)
		go w.summaryLoop()
	}
	w.started = true
	if !nc.IsConnected() {
		w.log.Warn("NATS server not reachable yet; retrying in the background", "url", server)
	}
	return nil
}

// redactErr is err's text without the secrets of o (nil: "").
func redactErr(o Options, err error) string {
	if err == nil {
		return ""
	}
	return o.Auth.RedactIn(err.Error(), o.NATSURL)
}

// intakeLen is how many received requests may wait for a slot in the
// worker's own queue. Their receipt time is taken as they arrive, so the
// queue wait replies report (and the deadline check) sees the whole wait;
// requests beyond it wait in the NATS client's pending buffer, unstamped.
// Edges bound their requests in flight (2 by default), so 128 covers 64
// edges on one worker; of 100-300 KB 1080p JPEGs it holds at most 38 MB,
// less than the client's buffer may (64 MB by default).
const intakeLen = 128

// onMsg runs on the subscription's delivery goroutine. Blocking once the
// intake queue is full is the backpressure: further messages wait in the
// client's pending buffer (and past its limits NATS reports a slow consumer).
func (w *Worker) onMsg(m *nats.Msg) {
	w.c.requests.Add(1)
	w.c.inFlight.Add(1)
	w.work <- job{m: m, recv: time.Now()}
}

// Run starts the worker, serves until ctx is cancelled, then drains. When
// Start fails the models are released too: the Worker is done either way.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Start(ctx); err != nil {
		w.mu.Lock()
		started := w.started
		w.mu.Unlock()
		if !started {
			w.Drain()
		}
		return err
	}
	<-ctx.Done()
	return w.Drain()
}

// Stop is Drain.
func (w *Worker) Stop() error { return w.Drain() }

// Drain stops taking requests, finishes and answers the ones already received
// (within Options.DrainTimeout), closes the NATS connection and the metrics
// endpoint, and releases the models. Later calls return the first result. A
// worker that was never started just releases its models.
func (w *Worker) Drain() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return w.stopErr
	}
	w.stopped = true
	w.stopping.Store(true)
	if !w.started {
		w.closeDetectors()
		return nil
	}
	deadline := time.Now().Add(w.opts.DrainTimeout)
	var errs []error
	// Drain unsubscribes at the server and lets buffered messages through;
	// when not connected there is nothing to tell the server, and nothing
	// more will arrive.
	if err := w.sub.Drain(); err != nil || !w.nc.IsConnected() {
		w.sub.Unsubscribe()
	}
	select {
	case <-w.subDone:
	case <-time.After(time.Until(deadline)):
		w.sub.Unsubscribe()
	}
	timedOut := false
	select {
	case <-w.subDone:
		// No callback runs or will run: closing work cannot race a send.
		close(w.work)
		slotsDone := make(chan struct{})
		go func() { w.slotsWG.Wait(); close(slotsDone) }()
		select {
		case <-slotsDone:
		case <-time.After(max(time.Until(deadline), 100*time.Millisecond)):
			timedOut = true
		}
	case <-time.After(max(time.Until(deadline), 100*time.Millisecond)):
		timedOut = true // a callback is still waiting for a stuck slot
	}
	if timedOut {
		errs = append(errs, fmt.Errorf("%d requests still running after the %s drain timeout; their replies are lost", w.c.inFlight.Load(), w.opts.DrainTimeout))
	}
	if w.nc.IsConnected() {
		if err := w.nc.FlushTimeout(max(time.Until(deadline), time.Second)); err != nil {
			errs = append(errs, fmt.Errorf("flushing replies: %w", err))
		}
	}
	w.nc.Close()
	close(w.quit)
	w.bgWG.Wait()
	w.closeHTTP()
	if !timedOut {
		// A detector still running would crash if its session were freed.
		w.closeDetectors()
	}
	s := w.Stats()
	attrs := []any{"requests", s.Requests, "errors", s.Errors, "latency_mean", fmtDur(s.Latency.Mean()),
		"p50", fmtDur(s.Latency.Quantile(0.5))}
	if s.Batches > 0 {
		attrs = append(attrs, "batches", s.Batches, "mean_batch", fmt.Sprintf("%.2f", float64(s.BatchedRequests)/float64(s.Batches)))
	}
	w.log.Info("stopped", attrs...)
	w.stopErr = errors.Join(errs...)
	return w.stopErr
}

func (w *Worker) closeHTTP() {
	if w.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		w.httpSrv.Shutdown(ctx)
		cancel()
		w.httpSrv = nil
		w.httpAddr = ""
	}
}

func (w *Worker) closeDetectors() {
	for _, s := range w.slots {
		if s.det != nil {
			s.det.Close()
			s.det = nil
		}
	}
}

// summaryLoop logs a line per interval: what was served since the last one.
func (w *Worker) summaryLoop() {
	defer w.bgWG.Done()
	t := time.NewTicker(w.opts.SummaryInterval)
	defer t.Stop()
	prev := w.Stats()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
		}
		s := w.Stats()
		lat := s.Latency.Sub(prev.Latency)
		inf := s.Inference.Sub(prev.Inference)
		w.log.Info("summary",
			"interval", w.opts.SummaryInterval,
			"requests", s.Requests-prev.Requests,
			"errors", s.Errors-prev.Errors,
			"latency_mean", fmtDur(lat.Mean()),
			"p50", fmtDur(lat.Quantile(0.5)),
			"p95", fmtDur(lat.Quantile(0.95)),
			"inference_mean", fmtDur(inf.Mean()),
			"in_flight", s.InFlight,
			"connected", s.Connected,
			"batches", s.Batches-prev.Batches,
			"batched_requests", s.BatchedRequests-prev.BatchedRequests,
			"suppressed_error_lines", w.elog.takeSuppressed(),
			"requests_total", s.Requests)
		prev = s
	}
}

// errLogLimiter keeps a flood of bad requests from flooding the log: at most
// errLogBurst error lines per second; the summary reports how many were skipped.
type errLogLimiter struct {
	mu         sync.Mutex
	sec        int64
	n          int
	suppressed int
}

const errLogBurst = 10

func (l *errLogLimiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := now.Unix(); s != l.sec {
		l.sec, l.n = s, 0
	}
	l.n++
	if l.n > errLogBurst {
		l.suppressed++
		return false
	}
	return true
}

func (l *errLogLimiter) takeSuppressed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.suppressed
	l.suppressed = 0
	return n
}
