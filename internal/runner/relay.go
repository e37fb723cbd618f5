package runner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/gstbridge"
	"github.com/gst-react/gst-react/internal/launch"
)

// The reconnecting input.
//
// A live camera is captured by a pipeline of its own (rtspsrc or v4l2src,
// decodebin, conversion to the first connection's format and size, appsink)
// whose frames a gstbridge.Bridge pushes into the analysis pipeline's appsrc,
// stamped with that pipeline's running time. The relay watches the capture
// pipeline: an error, an end of stream, or no frame for StallTimeout (twice
// that for the first frame of a connection) is an outage; it then drops the
// capture pipeline (its late frames are discarded), waits a back-off that
// doubles from ReconnectMin to ReconnectMax, and builds a new one. The
// analysis pipeline never sees any of it: no flush, no new segment, no caps
// change, no state change, so detector, tracker, cloud offload, overlay,
// encoder, muxer and RTSP viewers carry on. While no frame comes it repeats
// the last one once a second, so files keep their timeline and RTSP viewers
// are not timed out.
//
// Why a separate pipeline rather than a bin re-added to the running one:
// rebuilding a source inside a playing pipeline means unlinking under a pad
// block, flushing or not, re-syncing states, and getting a fresh
// stream-start/segment and possibly caps through every element and the muxer
// (mp4mux refuses caps changes); a failure in a torn-down rtspsrc can post an
// error that ends the whole pipeline. Two pipelines share nothing but
// buffers, so none of that can happen.

// inputMessage is the element message the analysis pipeline's appsrc posts
// when the input goes down or comes back.
const inputMessage = "gstreact-input"

// holdEvery is how often the last frame is repeated while no frame comes.
const holdEvery = time.Second

type relay struct {
	id       string
	in       launch.Input
	src      *gst.Element // the analysis pipeline's appsrc
	bridge   *gstbridge.Bridge
	stall    time.Duration
	min, max time.Duration

	cancel     context.CancelFunc
	done       chan struct{}
	stopOnce   sync.Once
	lastRepeat time.Time // relay goroutine only

	mu sync.Mutex
	st relayState
}

// relayState is what the status line and the metrics show.
type relayState struct {
	up       bool
	everUp   bool
	since    time.Time // of the current state (down: since when)
	outages  int
	downtime time.Duration // of ended outages
	attempts int           // failed attempts since the input was last up
	reason   string        // of the last failure
	retryAt  time.Time
	connects int
	repeated int64
}

func newRelay(id string, in launch.Input, src *gst.Element, o Options) *relay {
	r := &relay{id: id, in: in, src: src, bridge: gstbridge.New(false),
		stall: o.StallTimeout, min: o.ReconnectMin, max: o.ReconnectMax}
	if r.stall <= 0 {
		r.stall = DefaultStallTimeout
	}
	if r.min <= 0 {
		r.min = DefaultReconnectMin
	}
	if r.max <= 0 {
		r.max = DefaultReconnectMax
	}
	if r.max < r.min {
		r.max = r.min
	}
	r.bridge.AddTargetElement(src)
	r.st.since = time.Now()
	return r
}

func (r *relay) start(ctx context.Context) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go r.run(ctx)
}

// stop ends the capture loop and waits for it (the capture pipeline's
// teardown is bounded; see teardown).
func (r *relay) stop() {
	r.stopOnce.Do(func() {
		if r.cancel == nil {
			return
		}
		r.cancel()
		<-r.done
	})
}

func (r *relay) close() {
	r.stop()
	r.bridge.Close()
}

func (r *relay) state() relayState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	if !st.up && st.everUp {
		st.downtime += time.Since(st.since)
	}
	st.repeated = int64(r.bridge.Stats().Repeats)
	return st
}

func (r *relay) run(ctx context.Context) {
	defer close(r.done)
	backoff := r.min
	caps := ""
	for ctx.Err() == nil {
		reason, gotFrames := r.attempt(ctx, &caps)
		if ctx.Err() != nil {
			return
		}
		if gotFrames {
			backoff = r.min // it worked for a while: try again soon
		}
		r.failed(reason, gotFrames, backoff)
		r.wait(ctx, backoff)
		backoff = min(2*backoff, r.max)
	}
}

// attempt runs one capture pipeline until it fails or ctx ends. *caps pins
// the capture to the first connection's caps ("" until then: attempt sets
// it when the first frames ever arrive).
func (r *relay) attempt(ctx context.Context, caps *string) (reason string, gotFrames bool) {
	desc := r.in.Capture(*caps)
	p, err := gst.NewPipelineFromString(desc)
	if err != nil {
		return "building the capture pipeline: " + err.Error(), false
	}
	sink, err := p.GetElementByName(launch.CaptureSink)
	if err != nil {
		return err.Error(), false
	}
	r.bridge.Attach(sink)
	defer r.teardown(p)
	bus := p.GetPipelineBus()
	if err := p.SetState(gst.StatePlaying); err != nil {
		return busError(bus, err).Error(), false
	}
	start := time.Now()
	connectTimeout := 2 * r.stall
	for ctx.Err() == nil {
		if msg := bus.TimedPop(gst.ClockTime(100 * time.Millisecond)); msg != nil {
			switch msg.Type() {
			case gst.MessageEOS:
				return "the stream ended", gotFrames
			case gst.MessageError:
				gerr := msg.ParseError()
				return fmt.Sprintf("%s: %s", msg.Source(), gerr.Error()), gotFrames
			}
		}
		st := r.bridge.Stats()
		if !gotFrames && st.GenSamples > 0 {
			gotFrames = true
			if *caps == "" {
				// First frames ever: from now on this connection, too, is
				// scaled to them should the camera change its size, and so
				// is every later one.
				if *caps = pinCaps(r.bridge.Caps()); *caps != "" {
					if pin, err := p.GetElementByName(launch.CapturePin); err == nil {
						pin.SetProperty("caps", gst.NewCapsFromString(*caps))
					}
				}
			}
			r.connected()
		}
		switch {
		case !gotFrames && time.Since(start) > connectTimeout:
			return fmt.Sprintf("no frame within %s of connecting", connectTimeout), false
		case gotFrames && st.SinceLast > r.stall:
			return fmt.Sprintf("no frame for %s", r.stall), true
		}
		r.hold()
	}
	return "", gotFrames
}

