// Package loadtest measures how many edges a pool of cloud workers carries:
// it simulates N REACT edges, each offloading a real JPEG frame every m-th
// frame at the stream's frame rate through the real wire format, with
// reactcloud's in-flight limit (a frame due while that many requests are
// outstanding is skipped) and its timeout, and reports the round trips,
// replies per second, timeouts and each worker's share per N. Sweep also
// finds the largest N whose p95 round trip stays within an SLO.
//
// The frames are encoded once, by reactcloud's own encoder
// (offload.RequestEncoder), so the load generator spends its CPU on framing
// and NATS, not on JPEG encoding: on a small machine it shares the cores with
// the worker it measures. The package is pure Go (NATS client, no GStreamer,
// no ONNX Runtime); `gstreact loadtest` loads the frames.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/wire"
)

// Frame is one frame as an edge offloads it: the JPEG reactcloud would send
// and the sizes the request carries.
type Frame struct {
	JPEG                  []byte
	Width, Height         int // the camera frame's size (reply boxes are in these pixels)
	JPEGWidth, JPEGHeight int
}

// EncodeFrames encodes frames with reactcloud's encoder and cfg's JPEG
// settings (start from offload.DefaultConfig: 1280 columns at most, quality 85).
func EncodeFrames(frames []*frame.Frame, cfg offload.Config) ([]Frame, error) {
	enc := offload.NewRequestEncoder(cfg)
	lim := cfg.Limits.WithDefaults()
	out := make([]Frame, 0, len(frames))
	for i, f := range frames {
		msg, _, err := enc.Encode(f, uint64(i))
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", i, err)
		}
		req, err := wire.DecodeRequest(msg, lim)
		if err != nil {
			return nil, fmt.Errorf("frame %d: the encoder's own request does not decode: %w", i, err)
		}
		out = append(out, Frame{JPEG: slices.Clone(req.JPEG), Width: req.Width, Height: req.Height,
			JPEGWidth: req.JPEGWidth, JPEGHeight: req.JPEGHeight})
	}
	return out, nil
}

