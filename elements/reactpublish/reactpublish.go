// Package reactpublish is the `reactpublish` element: it writes each frame's
// detections (the ROI metas put there by reactdetect, reacttrack and
// reactcloud upstream) and reactcloud's schedule on the frame (its
// GstReactPolicyMeta) as one JSON line per frame to a file, standard output
// or a NATS subject, optionally through JetStream so that nothing is lost
// while the broker or a consumer is down. The schema is in SCHEMA.md.
//
// The element is an in-place passthrough: video and metas go on unchanged.
// The streaming thread only formats the record into a reused buffer and
// queues it (bounded by max-pending); a publisher goroutine does the I/O. A
// full queue drops the record and counts it; the streaming thread never waits.
//
// Errors: bad settings and an unopenable location fail the start, and a
// failed write to the location posts an error (the file is the output the
// user asked for, and a silent gap would be worse than a stop). A NATS
// server that is down never stops the pipeline: a warning says why, records
// wait in the queue and go out when it is back.
//
// The work is done by internal/publish; this package adapts it to buffers,
// caps, properties and the bus.
package reactpublish

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/base"

	"github.com/gst-react/gst-react/elements/shell"
	"github.com/gst-react/gst-react/internal/gstvideo"
	"github.com/gst-react/gst-react/internal/labels"
	"github.com/gst-react/gst-react/internal/natsauth"
	"github.com/gst-react/gst-react/internal/publish"
)

// Name is the element factory name.
const Name = "reactpublish"

var cat = gst.NewDebugCategory(Name, gst.DebugColorNone, "gst-react detection publisher (JSON lines to a file or NATS)")

type settings struct {
	cfg            publish.Config
	everyFrame     bool
	statusInterval time.Duration
}

// DefaultStatusInterval is how often reactpublish-status is posted.
const DefaultStatusInterval = time.Second

func defaultSettings() settings {
	return settings{cfg: publish.DefaultConfig(), everyFrame: true, statusInterval: DefaultStatusInterval}
}

var def = defaultSettings()

