package publish

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/natsauth"
)

// Retry pacing after a failed publish: the wait doubles from minBackoff to
// maxBackoff, and a NATS reconnect cuts it short.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// EventKind says what happened to the destination.
type EventKind int

const (
	// EventDown: records cannot be published now (broker unreachable,
	// JetStream unavailable); they wait in the queue. Reason says why.
	EventDown EventKind = iota
	// EventUp: publishing works again after an EventDown.
	EventUp
	// EventFatal: the destination failed for good (a file write error, a
	// JetStream stream that does not take the subject); publishing stopped.
	EventFatal
)

func (k EventKind) String() string {
	switch k {
	case EventDown:
		return "down"
	case EventUp:
		return "up"
	case EventFatal:
		return "fatal"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is a change of the destination's state, for the element to post.
type Event struct {
	Kind   EventKind
	Reason string
}

// Stats are the publisher's counters. Once Close returned,
// Records = Published + Dropped + Lost.
type Stats struct {
	Records    uint64 // offered by the streaming thread
	Published  uint64 // written (file), sent (NATS) or acknowledged (JetStream)
	Dropped    uint64 // not queued: the queue was full
	Failed     uint64 // failed publish attempts (a record retried later counts each time)
	Lost       uint64 // given up: unpublishable (too big), fatal error, or pending when Close timed out
	Duplicates uint64 // JetStream: retries the server already had (stored once)
	// EventsDropped counts up/down events nobody read in time (Events is
	// buffered; the state in Stats stays right).
	EventsDropped uint64
	Pending       int // queued or awaiting an ack
	// PendingBytes is the record text held by the queue.
	PendingBytes int
	// State is "up", "down", "starting" (NATS, before the first publish) or
	// "fatal" (the destination cannot work, e.g. a JetStream configuration
	// error).
	State  string
	Reason string // why it is down
}

// Publisher owns the queue, the destination and the goroutine that
// publishes. Offer is called from one goroutine (the streaming thread);
// Stats, Events and Close from any.
type Publisher struct {
	cfg     Config
	q       *Queue
	sink    sink
	events  chan Event
	kick    chan struct{}
	closing chan struct{}
	done    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc

	records, published, dropped, failed, lost, dups atomic.Uint64
	eventsDropped                                   atomic.Uint64

	mu     sync.Mutex
	state  string
	reason string

	closeOnce sync.Once
	closeErr  error
}

// sink is one destination. publish and idle run on the publisher goroutine.
type sink interface {
	// publish tries to deliver batch in order and reports how many records
	// from its front are settled; err says why it stopped short.
	publish(ctx context.Context, batch []Entry) outcome
	// idle is called when the queue is empty (the file sink flushes).
	idle() error
	// close releases the destination; timeout bounds a final flush.
	close(timeout time.Duration) error
	maxBatch() int
	describe() string
}

type outcome struct {
	done      int // records settled from the front: published or lost
	published int
	lost      int
	failed    int
	dups      int
	err       error
	fatal     bool
}

// New validates cfg, opens the destination (a file is created at once; a
// NATS server that is not up yet is retried in the background) and starts
// the publisher goroutine. Errors name the setting to fix.
func New(cfg Config) (*Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{
		cfg:     cfg,
		q:       NewQueue(cfg.MaxPending, cfg.MaxPendingBytes),
		events:  make(chan Event, 32),
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		state:   "up",
	}
	var err error
	if cfg.Location != "" {
		p.sink, err = openFile(cfg.Location)
	} else {
		p.state = "starting"
		p.sink, err = p.openNATS()
	}
	if err != nil {
		cancel()
		return nil, err
	}
	go p.run()
	return p, nil
}

// Offer queues a copy of one formatted record; false when it was dropped
// because the queue is full. It never blocks on I/O and, once the queue's
// buffers are warm, does not allocate.
func (p *Publisher) Offer(rec []byte) bool {
	p.records.Add(1)
	if !p.q.Push(rec) {
		p.dropped.Add(1)
		return false
	}
	return true
}

// Events delivers state changes (buffered; excess events are dropped and
// counted, so a slow reader never blocks publishing).
func (p *Publisher) Events() <-chan Event { return p.events }

// Describe says where records go, for logs.
func (p *Publisher) Describe() string { return p.sink.describe() }

// Stats returns the counters.
func (p *Publisher) Stats() Stats {
	n, b := p.q.Len()
	p.mu.Lock()
	state, reason := p.state, p.reason
	p.mu.Unlock()
	return Stats{
		Records: p.records.Load(), Published: p.published.Load(), Dropped: p.dropped.Load(),
		Failed: p.failed.Load(), Lost: p.lost.Load(), Duplicates: p.dups.Load(),
		EventsDropped: p.eventsDropped.Load(), Pending: n, PendingBytes: b, State: state, Reason: reason,
	}
}

// Close stops accepting work, waits up to Config.DrainTimeout for pending
// records to be published, counts the rest as lost and closes the
// destination. Offer must not be called concurrently with or after Close.
// The error is the destination's (e.g. a failed final flush of the file).
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() {
		close(p.closing)
		t := time.NewTimer(p.cfg.DrainTimeout)
		select {
		case <-p.done:
		case <-t.C:
		}
		t.Stop()
		p.cancel()
		<-p.done
		if n, _ := p.q.Len(); n > 0 {
			p.lost.Add(uint64(n))
			p.q.Pop(n)
		}
		p.closeErr = p.sink.close(time.Second)
	})
	return p.closeErr
}

