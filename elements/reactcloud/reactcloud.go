// Package reactcloud is the `reactcloud` element: REACT's cloud side on the
// edge. It offloads every interval-th frame (and scene changes) to the cloud
// worker over NATS, keeps a ring of recent frames, fast-forwards each late
// reply's boxes to the present frame with a second tracker and fuses them with
// the frame's own boxes (from reactdetect/reacttrack upstream). The streaming
// thread never waits for the network: without the cloud, boxes pass through
// as they came (edge-only) and a warning says why.
//
// The work is done by internal/offload; this package adapts it to buffers,
// caps, properties and the bus.
package reactcloud

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/base"
	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/elements/shell"
	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/fusion"
	"github.com/gst-react/gst-react/internal/gstvideo"
	"github.com/gst-react/gst-react/internal/labels"
	"github.com/gst-react/gst-react/internal/natsauth"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/policy"
	"github.com/gst-react/gst-react/internal/tracker"
	"github.com/gst-react/gst-react/internal/wire"
)

// Name is the element factory name.
const Name = "reactcloud"

// DefaultServer is the NATS URL used when the server property is not set.
const DefaultServer = nats.DefaultURL

var cat = gst.NewDebugCategory(Name, gst.DebugColorNone, "gst-react cloud offload, fast-forward and fusion")

type settings struct {
	server string
	cfg    offload.Config
	auth   natsauth.Options
	policy string // policy property: fixed or adaptive
	// tracker property: the fast-forward tracker (tracker.ParseMethod's names)
	tracker string
	// intervalSet: the interval property was set, so policy=adaptive
	// takes it as its base offload interval.
	intervalSet bool
}

func init() {
	props.List = append(props.List, shell.NATSAuthProps(func(s *settings) *natsauth.Options { return &s.auth })...)
	props.List = append(props.List, policyProps...)
}

var def = offload.DefaultConfig()

