package cloudworker

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gst-react/gst-react/internal/promtext"
	"github.com/gst-react/gst-react/internal/wire"
)

// Buckets are the upper bounds of the latency histograms: 5 ms to 10 s, the
// range between a small model on a GPU and a big one on a loaded CPU.
var Buckets = []time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// numCodes is how many reply codes the protocol version has.
var numCodes = func() int {
	n := 0
	for wire.Code(n).Valid() {
		n++
	}
	return n
}()

// histogram is lock-free: handlers on every slot observe into it while the
// metrics endpoint reads.
type histogram struct {
	counts []atomic.Uint64 // per bucket, non-cumulative; last is +Inf
	sumNS  atomic.Int64
}

func newHistogram() *histogram {
	return &histogram{counts: make([]atomic.Uint64, len(Buckets)+1)}
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(Buckets) && d > Buckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNS.Add(int64(d))
}

func (h *histogram) snapshot() Histogram {
	s := Histogram{Counts: make([]uint64, len(h.counts)), Sum: time.Duration(h.sumNS.Load())}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
		s.Count += s.Counts[i]
	}
	return s
}

// Histogram is a snapshot of a latency histogram with bounds Buckets.
type Histogram struct {
	Counts []uint64 // per bucket (not cumulative); Counts[len(Buckets)] is over the last bound
	Count  uint64
	Sum    time.Duration
}

// Sub returns h minus an earlier snapshot prev: the observations in between.
func (h Histogram) Sub(prev Histogram) Histogram {
	d := Histogram{Counts: make([]uint64, len(h.Counts)), Count: h.Count - prev.Count, Sum: h.Sum - prev.Sum}
	for i := range h.Counts {
		d.Counts[i] = h.Counts[i]
		if i < len(prev.Counts) {
			d.Counts[i] -= prev.Counts[i]
		}
	}
	return d
}

// Mean is Sum/Count, 0 when empty.
func (h Histogram) Mean() time.Duration {
	if h.Count == 0 {
		return 0
	}
	return h.Sum / time.Duration(h.Count)
}

// Quantile estimates the q-quantile (0..1) by linear interpolation inside its
// bucket, as Prometheus's histogram_quantile does; 0 when empty. Values over
// the last bound are reported as that bound.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := q * float64(h.Count)
	var cum float64
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if cum+float64(c) >= rank {
			if i >= len(Buckets) {
				return Buckets[len(Buckets)-1]
			}
			lo := time.Duration(0)
			if i > 0 {
				lo = Buckets[i-1]
			}
			frac := (rank - cum) / float64(c)
			return lo + time.Duration(frac*float64(Buckets[i]-lo))
		}
		cum += float64(c)
	}
	return Buckets[len(Buckets)-1]
}

// counters are the worker's metrics, all atomic.
type counters struct {
	requests     atomic.Uint64
	replies      []atomic.Uint64 // by wire.Code
	sendFailures atomic.Uint64
	panics       atomic.Uint64
	inFlight     atomic.Int64
	connected    atomic.Bool
	reconnects   atomic.Uint64
	batches      atomic.Uint64 // model runs over gathered requests (MaxBatch > 1)
	batched      atomic.Uint64 // requests those runs held
	latency      *histogram    // receipt to reply
	inference    *histogram    // detector.Detect
	decode       *histogram    // JPEG decode and conversion
	queueWait    *histogram    // receipt to the model run, less the decode (timing.queue)
}

func newCounters() *counters {
	return &counters{replies: make([]atomic.Uint64, numCodes), latency: newHistogram(), inference: newHistogram(), decode: newHistogram(), queueWait: newHistogram()}
}

// Stats is a snapshot of a worker's counters.
type Stats struct {
	WorkerID string
	// Requests counts messages received on the subject.
	Requests uint64
	// Replies counts replies sent, by status code (CodeOK and the errors).
	Replies map[wire.Code]uint64
	// Errors counts requests that got no OK reply: error replies, plus
	// replies that could not be sent (SendFailures).
	Errors uint64
	// SendFailures counts replies that could not be published (no reply
	// subject, connection closed).
	SendFailures uint64
	// Panics counts handler panics (each answered with CodeInternal).
	Panics uint64
	// InFlight is requests received and not yet answered, queued ones included.
	InFlight int64
	// Connected reports whether the NATS connection is up.
	Connected bool
	// Reconnects counts successful reconnections to NATS.
	Reconnects uint64
	// Batches counts model runs over gathered requests and BatchedRequests
	// the requests they held (Options.MaxBatch > 1 on a batchable model).
	Batches, BatchedRequests uint64
	// Latency is receipt to reply; Inference the model alone; Decode the
	// JPEG decode and conversion to a frame; QueueWait the wait for a slot
	// and a batch (what replies carry as wire.Reply.QueueUS).
	Latency, Inference, Decode, QueueWait Histogram
}