func (p *Publisher) emit(ev Event) {
	select {
	case p.events <- ev:
	default:
		p.eventsDropped.Add(1)
	}
}

// setUp marks the destination working, announcing it after a down.
func (p *Publisher) setUp() {
	p.mu.Lock()
	was := p.state
	if was == "fatal" {
		p.mu.Unlock()
		return
	}
	p.state, p.reason = "up", ""
	p.mu.Unlock()
	if was == "down" {
		p.emit(Event{Kind: EventUp})
	}
}

// setDown marks it failing, announcing only the transition.
func (p *Publisher) setDown(reason string) { p.setDownWhy(reason, false) }

// setDownWhy is setDown that, with newReason, also tells a down publisher's
// listeners when the reason changes (a server refusing the credentials, say,
// while it was never up).
func (p *Publisher) setDownWhy(reason string, newReason bool) {
	p.mu.Lock()
	was, wasReason := p.state, p.reason
	if was == "fatal" {
		p.mu.Unlock()
		return
	}
	p.state, p.reason = "down", reason
	p.mu.Unlock()
	if was != "down" || newReason && wasReason != reason {
		p.emit(Event{Kind: EventDown, Reason: reason})
	}
}

func (p *Publisher) setFatal(err error) {
	p.mu.Lock()
	p.state, p.reason = "fatal", err.Error()
	p.mu.Unlock()
	p.emit(Event{Kind: EventFatal, Reason: err.Error()})
}

func (p *Publisher) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run is the publisher goroutine: publish batches from the head of the
// queue, pop what is settled, back off on failure, and drain on Close.
func (p *Publisher) run() {
	defer close(p.done)
	var backoff time.Duration
	batch := make([]Entry, 0, p.sink.maxBatch())
	for {
		batch = p.q.Peek(batch[:0], p.sink.maxBatch())
		if len(batch) == 0 {
			if err := p.sink.idle(); err != nil {
				p.setFatal(err)
				return
			}
			select {
			case <-p.q.Notify():
			case <-p.closing:
				if n, _ := p.q.Len(); n == 0 {
					return
				}
			case <-p.ctx.Done():
				return
			}
			continue
		}
		out := p.sink.publish(p.ctx, batch)
		clear(batch) // drop references to buffers the queue recycles
		p.q.Pop(out.done)
		p.published.Add(uint64(out.published))
		p.lost.Add(uint64(out.lost))
		p.failed.Add(uint64(out.failed))
		p.dups.Add(uint64(out.dups))
		if out.err == nil {
			p.setUp()
			backoff = 0
			continue
		}
		if p.ctx.Err() != nil {
			return
		}
		if out.fatal {
			p.setFatal(out.err)
			return
		}
		p.setDown(out.err.Error())
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-p.kick:
		case <-p.ctx.Done():
		}
		t.Stop()
	}
}

// ReconnectWait is the pause between attempts to reach the NATS server.
const ReconnectWait = 500 * time.Millisecond

// openNATS connects (retrying in the background forever, as reactcloud
// does) and makes the core or JetStream sink.
func (p *Publisher) openNATS() (sink, error) {
	name := p.cfg.ClientName
	if name == "" {
		name = "gstreact-publish-" + p.cfg.StreamID
	}
	subject := p.cfg.EffectiveSubject()
	core := !p.cfg.JetStream
	up := func() {
		p.wake()
		if core {
			p.setUp()
		}
	}
	server := natsauth.Redact(p.cfg.Server)
	authOpts, err := p.cfg.Auth.NATSOptions()
	if err != nil {
		return nil, err
	}
	// refused reports the server turning down the credentials or TLS, which
	// says more than "disconnected".
	refused := func(err error) {
		msg := p.cfg.Auth.RedactIn(err.Error(), p.cfg.Server)
		p.setDownWhy("NATS server at "+server+" refused the connection: "+msg+" (check user/password, token, creds-file, nkey-seed-file and the tls-* properties)", true)
	}
	opts := append([]nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(ReconnectWait),
		// Our queue is the buffer: while disconnected, publishing fails
		// at once and the records wait for the reconnect.
		nats.ReconnectBufSize(-1),
		nats.ConnectHandler(func(*nats.Conn) { up() }),
		nats.ReconnectHandler(func(*nats.Conn) { up() }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			select {
			case <-p.closing:
				return // our own Close, not a lost connection
			default:
			}
			reason := "lost the connection to the NATS server at " + server
			if err != nil {
				reason += ": " + p.cfg.Auth.RedactIn(err.Error(), p.cfg.Server)
			}
			p.setDown(reason)
		}),
	}, authOpts...)
	opts = append(opts, natsauth.RefusalOptions(refused, nil)...)
	nc, err := nats.Connect(p.cfg.Server, opts...)
	if err != nil {
		return nil, fmt.Errorf("server %q: cannot connect to NATS: %s (check the URL, e.g. nats://127.0.0.1:4222)", server, p.cfg.Auth.RedactIn(err.Error(), p.cfg.Server))
	}
	if !nc.IsConnected() {
		p.setDown(fmt.Sprintf("no NATS server reachable at %s yet", server))
	} else if core {
		p.setUp()
	}
	if core {
		return &coreSink{nc: nc, subject: subject, server: server}, nil
	}
	s, err := newJSSink(nc, subject, p.cfg.JetStreamStream, server, p.cfg.JetStreamReplicas)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}