var props = shell.Props[settings]{
	Defaults:       defaultSettings,
	EmptyIsDefault: map[string]bool{"stream-id": true, "jetstream-stream": true},
	List: []shell.Prop[settings]{
		shell.P(glib.NewStringParam("location", "Location",
			"Write one JSON line per frame to this file (created or truncated at start); - = standard output. Set this or server",
			nil, shell.ReadWriteReady),
			func(s *settings) any { return s.cfg.Location }, func(s *settings, v any) { s.cfg.Location = v.(string) }),
		shell.P(glib.NewStringParam("server", "NATS server",
			"Publish each frame's JSON to this NATS server, e.g. nats://127.0.0.1:4222 (comma-separated URLs allowed); the element keeps reconnecting while it is down. Set this or location",
			nil, shell.ReadWriteReady),
			func(s *settings) any { return s.cfg.Server }, func(s *settings, v any) { s.cfg.Server = v.(string) }),
		shell.P(glib.NewStringParam("subject", "NATS subject",
			"Subject the records are published on; unset = "+publish.DefaultSubjectPrefix+"<stream-id>",
			nil, shell.ReadWriteReady),
			func(s *settings) any { return s.cfg.Subject }, func(s *settings, v any) { s.cfg.Subject = v.(string) }),
		shell.P(glib.NewStringParam("stream-id", "Stream id",
			"Names this stream in every record (and in the default subject): 1-64 of A-Z a-z 0-9 . _ - ; use the same as reactcloud's stream-id",
			shell.Ptr(publish.DefaultStreamID), shell.ReadWriteReady),
			func(s *settings) any { return s.cfg.StreamID }, func(s *settings, v any) { s.cfg.StreamID = v.(string) }),
		shell.P(glib.NewBoolParam("jetstream", "JetStream",
			"Publish through JetStream: records are stored in a stream (created if missing, file storage) and kept and retried until the server acknowledges them, so none is lost while the server or a consumer is down",
			false, shell.ReadWriteReady),
			func(s *settings) any { return s.cfg.JetStream }, func(s *settings, v any) { s.cfg.JetStream = v.(bool) }),
		shell.P(glib.NewStringParam("jetstream-stream", "JetStream stream",
			"JetStream stream to store records in; created with subjects "+publish.DefaultSubjectPrefix+"> when missing, else bound to (it must take the subject)",
			shell.Ptr(publish.DefaultJetStreamStream), shell.ReadWriteReady),
			func(s *settings) any { return s.cfg.JetStreamStream }, func(s *settings, v any) { s.cfg.JetStreamStream = v.(string) }),
		shell.P(glib.NewUintParam("jetstream-replicas", "JetStream replicas",
			"Cluster nodes that keep the stream when reactpublish creates it (3 in a 3-node cluster survives the loss of a node); 0 = 1; an existing stream is used as it is",
			0, 5, 0, shell.ReadWriteReady),
			func(s *settings) any { return uint(s.cfg.JetStreamReplicas) }, func(s *settings, v any) { s.cfg.JetStreamReplicas = int(v.(uint)) }),
		shell.P(glib.NewUintParam("max-pending", "Maximum pending records",
			"Records held in memory while waiting to be published (or acknowledged); a frame's record beyond this is dropped and counted",
			1, 1000000, uint(publish.DefaultMaxPending), shell.ReadWriteReady),
			func(s *settings) any { return uint(s.cfg.MaxPending) }, func(s *settings, v any) { s.cfg.MaxPending = int(v.(uint)) }),
		shell.P(glib.NewUint64Param("max-pending-bytes", "Maximum pending bytes",
			"Memory cap of the pending records' JSON text; whichever of max-pending and max-pending-bytes is reached first drops records",
			1024, 1<<40, uint64(publish.DefaultMaxPendingBytes), shell.ReadWriteReady),
			func(s *settings) any { return uint64(s.cfg.MaxPendingBytes) },
			func(s *settings, v any) { s.cfg.MaxPendingBytes = int(v.(uint64)) }),
		shell.P(glib.NewBoolParam("every-frame", "Every frame",
			"Write a record for every frame, also frames without boxes; false = only frames with at least one box",
			def.everyFrame, shell.ReadWriteReady),
			func(s *settings) any { return s.everyFrame }, func(s *settings, v any) { s.everyFrame = v.(bool) }),
		shell.P(glib.NewUintParam("drain-timeout", "Drain timeout (ms)",
			"On stop, wait at most this many milliseconds for pending records to be published; the rest are counted as lost",
			0, 3600000, uint(publish.DefaultDrainTimeout/time.Millisecond), shell.ReadWriteReady),
			func(s *settings) any { return uint(s.cfg.DrainTimeout / time.Millisecond) },
			func(s *settings, v any) { s.cfg.DrainTimeout = time.Duration(v.(uint)) * time.Millisecond }),
		shell.P(glib.NewUintParam("status-interval", "Status interval (ms)",
			"Post a reactpublish-status message with the counters every this many milliseconds; 0 = only at start and stop",
			0, 3600000, uint(DefaultStatusInterval/time.Millisecond), shell.ReadWriteReady),
			func(s *settings) any { return uint(s.statusInterval / time.Millisecond) },
			func(s *settings, v any) { s.statusInterval = time.Duration(v.(uint)) * time.Millisecond }),
	}}

func init() {
	props.List = append(props.List, shell.NATSAuthProps(func(s *settings) *natsauth.Options { return &s.cfg.Auth })...)
}

// streaming is owned by the streaming thread (and Start/Stop, which
// GstBaseTransform never runs concurrently with it).
type streaming struct {
	info       gstvideo.VideoInfo
	hasCaps    bool
	rois       gstvideo.ROIs
	labels     *gstvideo.Labels
	frames     gstvideo.FrameCounter
	streamID   string
	everyFrame bool
	buf        []byte
}

// Element is the Go implementation behind one reactpublish instance.
type Element struct {
	shell.Instance
	mu       sync.Mutex
	settings settings

	// Set in Start, cleared in Stop.
	pub   atomic.Pointer[publish.Publisher]
	done  chan struct{}
	relay sync.WaitGroup
	state streaming
}

// Register adds reactpublish to plugin (nil: register in-process).
func Register(plugin *gst.Plugin) bool {
	return gst.RegisterElement(plugin, Name, gst.RankNone, &Element{}, base.ExtendsBaseTransform)
}

