// Package offload is REACT's edge side of the cloud: it decides which frames go
// to the cloud worker, sends them over NATS without ever blocking the caller,
// keeps a bounded ring of recent frames (as tracking pyramids), fast-forwards
// each late cloud reply from its frame to the present with a second tracker,
// and fuses the result with the frame's local (edge or tracked) boxes.
//
// Threads: Process runs on the streaming thread and does only bounded local
// work (a pyramid build, a thumbnail, a copy of the frame when it is offloaded,
// and fusion). JPEG encoding and publishing run on a sender goroutine, each
// request waits on its own goroutine (at most MaxInflight), and the
// fast-forward tracker runs on one more goroutine that shares ring slots with
// Process through a per-slot atomic flag: neither side ever waits on the other
// for longer than a pyramid copy.
//
// The package imports neither GStreamer nor ONNX Runtime; the reactcloud
// element is a thin shell around an Engine.
package offload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/fusion"
	"github.com/gst-react/gst-react/internal/policy"
	"github.com/gst-react/gst-react/internal/tracker"
)

const (
	thumbW, thumbH = 32, 18
	eventQueue     = 64
)

// slot states: who holds a ring slot right now.
const (
	slotFree int32 = iota
	slotWriting
	slotReading
)

type slot struct {
	state atomic.Int32
	frame uint64 // valid only when ok
	ok    bool
	pyr   tracker.Pyramid
	local []detection.Detection // the frame's live boxes, kept when anchoring (Config.AnchorIoU)
}

// ring is replaced as a whole on Reset or a change of frame geometry, so the
// fast-forward goroutine, which loads it per step, never sees a half-reset ring.
type ring struct {
	gen   uint64
	slots []slot
}

// cloudSet is the fast-forwarded cloud boxes as of one frame, handed from the
// fast-forward goroutine to Process.
type cloudSet struct {
	gen     uint64
	origin  uint64 // frame the reply's boxes were detected on
	frame   uint64 // frame the boxes have been tracked to
	version uint64 // bumps on every publish
	dets    []detection.Detection
}

type reply struct {
	gen   uint64
	frame uint64
	dets  []detection.Detection
}

// Engine is one stream's offload, fast-forward and fusion state. Create it
// with New, call Process for every frame in order from one goroutine, and
// Close it when the stream ends.
type Engine struct {
	cfg Config
	nc  *nats.Conn
	log *slog.Logger
	ctr counters

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	events    chan Event
	jobs      chan *job
	free      chan *job
	replies   chan reply
	frameSig  chan struct{}
	gen       atomic.Uint64
	ring      atomic.Pointer[ring]
	latest    atomic.Uint64 // last frame stored + 1 (0: none yet), for the fast-forward
	connected atomic.Bool
	// stateMu orders connection changes with the cloud state, so a reply
	// racing a disconnect cannot leave the cloud marked up (never per frame).
	stateMu  sync.Mutex
	failures atomic.Int32  // consecutive failed requests
	newest   atomic.Uint64 // newest frame answered + 1, to ignore out-of-order replies

	pubMu sync.Mutex
	pub   cloudSet

	// The adaptive policy (nil: REACT's fixed schedule), used only by the
	// streaming thread; its status is copied under polMu for Stats readers.
	pol       *policy.Policy
	allJobs   []*job // every job, free or not, for the oldest in-flight request
	decision  policy.Decision
	signals   policy.Signals
	polMu     sync.Mutex
	polStatus policy.Status
	fp        framePolicy // the streaming thread's

	// Streaming-thread state, touched only by Process and Reset.
	st struct {
		format     frame.Format
		w, h       int
		scale      int
		ringFrames int
		thumb      [thumbW * thumbH]uint8
		sentThumb  [thumbW * thumbH]uint8
		haveSent   bool
		lastSent   uint64
		fuser      *fusion.Fuser
		cloud      []detection.Detection
		cloudVer   uint64
		cloudFrame uint64
		cloudGen   uint64
		originKey  uint64 // origin of the set in cloud, +1
		fusedFrom  uint64 // originKey of the set last passed to Fuse
	}
}