// teardown stops a capture pipeline: its frames are dropped at once, and
// the state change runs aside (a stuck network source must not stall the
// reconnection); it gets a few seconds before the next attempt goes on.
func (r *relay) teardown(p *gst.Pipeline) {
	r.bridge.Invalidate()
	done := make(chan struct{})
	go func() {
		p.SetState(gst.StateNull)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
}

// hold repeats the last frame when none came for holdEvery.
func (r *relay) hold() {
	if r.bridge.Stats().SinceLast < holdEvery || time.Since(r.lastRepeat) < holdEvery {
		return
	}
	r.lastRepeat = time.Now()
	r.bridge.Repeat()
}

func (r *relay) wait(ctx context.Context, d time.Duration) {
	end := time.Now().Add(d)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.hold()
		}
	}
}

// connected: frames flow again (or for the first time).
func (r *relay) connected() {
	r.mu.Lock()
	var outage time.Duration
	if r.st.everUp {
		outage = time.Since(r.st.since)
		r.st.downtime += outage
	}
	attempts := r.st.attempts + 1
	r.st.up, r.st.everUp, r.st.since = true, true, time.Now()
	r.st.attempts, r.st.reason = 0, ""
	r.st.connects++
	r.mu.Unlock()
	r.post("up", "", attempts, outage)
}

// failed: an attempt ended; wasUp when it had delivered frames.
func (r *relay) failed(reason string, wasUp bool, backoff time.Duration) {
	r.mu.Lock()
	first := r.st.attempts == 0 && !r.st.everUp
	if wasUp {
		r.st.up, r.st.since = false, time.Now()
		r.st.outages++
		r.st.attempts = 0
	} else {
		r.st.attempts++
	}
	r.st.reason = reason
	r.st.retryAt = time.Now().Add(backoff)
	attempts := r.st.attempts
	r.mu.Unlock()
	switch {
	case wasUp || first:
		r.post("down", reason, attempts, 0)
	default:
		r.post("retry", reason, attempts, 0)
	}
}

// post puts an inputMessage on the analysis pipeline's bus, from its appsrc.
func (r *relay) post(state, reason string, attempts int, outage time.Duration) {
	s := gst.NewStructure(inputMessage)
	s.SetValue("stream", r.id)
	s.SetValue("input", r.in.Spec)
	s.SetValue("state", state)
	s.SetValue("reason", reason)
	s.SetValue("attempts", uint(attempts))
	s.SetValue("outage-ms", float64(outage.Microseconds())/1000)
	r.mu.Lock()
	ever := r.st.everUp
	r.mu.Unlock()
	s.SetValue("was-up", ever)
	r.src.PostMessage(gst.NewElementMessage(r.src, s))
}

// statusText is the input's part of the status line ("" while it is up).
func (st relayState) statusText() string {
	if st.up {
		return ""
	}
	retry := fmt.Sprintf("reconnecting (attempt %d)", st.attempts+1)
	if wait := time.Until(st.retryAt); wait > 0 {
		retry = fmt.Sprintf("retry %d in %.1f s", st.attempts+1, wait.Seconds())
	}
	if !st.everUp {
		if st.attempts == 0 {
			return "input connecting"
		}
		return fmt.Sprintf("input not connected (%s), %s", st.reason, retry)
	}
	return fmt.Sprintf("input DOWN %.0f s (%s), %s", time.Since(st.since).Seconds(), st.reason, retry)
}

// pinCaps turns the first connection's caps into the capsfilter of every
// later capture pipeline: same format and size, so the analysis pipeline
// (and its encoder and muxer) never renegotiate.
func pinCaps(caps string) string {
	if caps == "" {
		return ""
	}
	c := gst.NewCapsFromString(caps)
	if c == nil || c.GetSize() == 0 {
		return ""
	}
	st := c.GetStructureAt(0)
	parts := []string{"video/x-raw"}
	if v, err := st.GetValue("format"); err == nil {
		if f, ok := v.(string); ok && f != "" {
			parts = append(parts, "format="+f)
		}
	}
	for _, k := range []string{"width", "height"} {
		if v, err := st.GetValue(k); err == nil {
			if n := int(FieldNumber(v)); n > 0 {
				parts = append(parts, fmt.Sprintf("%s=%d", k, n))
			}
		}
	}
	return strings.Join(parts, ",")
}