func (e *Element) New() glib.GoObjectSubclass {
	return &Element{settings: defaultSettings()}
}

func (e *Element) ClassInit(klass *glib.ObjectClass) {
	shell.InitVideoFilterClass(klass, shell.Class{
		LongName: "REACT detection publisher", Classification: "Filter/Analyzer/Video",
		Description: "Writes each frame's detections as a JSON line to a file or a NATS subject (optionally JetStream); video passes through unchanged",
	}, props.Specs())
}

// InstanceInit keeps the instance pointer and makes the element a
// passthrough: buffers are read, never made writable (no copy when they are
// shared, e.g. after a tee).
func (e *Element) InstanceInit(o *glib.Object) {
	e.Set(o)
	base.ToGstBaseTransform(o).SetPassthrough(true)
}

func (e *Element) SetProperty(_ *glib.Object, id uint, value *glib.Value) {
	props.Set(&e.mu, &e.settings, id, value)
}

func (e *Element) GetProperty(_ *glib.Object, id uint) *glib.Value {
	return props.Get(&e.mu, &e.settings, id)
}

// Start validates the settings, opens the destination (the file at once; a
// NATS server that is not up yet is retried in the background) and starts
// publishing. Only bad settings or an unwritable location fail it.
func (e *Element) Start(_ *base.GstBaseTransform) bool {
	e.mu.Lock()
	s := e.settings
	e.mu.Unlock()
	if err := s.cfg.Validate(); err != nil {
		e.Error(gst.DomainLibrary, gst.LibraryErrorSettings, "Invalid reactpublish settings: "+err.Error(), "")
		return false
	}
	pub, err := publish.New(s.cfg)
	if err != nil {
		if s.cfg.Location != "" {
			e.Error(gst.DomainResource, gst.ResourceErrorOpenWrite, "reactpublish: "+err.Error(), "")
		} else {
			e.Error(gst.DomainResource, gst.ResourceErrorSettings, "reactpublish: "+err.Error(), "")
		}
		return false
	}
	e.state = streaming{
		labels:     gstvideo.NewLabels(labels.COCO()),
		streamID:   s.cfg.StreamID,
		everyFrame: s.everyFrame,
		buf:        make([]byte, 0, 16<<10),
	}
	e.pub.Store(pub)
	e.done = make(chan struct{})
	e.relay.Add(1)
	go e.relayEvents(pub, s.cfg, s.statusInterval, e.done)
	cat.LogInfo(fmt.Sprintf("publishing stream %q to %s (every-frame=%v, max-pending=%d)",
		s.cfg.StreamID, pub.Describe(), s.everyFrame, s.cfg.MaxPending))
	return true
}

// Stop drains the queue (up to drain-timeout), closes the destination and
// posts the final counters.
func (e *Element) Stop(_ *base.GstBaseTransform) bool {
	pub := e.pub.Swap(nil)
	if pub != nil {
		// A destination that already failed has posted its error.
		if err := pub.Close(); err != nil && pub.Stats().State != "fatal" {
			e.Error(gst.DomainResource, gst.ResourceErrorWrite, "reactpublish: "+err.Error(), "")
		}
	}
	if e.done != nil {
		close(e.done)
		e.relay.Wait()
		e.done = nil
	}
	if pub != nil {
		st := pub.Stats()
		e.postStats(st, "final")
		cat.LogInfo(fmt.Sprintf("%d records: %d published, %d dropped (queue full), %d lost, %d failed attempts",
			st.Records, st.Published, st.Dropped, st.Lost, st.Failed))
	}
	e.state = streaming{}
	return true
}

func (e *Element) SetCaps(_ *base.GstBaseTransform, incaps, _ *gst.Caps) bool {
	info, ok := e.VideoInfo(incaps)
	if !ok {
		return false
	}
	e.state.info, e.state.hasCaps = info, true
	return true
}