// New validates cfg and starts the engine's goroutines. nc may be connected or
// still connecting (see Connect); the engine follows its state. The caller
// keeps ownership of nc: Close does not close it.
func New(cfg Config, nc *nats.Conn, log *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if nc == nil {
		return nil, errors.New("offload: no NATS connection")
	}
	if log == nil {
		log = slog.Default()
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	fu, err := fusion.NewFuser(cfg.Fusion)
	if err != nil {
		return nil, fmt.Errorf("offload: %w", err)
	}
	e := &Engine{
		cfg: cfg, nc: nc, log: log,
		events:   make(chan Event, eventQueue),
		jobs:     make(chan *job, cfg.MaxInflight),
		free:     make(chan *job, cfg.MaxInflight),
		replies:  make(chan reply, 1),
		frameSig: make(chan struct{}, 1),
	}
	for range cfg.MaxInflight {
		j := &job{}
		e.allJobs = append(e.allJobs, j)
		e.free <- j
	}
	e.st.fuser = fu
	if cfg.Policy.Mode == policy.Adaptive {
		if e.pol, err = policy.New(cfg.policyConfig()); err != nil {
			return nil, fmt.Errorf("offload: %w", err)
		}
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.connected.Store(nc.IsConnected())
	e.wg.Add(2)
	go e.sendLoop()
	go e.fastForwardLoop()
	return e, nil
}

// Config returns the configuration in use.
func (e *Engine) Config() Config { return e.cfg }

// Events delivers cloud up/down and reply events. Read it from one goroutine;
// when nobody reads, events are dropped (Stats.EventsDropped), never queued
// without bound.
func (e *Engine) Events() <-chan Event { return e.events }

// Close stops the goroutines, abandons outstanding requests and waits for
// them. The NATS connection stays open. Process must not be called after.
func (e *Engine) Close() {
	e.cancel()
	e.wg.Wait()
}

// SetConnected tells the engine about the NATS connection's state (call it
// from the connection's disconnect and reconnect handlers; Connect does).
// Losing the connection declares the cloud down at once.
func (e *Engine) SetConnected(up bool, reason string) {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	e.connected.Store(up)
	if !up {
		e.markDownLocked(reason)
	}
}

// Reset forgets every frame, request and cloud box, e.g. after a seek or a
// flush, when frame numbers may start again. Outstanding replies are ignored
// when they arrive. Call it from the goroutine that calls Process.
func (e *Engine) Reset() {
	e.gen.Add(1)
	e.st.w, e.st.h = 0, 0 // next frame rebuilds the ring
	e.st.haveSent = false
	e.st.cloud = e.st.cloud[:0]
	e.st.fusedFrom = 0
	e.st.fuser.Reset()
	e.fp = framePolicy{}
	e.latest.Store(0)
	e.newest.Store(0)
	e.pubMu.Lock()
	e.pub = cloudSet{gen: e.gen.Load(), dets: e.pub.dets[:0]}
	e.pubMu.Unlock()
	e.signal()
}

// Process handles one frame on the streaming thread: it stores the frame in
// the ring, offloads it when due, and returns local fused with the current
// cloud boxes, appended to dst. It never waits on the network. frameNum must
// grow from frame to frame (gaps are fine); pts is in ns or wire.NoPTS. f is
// only read during the call.
func (e *Engine) Process(f *frame.Frame, frameNum uint64, pts int64, local, dst []detection.Detection) []detection.Detection {
	return e.ProcessDetected(f, frameNum, pts, local, hasEdgeBox(local), dst)
}

// ProcessDetected is Process for a caller that knows whether the edge
// detector ran on this frame (reactcloud reads it from reactdetect's frame
// meta), which the adaptive policy's edge budget counts; Process guesses it
// from the boxes' sources.
func (e *Engine) ProcessDetected(f *frame.Frame, frameNum uint64, pts int64, local []detection.Detection, detected bool, dst []detection.Detection) []detection.Detection {
	e.ctr.frames.Add(1)
	if err := f.Validate(); err != nil {
		e.ctr.badFrames.Add(1)
		return append(dst, local...)
	}
	st := &e.st
	if f.Width != st.w || f.Height != st.h || f.Format != st.format {
		e.reshape(f)
	}
	r := e.ring.Load()
	s := &r.slots[frameNum%uint64(len(r.slots))]
	stored := false
	if s.state.CompareAndSwap(slotFree, slotWriting) {
		s.ok = s.pyr.Build(f, st.scale, e.levels()) == nil
		s.frame = frameNum
		s.local = s.local[:0]
		if e.cfg.AnchorIoU > 0 {
			s.local = append(s.local, local...)
		}
		stored = s.ok
		if stored {
			thumbnail(&st.thumb, &s.pyr.Levels[0])
		}
		s.state.Store(slotFree)
		if !s.ok {
			e.ctr.badFrames.Add(1)
		}
	} else {
		e.ctr.ringSkipped.Add(1)
	}
	if stored {
		e.latest.Store(frameNum + 1)
		e.signal()
	}
	e.beginFramePolicy(frameNum, detected)
	if e.pol != nil {
		e.decide(f, frameNum, pts, local, detected, stored)
	} else if why := e.due(frameNum, stored); why != policy.ReasonNone {
		e.offloadFixed(f, frameNum, pts, why)
	}
	return e.fuse(frameNum, local, dst)
}

func (e *Engine) levels() int { return max(1, e.cfg.Tracker.Levels, tracker.DefaultConfig().Levels) }

// reshape starts over for a new frame geometry: a new ring sized by
// RingFrames and RingBytes, no cloud boxes.
func (e *Engine) reshape(f *frame.Frame) {
	e.Reset()
	st := &e.st
	st.format, st.w, st.h = f.Format, f.Width, f.Height
	st.scale = e.cfg.TrackScale
	if st.scale == 0 {
		st.scale = AutoScale(f.Width)
	}
	gw, gh := int64(f.Width/st.scale), int64(f.Height/st.scale)
	perFrame := max(1, gw*gh*4/3) // the pyramid's levels sum to 4/3 of level 0
	n := int64(e.cfg.RingFrames)
	if byBytes := e.cfg.RingBytes / perFrame; byBytes < n {
		n = max(2, byBytes)
	}
	st.ringFrames = int(n)
	e.ctr.ringFrames.Store(n)
	e.ring.Store(&ring{gen: e.gen.Load(), slots: make([]slot, n)})
}

func (e *Engine) signal() {
	select {
	case e.frameSig <- struct{}{}:
	default:
	}
}

// due decides whether frameNum goes to the cloud, and why: every
// Interval-th frame, or a scene change against the last frame sent
// (ReasonNone: not due).
func (e *Engine) due(frameNum uint64, haveThumb bool) policy.Reason {
	if e.cfg.Interval > 0 && frameNum%uint64(e.cfg.Interval) == 0 {
		return policy.ReasonInterval
	}
	if e.sceneChanged(frameNum, haveThumb) {
		return policy.ReasonSceneChange
	}
	return policy.ReasonNone
}

// sceneChanged is due's scene-change test: the frame's thumbnail differs
// from the last sent one by ChangeThreshold, ChangeMinGap frames after it.
func (e *Engine) sceneChanged(frameNum uint64, haveThumb bool) bool {
	st := &e.st
	if e.cfg.ChangeThreshold <= 0 || !haveThumb {
		return false
	}
	if !st.haveSent {
		return true
	}
	if frameNum < st.lastSent+uint64(e.cfg.ChangeMinGap) {
		return false
	}
	if thumbDiff(&st.thumb, &st.sentThumb) < e.cfg.ChangeThreshold {
		return false
	}
	e.ctr.sceneChanges.Add(1)
	return true
}

// offload hands a copy of f to the sender, or counts why it cannot; it
// reports whether the request was queued.
func (e *Engine) offload(f *frame.Frame, frameNum uint64, pts int64) bool {
	if !e.connected.Load() {
		e.ctr.skippedDisc.Add(1)
		return false
	}
	var j *job
	select {
	case j = <-e.free:
	default:
		e.ctr.skippedFull.Add(1)
		return false
	}
	j.copyFrame(f)
	j.frameNum, j.pts, j.gen = frameNum, pts, e.gen.Load()
	j.queued.Store(time.Now().UnixNano())
	e.ctr.inflight.Add(1)
	st := &e.st
	st.haveSent, st.lastSent, st.sentThumb = true, frameNum, st.thumb
	e.jobs <- j // never blocks: MaxInflight jobs exist and the channel holds as many
	return true
}

// fuse merges local with the newest fast-forwarded cloud set, when that set
// is at most MaxLag frames behind.
func (e *Engine) fuse(frameNum uint64, local, dst []detection.Detection) []detection.Detection {
	st := &e.st
	e.pubMu.Lock()
	if e.pub.version != st.cloudVer || e.pub.gen != st.cloudGen {
		st.cloud = append(st.cloud[:0], e.pub.dets...)
		st.cloudVer, st.cloudGen, st.cloudFrame = e.pub.version, e.pub.gen, e.pub.frame
		st.originKey = e.pub.origin + 1
	}
	e.pubMu.Unlock()
	cloud := st.cloud
	if st.cloudGen != e.gen.Load() || CloudState(e.ctr.cloud.Load()) == CloudDown {
		// A cloud declared down contributes nothing, not even boxes still
		// being followed: the output is plainly edge-only until it is back.
		cloud = nil
	} else if len(cloud) > 0 && frameNum > st.cloudFrame+uint64(e.cfg.MaxLag) {
		e.ctr.staleSets.Add(1)
		cloud = nil
	}
	fresh, age := false, 0
	if len(cloud) > 0 && st.fusedFrom != st.originKey {
		fresh, st.fusedFrom = true, st.originKey
		if o := st.originKey - 1; frameNum > o {
			age = int(min(frameNum-o, 1<<20))
		}
	}
	start := len(dst)
	dst = st.fuser.FuseAged(local, cloud, fresh, age, dst)
	n := 0
	for i := start; i < len(dst); i++ {
		if dst[i].Source == detection.SourceCloud {
			n++
		}
	}
	e.ctr.cloudBoxes.Store(int64(n))
	return dst
}