var props = shell.Props[settings]{
	Defaults: func() settings {
		s := defaultSettings()
		s.tracker = tracker.DefaultMethod.String()
		return s
	},
	EmptyIsDefault: map[string]bool{"server": true, "subject": true, "stream-id": true, "policy": true, "tracker": true},
	List: []shell.Prop[settings]{
		shell.P(glib.NewStringParam("server", "NATS server",
			"NATS server URL(s), comma-separated, e.g. nats://cloud.example:4222; the element keeps reconnecting when it is down",
			shell.Ptr(DefaultServer), shell.ReadWriteReady),
			func(s *settings) any { return s.server }, func(s *settings, v any) { s.server = v.(string) }),
		shell.P(glib.NewStringParam("subject", "Request subject",
			"NATS subject the cloud workers listen on (their queue group shares the work)",
			shell.Ptr(wire.DefaultRequestSubject), shell.ReadWriteReady),
			func(s *settings) any { return s.cfg.Subject }, func(s *settings, v any) { s.cfg.Subject = v.(string) }),
		shell.P(glib.NewStringParam("stream-id", "Stream id",
			"Names this stream on the wire: 1-64 of A-Z a-z 0-9 . _ - (give each camera its own)",
			shell.Ptr(offload.DefaultStreamID), shell.ReadWriteReady),
			func(s *settings) any { return s.cfg.StreamID }, func(s *settings, v any) { s.cfg.StreamID = v.(string) }),
		shell.P(glib.NewUintParam("interval", "Offload interval",
			"Send every Nth frame to the cloud (REACT's m); 0 = only scene changes. "+
				"policy=adaptive: when set, the base interval the policy offloads at when no signal fires (signals offload sooner, the budgets and backoff hold back, offload-every is the floor); unset or 0: derived from the budgets",
			0, 100000, uint(def.Interval), shell.ReadWriteReady),
			func(s *settings) any { return uint(s.cfg.Interval) },
			func(s *settings, v any) { s.cfg.Interval, s.intervalSet = int(v.(uint)), true }),
		shell.P(glib.NewFloat64Param("change-threshold", "Scene-change threshold",
			"Also send a frame whose 32x18 grey thumbnail differs from the last sent one by this mean fraction of full scale; 0 = off",
			0, 1, def.ChangeThreshold, shell.ReadWriteReady),
			func(s *settings) any { return s.cfg.ChangeThreshold }, func(s *settings, v any) { s.cfg.ChangeThreshold = v.(float64) }),
		shell.P(glib.NewUintParam("max-inflight", "Requests in flight",
			"Most requests outstanding at once; a frame due while that many wait is skipped",
			1, 64, uint(def.MaxInflight), shell.ReadWriteReady),
			func(s *settings) any { return uint(s.cfg.MaxInflight) }, func(s *settings, v any) { s.cfg.MaxInflight = int(v.(uint)) }),
		shell.P(glib.NewUintParam("timeout", "Request timeout (ms)",
			"Give up on a request not answered within this many milliseconds",
			1, 3600000, uint(def.Timeout/time.Millisecond), shell.ReadWriteReady),
			func(s *settings) any { return uint(s.cfg.Timeout / time.Millisecond) },
			func(s *settings, v any) { s.cfg.Timeout = time.Duration(v.(uint)) * time.Millisecond }),
		shell.P(glib.NewUintParam("jpeg-quality", "JPEG quality",
			"Quality of the JPEG sent to the cloud",
			1, 100, uint(def.JPEGQuality), shell.ReadWriteReady),
			func(s *settings) any { return uint(s.cfg.JPEGQuality) }, func(s *settings, v any) { s.cfg.JPEGQuality = int(v.(uint)) }),
		shell.P(glib.NewUintParam("jpeg-max-width", "JPEG maximum width",
			"Downscale wider frames to this width before sending (boxes come back in frame pixels); 0 = full size",
			0, 65535, uint(def.JPEGMaxWidth), shell.ReadWriteReady),
			func(s *settings) any { return uint(s.cfg.JPEGMaxWidth) }, func(s *settings, v any) { s.cfg.JPEGMaxWidth = int(v.(uint)) }),
		shell.P(glib.NewUintParam("ring-frames", "Ring frames",
			"Recent frames kept to fast-forward late replies over; a reply for an older frame is dropped",
			2, 10000, uint(def.RingFrames), shell.ReadWriteReady),
			func(s *settings) any { return uint(s.cfg.RingFrames) }, func(s *settings, v any) { s.cfg.RingFrames = int(v.(uint)) }),
		shell.P(glib.NewUint64Param("ring-bytes", "Ring bytes",
			"Memory cap of the frame ring (grey tracking pyramids); whichever of ring-frames and ring-bytes is reached first bounds it",
			1<<20, 1<<40, uint64(def.RingBytes), shell.ReadWriteReady),
			func(s *settings) any { return uint64(s.cfg.RingBytes) }, func(s *settings, v any) { s.cfg.RingBytes = int64(v.(uint64)) }),
		shell.P(glib.NewUintParam("max-lag", "Maximum lag",
			"Fuse cloud boxes only while the fast-forward is at most this many frames behind the current frame",
			0, 1000, uint(def.MaxLag), shell.ReadWriteReady),
			func(s *settings) any { return uint(s.cfg.MaxLag) }, func(s *settings, v any) { s.cfg.MaxLag = int(v.(uint)) }),
		shell.P(glib.NewStringParam("tracker", "Fast-forward tracker",
			"How late cloud boxes are carried over the buffered frames to the present: medianflow (Lucas-Kanade on a grid of points, forward-backward checked) or kcf (a kernelized correlation filter on a grey template); as reacttrack's tracker",
			shell.Ptr(tracker.DefaultMethod.String()), shell.ReadWriteReady),
			func(s *settings) any { return s.tracker }, func(s *settings, v any) { s.tracker = v.(string) }),
		shell.P(glib.NewFloat64Param("anchor-iou", "Anchor IoU",
			"A reply box overlapping a live track's box on the reply's frame by at least this IoU rides along that track instead of being tracked again (0 = track every reply box, as in REACT; it measured better on real video)",
			0, 1, float64(def.AnchorIoU), shell.ReadWriteReady),
			func(s *settings) any { return fusion.Decimal(s.cfg.AnchorIoU) },
			func(s *settings, v any) { s.cfg.AnchorIoU = float32(v.(float64)) }),
		shell.P(glib.NewFloat64Param("iou-threshold", "Fusion IoU threshold",
			"A local and a cloud box with at least this IoU are the same object",
			0.01, 1, float64(def.Fusion.IoUThreshold), shell.ReadWriteReady),
			func(s *settings) any { return fusion.Decimal(s.cfg.Fusion.IoUThreshold) },
			func(s *settings, v any) { s.cfg.Fusion.IoUThreshold = float32(v.(float64)) }),
		shell.P(glib.NewFloat64Param("decay", "Confidence decay",
			"Per-frame factor on the score of a cloud box no local box confirms (1 = no decay)",
			0.01, 1, float64(def.Fusion.Decay), shell.ReadWriteReady),
			func(s *settings) any { return fusion.Decimal(s.cfg.Fusion.Decay) },
			func(s *settings, v any) { s.cfg.Fusion.Decay = float32(v.(float64)) }),
		shell.P(glib.NewFloat64Param("min-score", "Minimum score",
			"Drop a decaying cloud-only box once its score falls below this",
			0, 1, float64(def.Fusion.MinScore), shell.ReadWriteReady),
			func(s *settings) any { return fusion.Decimal(s.cfg.Fusion.MinScore) },
			func(s *settings, v any) { s.cfg.Fusion.MinScore = float32(v.(float64)) }),
	}}