// HandleBuffer runs on the streaming thread: read the frame's boxes, format
// the record into the reused buffer and queue it. No I/O, no waiting, and
// in steady state no allocation.
func (e *Element) HandleBuffer(b gstvideo.Buffer) gst.FlowReturn {
	st := &e.state
	pub := e.pub.Load()
	if !st.hasCaps || pub == nil {
		return gst.FlowNotNegotiated
	}
	frameNum, _, _ := st.frames.Number(b)
	dets, names := st.rois.Read(b, st.labels)
	if len(dets) == 0 && !st.everyFrame {
		return gst.FlowOK
	}
	rec := publish.Frame{ // AppendRecord does not keep it: stays on the stack
		Stream: st.streamID, Frame: frameNum, PTS: b.PTS(), Wall: time.Now(),
		Width: st.info.Width, Height: st.info.Height, Boxes: dets, Labels: names,
	}
	// reactcloud upstream says what its schedule did on this frame.
	if pm, ok := gstvideo.GetPolicyMeta(b); ok {
		rec.HasPolicy = true
		rec.Policy = publish.Policy{Name: pm.Policy, K: pm.K, M: pm.M, Detected: pm.Detected,
			DetectReason: pm.DetectReason, Offloaded: pm.Offloaded, OffloadReason: pm.OffloadReason}
	}
	st.buf = publish.AppendRecord(st.buf[:0], &rec)
	pub.Offer(st.buf)
	return gst.FlowOK
}

// relayEvents turns publisher events into bus messages, warns once when the
// queue starts dropping records (checked every second, whatever the status
// interval, so status-interval=0 does not silence it), and posts the counters
// every interval (a second by default), off the streaming thread.
func (e *Element) relayEvents(pub *publish.Publisher, cfg publish.Config, interval time.Duration, done chan struct{}) {
	defer e.relay.Done()
	var ticks <-chan time.Time
	if interval > 0 {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		ticks = tick.C
	}
	dropCheck := time.NewTicker(time.Second)
	defer dropCheck.Stop()
	e.postStats(pub.Stats(), "start")
	var lastDropped uint64
	dropWarned := false
	for {
		select {
		case <-done:
			// Events left from the drain in Stop.
			for {
				select {
				case ev := <-pub.Events():
					e.handleEvent(ev, cfg)
				default:
					return
				}
			}
		case ev := <-pub.Events():
			if ev.Kind == publish.EventUp {
				dropWarned = false
			}
			e.handleEvent(ev, cfg)
		case <-dropCheck.C:
			st := pub.Stats()
			if st.Dropped > lastDropped && !dropWarned {
				dropWarned = true
				e.Warning(fmt.Sprintf("reactpublish is dropping records: %d pending records fill the queue (max-pending=%d, max-pending-bytes=%d)",
					st.Pending, cfg.MaxPending, cfg.MaxPendingBytes),
					"the destination is slower than the stream or unreachable; raise max-pending to hold more")
			}
			lastDropped = st.Dropped
		case <-ticks:
			e.postStats(pub.Stats(), "periodic")
		}
	}
}

func (e *Element) handleEvent(ev publish.Event, cfg publish.Config) {
	switch ev.Kind {
	case publish.EventDown:
		e.Warning("reactpublish cannot publish: "+ev.Reason,
			fmt.Sprintf("records wait in memory (up to max-pending=%d) and go out when the server is back; reactpublish retries by itself", cfg.MaxPending))
		e.Post("reactpublish-destination", map[string]interface{}{"state": "down", "reason": ev.Reason})
	case publish.EventUp:
		cat.LogInfo("publishing again")
		e.Post("reactpublish-destination", map[string]interface{}{"state": "up", "reason": ""})
	case publish.EventFatal:
		e.Error(gst.DomainResource, gst.ResourceErrorWrite, "reactpublish: "+ev.Reason, "")
	}
}

// postStats posts the counters as a reactpublish-status message.
func (e *Element) postStats(s publish.Stats, why string) {
	e.Post("reactpublish-status", map[string]interface{}{
		"why":           why,
		"state":         s.State,
		"records":       s.Records,
		"published":     s.Published,
		"dropped":       s.Dropped,
		"failed":        s.Failed,
		"lost":          s.Lost,
		"duplicates":    s.Duplicates,
		"pending":       uint(s.Pending),
		"pending-bytes": uint64(s.PendingBytes),
	})
}