func (c *counters) snapshot(id string) Stats {
	s := Stats{
		WorkerID:        id,
		Requests:        c.requests.Load(),
		Replies:         make(map[wire.Code]uint64, numCodes),
		SendFailures:    c.sendFailures.Load(),
		Panics:          c.panics.Load(),
		InFlight:        c.inFlight.Load(),
		Connected:       c.connected.Load(),
		Reconnects:      c.reconnects.Load(),
		Batches:         c.batches.Load(),
		BatchedRequests: c.batched.Load(),
		Latency:         c.latency.snapshot(),
		Inference:       c.inference.snapshot(),
		Decode:          c.decode.snapshot(),
		QueueWait:       c.queueWait.snapshot(),
	}
	for i := range c.replies {
		n := c.replies[i].Load()
		s.Replies[wire.Code(i)] = n
		if wire.Code(i) != wire.CodeOK {
			s.Errors += n
		}
	}
	s.Errors += s.SendFailures
	return s
}

// codeLabel is a Prometheus-friendly status name: "bad request" → "bad_request".
func codeLabel(c wire.Code) string { return strings.ReplaceAll(c.String(), " ", "_") }

// writeMetrics writes the Prometheus text exposition format (version 0.0.4).
func (w *Worker) writeMetrics(out io.Writer) error {
	bw := bufio.NewWriter(out)
	s := w.Stats()
	const p = "gstreact_cloudworker_"
	metric := func(name, typ, help string) { promtext.Header(bw, p+name, typ, help) }
	metric("info", "gauge", "Worker identity and configuration; always 1.")
	fmt.Fprintf(bw, "%sinfo{worker_id=\"%s\",model=\"%s\",subject=\"%s\",queue=\"%s\"} 1\n", p,
		promtext.EscapeLabel(w.opts.WorkerID), promtext.EscapeLabel(w.opts.ModelPath), promtext.EscapeLabel(w.opts.Subject), promtext.EscapeLabel(w.opts.Queue))
	metric("concurrency", "gauge", "Requests the worker runs at once (detector slots).")
	fmt.Fprintf(bw, "%sconcurrency %d\n", p, w.opts.Concurrency)
	metric("requests_total", "counter", "Request messages received.")
	fmt.Fprintf(bw, "%srequests_total %d\n", p, s.Requests)
	metric("replies_total", "counter", "Replies sent, by status.")
	for c := range numCodes {
		fmt.Fprintf(bw, "%sreplies_total{status=\"%s\"} %d\n", p, codeLabel(wire.Code(c)), s.Replies[wire.Code(c)])
	}
	metric("errors_total", "counter", "Requests that got no OK reply (error replies and failed sends).")
	fmt.Fprintf(bw, "%serrors_total %d\n", p, s.Errors)
	metric("send_failures_total", "counter", "Replies that could not be published.")
	fmt.Fprintf(bw, "%ssend_failures_total %d\n", p, s.SendFailures)
	metric("panics_total", "counter", "Request handler panics (answered as internal errors).")
	fmt.Fprintf(bw, "%spanics_total %d\n", p, s.Panics)
	metric("in_flight", "gauge", "Requests received and not yet answered, queued ones included.")
	fmt.Fprintf(bw, "%sin_flight %d\n", p, s.InFlight)
	metric("nats_connected", "gauge", "1 when the NATS connection is up.")
	fmt.Fprintf(bw, "%snats_connected %d\n", p, b2i(s.Connected))
	metric("nats_reconnects_total", "counter", "Successful reconnections to NATS.")
	fmt.Fprintf(bw, "%snats_reconnects_total %d\n", p, s.Reconnects)
	metric("batches_total", "counter", "Model runs over gathered requests (--max-batch > 1).")
	fmt.Fprintf(bw, "%sbatches_total %d\n", p, s.Batches)
	metric("batched_requests_total", "counter", "Requests served in gathered model runs; divided by batches_total, the mean batch size.")
	fmt.Fprintf(bw, "%sbatched_requests_total %d\n", p, s.BatchedRequests)
	writeHist(bw, p+"request_duration_seconds", "Time from receipt of a request to its reply, queueing included.", s.Latency)
	writeHist(bw, p+"inference_duration_seconds", "Detector time per model run (preprocess, model, NMS): one request, or one batch with --max-batch.", s.Inference)
	writeHist(bw, p+"decode_duration_seconds", "JPEG decode and conversion time per request.", s.Decode)
	writeHist(bw, p+"queue_wait_seconds", "Time a request waited for a slot (and a batch) before its model run, its own decode not counted.", s.QueueWait)
	return bw.Flush()
}

func writeHist(w io.Writer, name, help string, h Histogram) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum uint64
	for i, b := range Buckets {
		cum += h.Counts[i]
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", name, strconv.FormatFloat(b.Seconds(), 'g', -1, 64), cum)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", name, h.Count)
	fmt.Fprintf(w, "%s_sum %s\n", name, strconv.FormatFloat(h.Sum.Seconds(), 'g', -1, 64))
	fmt.Fprintf(w, "%s_count %d\n", name, h.Count)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// handler serves /metrics and /healthz.
func (w *Worker) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.writeMetrics(rw)
	})
	// /healthz is 200 while connected to NATS: a worker that cannot get
	// requests is not serving, whatever its process state.
	mux.HandleFunc("/healthz", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case w.stopping.Load():
			rw.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(rw, "stopping\n")
		case !w.c.connected.Load():
			rw.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(rw, "not connected to NATS\n")
		default:
			io.WriteString(rw, "ok\n")
		}
	})
	return mux
}

// fmtDur prints a duration rounded for log lines.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < 10*time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}