type streaming struct {
	info        gstvideo.VideoInfo
	hasCaps     bool
	maxInterval int    // the policy's floor, told to reactdetect
	policySpoke bool   // an event went upstream ...
	policySaid  uint64 // ... last on this frame
	mapping     gstvideo.Mapping
	rois        gstvideo.ROIs
	labels      *gstvideo.Labels
	frames      gstvideo.FrameCounter
	fused       []detection.Detection
}

// Element is the Go implementation behind one reactcloud instance.
type Element struct {
	shell.Instance
	mu       sync.Mutex
	settings settings

	// Set in Start, cleared in Stop.
	nc     *nats.Conn
	engine atomic.Pointer[offload.Engine]
	done   chan struct{}
	relay  sync.WaitGroup
	state  streaming
	// The NATS server's last refusal (bad credentials or TLS), redacted;
	// nil while connected. The cloud-down warning it causes says which
	// properties to check.
	refusal atomic.Pointer[string]
}

// Register adds reactcloud to plugin (nil: register in-process).
func Register(plugin *gst.Plugin) bool {
	return gst.RegisterElement(plugin, Name, gst.RankNone, &Element{}, base.ExtendsBaseTransform)
}

func (e *Element) New() glib.GoObjectSubclass {
	return &Element{settings: props.Defaults()}
}

func (e *Element) ClassInit(klass *glib.ObjectClass) {
	shell.InitVideoFilterClass(klass, shell.Class{
		LongName: "REACT cloud fusion", Classification: "Filter/Analyzer/Video",
		Description: "Offloads frames to a cloud detector over NATS, fast-forwards its late boxes to the present frame and fuses them with the edge boxes",
	}, props.Specs())
}

func (e *Element) InstanceInit(o *glib.Object) { e.Set(o) }

func (e *Element) SetProperty(_ *glib.Object, id uint, value *glib.Value) {
	props.Set(&e.mu, &e.settings, id, value)
}

func (e *Element) GetProperty(_ *glib.Object, id uint) *glib.Value {
	return props.Get(&e.mu, &e.settings, id)
}

// Start connects to NATS (in the background when the server is not up yet)
// and starts the engine. Only a configuration error fails it.
func (e *Element) Start(_ *base.GstBaseTransform) bool {
	e.mu.Lock()
	s := e.settings
	e.mu.Unlock()
	mode, err := policy.ParseMode(s.policy)
	if err != nil {
		e.Error(gst.DomainLibrary, gst.LibraryErrorSettings, "Invalid reactcloud policy property: "+err.Error(), "")
		return false
	}
	s.cfg.Policy.Mode = mode
	if s.cfg.Tracker.Method, err = tracker.ParseMethod(s.tracker); err != nil {
		e.Error(gst.DomainLibrary, gst.LibraryErrorSettings, "Invalid reactcloud tracker property: "+err.Error(), "")
		return false
	}
	for _, w := range s.reconcilePolicy() {
		e.Warning("reactcloud: "+w, "")
	}
	if err := s.cfg.Validate(); err != nil {
		e.Error(gst.DomainLibrary, gst.LibraryErrorSettings, "Invalid reactcloud settings: "+err.Error(), "")
		return false
	}
	authOpts, err := s.auth.NATSOptions()
	if err != nil {
		e.Error(gst.DomainLibrary, gst.LibraryErrorSettings, "Invalid reactcloud NATS credentials: "+err.Error(), "")
		return false
	}
	server := natsauth.Redact(s.server)
	e.refusal.Store(nil)
	setConnected := func(up bool, reason string) {
		if up {
			e.refusal.Store(nil)
		}
		if eng := e.engine.Load(); eng != nil {
			eng.SetConnected(up, s.auth.RedactIn(reason, s.server))
		}
	}
	refused := func(err error) {
		reason := s.auth.RedactIn("NATS server at "+server+" refused the connection: "+err.Error(), s.server)
		e.refusal.Store(&reason)
		// The engine warns once when the cloud goes down; nats.go retries
		// every ReconnectWait with the same refusal.
		setConnected(false, reason)
	}
	authOpts = append(authOpts, natsauth.RefusalOptions(refused, nil)...)
	nc, err := offload.Connect(s.server, "gstreact-"+s.cfg.StreamID, setConnected, authOpts...)
	if err != nil {
		e.Error(gst.DomainResource, gst.ResourceErrorSettings, s.auth.RedactIn(err.Error(), s.server), "")
		return false
	}
	log := slog.New(gstLog{})
	eng, err := offload.New(s.cfg, nc, log)
	if err != nil {
		nc.Close()
		e.Error(gst.DomainLibrary, gst.LibraryErrorSettings, "Invalid reactcloud settings: "+err.Error(), "")
		return false
	}
	e.nc = nc
	e.engine.Store(eng)
	if r := e.refusal.Load(); r != nil {
		// Refused before the engine existed: it starts out knowing.
		eng.SetConnected(false, *r)
	}
	e.done = make(chan struct{})
	e.relay.Add(1)
	go e.relayEvents(eng, e.done, &e.relay)
	e.state = streaming{
		labels: gstvideo.NewLabels(labels.COCO()), maxInterval: s.cfg.Policy.WithDefaults().MaxInterval,
		// Sized up front: grown by append, it allocated on the first frame
		// with more fused boxes than any before (gstreact bench caught one
		// such frame in about 20 runs).
		fused: make([]detection.Detection, 0, 2*fusion.ReserveBoxes),
	}
	cat.LogInfo(fmt.Sprintf("offloading every %d frames (scene change %.2f) to %s on %s as stream %q",
		s.cfg.Interval, s.cfg.ChangeThreshold, s.cfg.Subject, server, s.cfg.StreamID))
	if !nc.IsConnected() {
		e.Warning(fmt.Sprintf("No NATS server at %s yet: output is edge-only until it is reachable", server),
			"reactcloud keeps reconnecting every "+offload.ReconnectWait.String())
	}
	return true
}