// Config describes the simulated edges. Zero fields take the defaults named.
type Config struct {
	// NATSURL is the server (comma-separated: servers of one cluster).
	NATSURL string
	// NATSOptions are applied to every edge's connection (credentials, TLS).
	NATSOptions []nats.Option
	// Subject requests go to; default wire.DefaultRequestSubject.
	Subject string
	// M is REACT's m: an edge offloads every M-th frame; default 30.
	M int
	// FPS is each edge's frame rate; default 30. An edge sends a request
	// every M/FPS seconds.
	FPS float64
	// Duration of one step (one N); default 30s.
	Duration time.Duration
	// MaxInflight and Timeout are reactcloud's: default
	// offload.DefaultMaxInflight (2) and offload.DefaultTimeout (2s).
	MaxInflight int
	Timeout     time.Duration
	// SLO is the p95 round trip a step must stay within (Row.WithinSLO);
	// 0 = no SLO.
	SLO time.Duration
	// Frames are sent in turn, each edge starting at its own frame.
	Frames []Frame
	// Seed makes the edges' phases reproducible; default 1.
	Seed uint64
	// Limits are the wire limits (zero fields: wire defaults).
	Limits wire.Limits
	// Log gets connection problems; default slog.Default().
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Subject == "" {
		c.Subject = wire.DefaultRequestSubject
	}
	if c.M == 0 {
		c.M = offload.DefaultInterval
	}
	if c.FPS == 0 {
		c.FPS = 30
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = offload.DefaultMaxInflight
	}
	if c.Timeout == 0 {
		c.Timeout = offload.DefaultTimeout
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	c.Limits = c.Limits.WithDefaults()
	return c
}

func (c Config) validate() error {
	switch {
	case c.NATSURL == "":
		return errors.New("loadtest: no NATS URL")
	case len(c.Frames) == 0:
		return errors.New("loadtest: no frames to send")
	case c.M < 1:
		return fmt.Errorf("loadtest: m %d must be ≥ 1 (an offload every m-th frame)", c.M)
	case !(c.FPS > 0 && c.FPS <= 1000):
		return fmt.Errorf("loadtest: fps %v must be in (0, 1000]", c.FPS)
	case c.Duration < 0:
		return fmt.Errorf("loadtest: duration %v must be positive", c.Duration)
	case c.MaxInflight < 1 || c.MaxInflight > 64:
		return fmt.Errorf("loadtest: max in flight %d must be in 1..64, as reactcloud's", c.MaxInflight)
	case c.Timeout < time.Millisecond:
		return fmt.Errorf("loadtest: timeout %v must be at least 1ms", c.Timeout)
	case c.SLO < 0:
		return fmt.Errorf("loadtest: SLO %v must not be negative (0 = none)", c.SLO)
	}
	return nil
}

// Period is the time between one edge's requests, M/FPS.
func (c Config) Period() time.Duration {
	c = c.withDefaults()
	return time.Duration(float64(c.M) / c.FPS * float64(time.Second))
}

// Row is what one step (N edges for Duration) measured. Round trips are
// from just before the request is published to its reply, over the
// requests answered with boxes.
type Row struct {
	Edges       int     `json:"edges"`
	RTTP50MS    float64 `json:"rtt_p50_ms"`
	RTTP95MS    float64 `json:"rtt_p95_ms"`
	RTTP99MS    float64 `json:"rtt_p99_ms"`
	RTTMaxMS    float64 `json:"rtt_max_ms"`
	RepliesPerS float64 `json:"replies_per_s"`
	Timeouts    int     `json:"timeouts"`
	// Sent requests; Replies answered with boxes; Errors answered with an
	// error (e.g. the worker got it past its deadline) or refused by NATS
	// (no responders); Skipped frames were due while MaxInflight requests
	// were outstanding, as reactcloud skips them.
	Sent    int `json:"sent"`
	Replies int `json:"replies"`
	Errors  int `json:"errors"`
	Skipped int `json:"skipped"`
	// Workers is how many replies each worker (by its id) sent.
	Workers map[string]int `json:"workers"`
	// WithinSLO: p95 within Config.SLO and nothing timed out or failed;
	// absent without an SLO.
	WithinSLO *bool `json:"within_slo,omitempty"`
}

// Shares are the workers' ids and fractions of the replies, largest first.
func (r Row) Shares() []Share {
	var out []Share
	for id, n := range r.Workers {
		out = append(out, Share{ID: id, Fraction: float64(n) / float64(max(1, r.Replies))})
	}
	slices.SortFunc(out, func(a, b Share) int {
		if a.Fraction != b.Fraction {
			if a.Fraction > b.Fraction {
				return -1
			}
			return 1
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return out
}

// Share is one worker's part of a step's replies.
type Share struct {
	ID       string
	Fraction float64
}

// Tester runs steps against one NATS server; it keeps the edges' connections
// from step to step.
type Tester struct {
	cfg   Config
	conns []*nats.Conn
}

// New checks cfg. Connections are made as steps need them.
func New(cfg Config) (*Tester, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Tester{cfg: cfg}, nil
}

// Close closes the edges' connections.
func (t *Tester) Close() {
	for _, nc := range t.conns {
		nc.Close()
	}
	t.conns = nil
}

// StreamID is the stream id edge i sends as.
func StreamID(i int) string { return "loadtest-" + strconv.Itoa(i) }

// conn returns edge i's connection, connecting when needed: one connection
// per edge, as real edges have.
func (t *Tester) conn(i int) (*nats.Conn, error) {
	for len(t.conns) <= i {
		n := len(t.conns)
		opts := append([]nats.Option{
			nats.Name("gstreact-loadtest " + StreamID(n)),
			nats.MaxReconnects(-1),
			nats.ReconnectWait(offload.ReconnectWait),
		}, t.cfg.NATSOptions...)
		nc, err := nats.Connect(t.cfg.NATSURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("edge %d: cannot connect to NATS at %s: %w", n, t.cfg.NATSURL, err)
		}
		t.conns = append(t.conns, nc)
	}
	return t.conns[i], nil
}

// Probe sends one request and waits up to wait for its reply, so a missing
// worker is reported at once rather than as a step full of timeouts (and a
// cold worker loads its model before the first step is timed).
func (t *Tester) Probe(ctx context.Context, wait time.Duration) error {
	nc, err := t.conn(0)
	if err != nil {
		return err
	}
	f := &t.cfg.Frames[0]
	msg, err := wire.AppendRequest(nil, &wire.Request{StreamID: StreamID(0), PTS: wire.NoPTS, SentAt: time.Now().UnixNano(),
		Width: f.Width, Height: f.Height, JPEGWidth: f.JPEGWidth, JPEGHeight: f.JPEGHeight, JPEG: f.JPEG}, t.cfg.Limits)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, t.cfg.Subject, msg)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("no cloud worker listens on %q at %s: start one with `gstreact cloudworker --nats %s`", t.cfg.Subject, t.cfg.NATSURL, t.cfg.NATSURL)
	case err != nil:
		return fmt.Errorf("no reply to a first request on %q within %v: %w", t.cfg.Subject, wait, err)
	}
	rep, err := wire.DecodeReply(m.Data, t.cfg.Limits)
	if err != nil {
		return fmt.Errorf("the worker's reply does not decode: %w", err)
	}
	if rep.Status != wire.CodeOK {
		return fmt.Errorf("the worker answered a first request with %s: %s", rep.Status, rep.Message)
	}
	return nil
}

// tally collects one step's outcomes from the request goroutines.
type tally struct {
	mu       sync.Mutex
	rtts     []time.Duration
	workers  map[string]int
	timeouts int
	errors   int
	lastErr  error
}

// Step runs n edges for the configured Duration and waits for every request
// to be answered or to time out.
func (t *Tester) Step(ctx context.Context, n int) (Row, error) {
	if n < 1 {
		return Row{}, fmt.Errorf("loadtest: %d edges: want at least 1", n)
	}
	c := t.cfg
	for i := range n {
		if _, err := t.conn(i); err != nil {
			return Row{}, err
		}
	}
	period := c.Period()
	rng := rand.New(rand.NewPCG(c.Seed, uint64(n)))
	tl := &tally{workers: map[string]int{}}
	var sent, skipped atomic.Int64
	var reqs sync.WaitGroup
	var edges sync.WaitGroup
	start := time.Now()
	end := start.Add(c.Duration)
	for i := range n {
		// Cameras are not in step: each edge starts at its own random
		// phase of the period and its own frame of the clip.
		phase := time.Duration(rng.Int64N(int64(period) + 1))
		first := rng.IntN(len(c.Frames))
		nc := t.conns[i]
		edges.Go(func() {
			var inflight atomic.Int32
			free := make(chan []byte, c.MaxInflight) // request buffers, reused
			for range c.MaxInflight {
				free <- nil
			}
			for k := 0; ; k++ {
				at := start.Add(phase + time.Duration(k)*period)
				if !at.Before(end) {
					return
				}
				if !sleepUntil(ctx, at) {
					return
				}
				if inflight.Load() >= int32(c.MaxInflight) {
					skipped.Add(1)
					continue
				}
				inflight.Add(1)
				sent.Add(1)
				buf := <-free
				f := &c.Frames[(first+k)%len(c.Frames)]
				reqs.Go(func() {
					defer inflight.Add(-1)
					buf = t.request(ctx, nc, i, uint64(k*c.M), f, buf, tl)
					free <- buf
				})
			}
		})
	}
	edges.Wait()
	reqs.Wait()
	if err := ctx.Err(); err != nil {
		return Row{}, err
	}
	row := Row{Edges: n, Sent: int(sent.Load()), Skipped: int(skipped.Load()), Timeouts: tl.timeouts,
		Errors: tl.errors, Replies: len(tl.rtts), Workers: tl.workers}
	row.RepliesPerS = float64(row.Replies) / c.Duration.Seconds()
	slices.Sort(tl.rtts)
	row.RTTP50MS = ms(quantile(tl.rtts, 0.50))
	row.RTTP95MS = ms(quantile(tl.rtts, 0.95))
	row.RTTP99MS = ms(quantile(tl.rtts, 0.99))
	if len(tl.rtts) > 0 {
		row.RTTMaxMS = ms(tl.rtts[len(tl.rtts)-1])
	}
	if c.SLO > 0 {
		ok := row.Replies > 0 && row.Timeouts == 0 && row.Errors == 0 && row.RTTP95MS <= ms(c.SLO)
		row.WithinSLO = &ok
	}
	if row.Replies == 0 && tl.lastErr != nil {
		c.Log.Warn("loadtest: no request of the step was answered", "edges", n, "last_error", tl.lastErr)
	}
	return row, nil
}

// request sends one frame as edge i's frame number frameNum and records
// the outcome. It returns the request buffer for reuse.
func (t *Tester) request(ctx context.Context, nc *nats.Conn, i int, frameNum uint64, f *Frame, buf []byte, tl *tally) []byte {
	c := &t.cfg
	sentAt := time.Now()
	req := wire.Request{StreamID: StreamID(i), Frame: frameNum, PTS: wire.NoPTS, SentAt: sentAt.UnixNano(),
		TimeoutMS: uint32(c.Timeout / time.Millisecond), Width: f.Width, Height: f.Height,
		JPEGWidth: f.JPEGWidth, JPEGHeight: f.JPEGHeight, JPEG: f.JPEG}
	msg, err := wire.AppendRequest(buf[:0], &req, c.Limits)
	if err != nil {
		tl.fail(err, false)
		return buf
	}
	rctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	m, err := nc.RequestWithContext(rctx, c.Subject, msg)
	rtt := time.Since(sentAt)
	if err != nil {
		timeout := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
		if ctx.Err() == nil {
			tl.fail(err, timeout)
		}
		return msg
	}
	rep, err := wire.DecodeReply(m.Data, c.Limits)
	switch {
	case err != nil:
		tl.fail(fmt.Errorf("reply does not decode: %w", err), false)
	case rep.StreamID != req.StreamID || rep.Frame != req.Frame:
		tl.fail(fmt.Errorf("reply for %s frame %d, asked for %s frame %d", rep.StreamID, rep.Frame, req.StreamID, req.Frame), false)
	case rep.Status != wire.CodeOK:
		tl.fail(fmt.Errorf("worker %s answered %s: %s", rep.WorkerID, rep.Status, rep.Message), false)
	default:
		tl.mu.Lock()
		tl.rtts = append(tl.rtts, rtt)
		tl.workers[rep.WorkerID]++
		tl.mu.Unlock()
	}
	return msg
}

func (tl *tally) fail(err error, timeout bool) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if timeout {
		tl.timeouts++
	} else {
		tl.errors++
	}
	tl.lastErr = err
}

// sleepUntil waits for t or ctx; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// quantile is the nearest-rank q-quantile of sorted values (0 when empty).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// Sweep runs a step for each of edges (ascending, duplicates dropped). With
// findCapacity (Config.SLO must be set) it goes on past them: doubling N from
// the largest that kept the SLO until one fails (at most maxEdges), then
// bisecting between the two, and returns the largest N within the SLO
// (0 when even the smallest failed). progress, when not nil, sees each row
// as it is measured. Rows come back sorted by edges.
func (t *Tester) Sweep(ctx context.Context, edges []int, findCapacity bool, maxEdges int, progress func(Row)) (rows []Row, capacity int, err error) {
	if findCapacity && t.cfg.SLO <= 0 {
		return nil, 0, errors.New("loadtest: finding the capacity needs an SLO")
	}
	edges = slices.Clone(edges)
	slices.Sort(edges)
	edges = slices.Compact(edges)
	if len(edges) == 0 || edges[0] < 1 {
		return nil, 0, errors.New("loadtest: give edge counts of 1 or more")
	}
	done := map[int]bool{}
	step := func(n int) (bool, error) {
		r, err := t.Step(ctx, n)
		if err != nil {
			return false, err
		}
		rows = append(rows, r)
		done[n] = true
		if progress != nil {
			progress(r)
		}
		return r.WithinSLO != nil && *r.WithinSLO, nil
	}
	pass, fail := 0, 0 // largest N within the SLO, smallest N past it
	for _, n := range edges {
		ok, err := step(n)
		if err != nil {
			return rows, 0, err
		}
		if ok && (fail == 0 || n < fail) {
			pass = max(pass, n)
		}
		if !ok && (fail == 0 || n < fail) {
			fail = n
		}
	}
	if findCapacity {
		for fail == 0 && pass > 0 && pass < maxEdges {
			n := min(2*pass, maxEdges)
			ok, err := step(n)
			if err != nil {
				return rows, 0, err
			}
			if ok {
				pass = n
			} else {
				fail = n
			}
		}
		for fail > 0 && fail-pass > 1 {
			n := (pass + fail) / 2
			if n < 1 || done[n] {
				break
			}
			ok, err := step(n)
			if err != nil {
				return rows, 0, err
			}
			if ok {
				pass = n
			} else {
				fail = n
			}
		}
	}
	slices.SortStableFunc(rows, func(a, b Row) int { return a.Edges - b.Edges })
	return rows, pass, nil
}