func (e *Element) Stop(_ *base.GstBaseTransform) bool {
	if e.done != nil {
		close(e.done)
		e.relay.Wait()
		e.done = nil
	}
	if eng := e.engine.Swap(nil); eng != nil {
		eng.Close()
		var txt shell.StatusText
		ps, _ := eng.PolicyStatus()
		e.postStats(&txt, eng.Stats(), ps, "final")
	}
	if e.nc != nil {
		e.nc.Close()
		e.nc = nil
	}
	e.state.mapping.Unmap()
	e.state = streaming{}
	return true
}

func (e *Element) SetCaps(_ *base.GstBaseTransform, incaps, _ *gst.Caps) bool {
	info, ok := e.VideoInfo(incaps)
	if !ok {
		return false
	}
	e.state.info, e.state.hasCaps = info, true
	if eng := e.engine.Load(); eng != nil {
		// The adaptive policy counts its budgets in frames at this rate.
		if err := eng.SetFrameRate(gstvideo.FrameRate(incaps)); err != nil {
			e.Error(gst.DomainLibrary, gst.LibraryErrorSettings, "Invalid reactcloud policy settings: "+err.Error(), "")
			return false
		}
	}
	return true
}

// HandleBuffer fuses on the streaming thread: read the boxes upstream put on
// the frame, hand both to the engine, and replace the boxes with the fused set.
func (e *Element) HandleBuffer(b gstvideo.Buffer) gst.FlowReturn {
	st := &e.state
	eng := e.engine.Load()
	if !st.hasCaps || eng == nil {
		return gst.FlowNotNegotiated
	}
	frameNum, detected, hasMeta := st.frames.Number(b)
	local, names := st.rois.Read(b, st.labels)
	for i := range local {
		st.labels.Learn(local[i].Class, names[i])
	}
	f, err := st.mapping.Map(b, &st.info, false)
	if err != nil {
		e.Error(gst.DomainStream, gst.StreamErrorFailed, "Cannot read video frame: "+err.Error(), "")
		return gst.FlowError
	}
	pts := b.PTS()
	if pts < 0 {
		pts = wire.NoPTS
	}
	if hasMeta {
		st.fused = eng.ProcessDetected(&f, frameNum, pts, local, detected, st.fused[:0])
	} else {
		st.fused = eng.Process(&f, frameNum, pts, local, st.fused[:0])
	}
	st.mapping.Unmap()
	if d, ok := eng.PolicyDecision(); ok && (d.DetectNext || !st.policySpoke || frameNum >= st.policySaid+uint64(max(1, st.maxInterval/2))) {
		// reactdetect upstream runs on the next frame it sees when told to,
		// and only then while it hears from the policy: it is told on the
		// first frame and at least every max-interval/2 frames.
		e.PushPolicy(gstvideo.PolicyEvent{Frame: frameNum, Detect: d.DetectNext, MaxInterval: st.maxInterval}, d.DetectReason.String())
		st.policySpoke, st.policySaid = true, frameNum
	}
	st.rois.Remove(b)
	st.rois.Add(b, st.fused, st.labels, frameNum)
	// What the schedule did on this frame travels with it (reactpublish
	// writes it into the frame's record).
	fp := eng.FramePolicy()
	gstvideo.SetPolicyMeta(b, gstvideo.PolicyMeta{Policy: fp.Mode.String(), K: fp.K, M: fp.M,
		Detected: fp.Detected, DetectReason: reasonName(fp.DetectReason),
		Offloaded: fp.Offloaded, OffloadReason: reasonName(fp.OffloadReason)})
	return gst.FlowOK
}

// relayEvents turns engine events into bus messages, off the streaming
// thread. Status and reply messages are built as text in a reused buffer
// (shell.StatusText), so a long run does not allocate for them.
func (e *Element) relayEvents(eng *offload.Engine, done chan struct{}, exited *sync.WaitGroup) {
	defer exited.Done()
	var txt shell.StatusText
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	ps, _ := eng.PolicyStatus()
	e.postStats(&txt, eng.Stats(), ps, "start")
	for {
		select {
		case <-done:
			return
		case ev := <-eng.Events():
			switch ev.Kind {
			case offload.EventCloudDown:
				hint := "reactcloud recovers by itself when replies come back"
				if r := e.refusal.Load(); r != nil && *r == ev.Reason {
					hint = "check the user/password, token, creds-file, nkey-seed-file and tls-* properties; reactcloud keeps retrying"
				}
				e.Warning("Cloud unavailable, output continues edge-only: "+ev.Reason, hint)
				e.PostText(txt.Begin("reactcloud-cloud").String("state", "down").String("reason", ev.Reason).Bytes())
			case offload.EventCloudUp:
				cat.LogInfo("cloud is up")
				e.PostText(txt.Begin("reactcloud-cloud").String("state", "up").String("reason", "").Bytes())
			case offload.EventReply:
				e.PostText(txt.Begin("reactcloud-reply").Uint("frame", ev.Frame).
					Float("rtt-ms", float64(ev.RTT.Microseconds())/1000).Uint("boxes", uint64(ev.Boxes)).
					String("worker", ev.Worker).Uint("in-flight", uint64(eng.Stats().Inflight)).Bytes())
			}
		case <-tick.C:
			ps, _ := eng.PolicyStatus()
			e.postStats(&txt, eng.Stats(), ps, "periodic")
		}
	}
}

// postStats posts the engine's counters as a reactcloud-status message.
func (e *Element) postStats(txt *shell.StatusText, s offload.Stats, ps policy.Status, why string) {
	e.PostText(txt.Begin("reactcloud-status").
		String("why", why).
		String("cloud", s.Cloud.String()).
		Uint("frames", s.Frames).
		Uint("offloaded", s.Offloaded).
		Uint("replies", s.RepliesOK).
		Uint("in-flight", uint64(s.Inflight)).
		Float("rtt-ms", float64(s.LastRTT.Microseconds())/1000).
		Float("mean-rtt-ms", float64(s.MeanRTT.Microseconds())/1000).
		Float("queue-ms", float64(s.LastQueue.Microseconds())/1000).
		Uint("cloud-boxes", uint64(s.CloudBoxes)).
		Uint("timeouts", s.Timeouts).
		Uint("no-responders", s.NoResponders).
		Uint("worker-errors", s.WorkerErrors).
		Uint("malformed", s.Malformed).
		Uint("wrong-version", s.WrongVersion).
		Uint("unknown-frame", s.UnknownFrame).
		Uint("oversized", s.Oversized).
		Uint("skipped-full", s.SkippedFull).
		Uint("skipped-down", s.SkippedDisconnected).
		Uint("late", s.LateBeyondRing).
		Uint("stale", s.StaleSets).
		Uint("sent-bytes", s.SentBytes).
		Uint("scene-changes", s.SceneChanges).
		Uint("ring-frames", uint64(s.RingFrames)).
		Uint("ff-steps", s.FFStepped).
		Uint("events-dropped", s.EventsDropped).
		String("policy", ps.Mode.String()).
		Float("k", ps.K).
		Float("m", ps.M).
		String("detect-reason", reasonName(ps.DetectReason)).
		String("offload-reason", reasonName(ps.OffloadReason)).
		String("held", reasonName(ps.OffloadHeld)).
		Float("edge-fps", ps.EdgeFPS).
		Float("uplink-kbps", ps.UplinkKbps).
		Uint("backoff-frames", uint64(ps.Backoff)).
		Bytes())
}
