package offload

import (
	"sync/atomic"
	"time"

	"github.com/gst-react/gst-react/internal/wire"
)

// CloudState is what the engine believes about the cloud.
type CloudState int32

const (
	// CloudUnknown: no request has completed yet.
	CloudUnknown CloudState = iota
	// CloudUp: the last request was answered, or fewer than DownAfter failed since.
	CloudUp
	// CloudDown: DownAfter consecutive requests failed, or NATS is disconnected;
	// output is edge-only until a reply arrives.
	CloudDown
)

func (s CloudState) String() string {
	switch s {
	case CloudUp:
		return "up"
	case CloudDown:
		return "down"
	}
	return "unknown"
}

// Stats is a snapshot of the engine's counters. Counters only grow (Reset does
// not clear them); the others describe the current state.
type Stats struct {
	Frames              uint64 // Process calls
	BadFrames           uint64 // frames that failed frame.Validate or pyramid building: not stored, not offloaded
	Offloaded           uint64 // requests published
	SceneChanges        uint64 // offload triggers by scene change (sent or not)
	SkippedFull         uint64 // offload frames skipped: MaxInflight requests outstanding
	SkippedDisconnected uint64 // offload frames skipped: NATS not connected
	SentBytes           uint64 // request bytes published

	RepliesOK      uint64 // valid replies with status ok, fed to the fast-forward
	Timeouts       uint64 // requests not answered within Timeout
	NoResponders   uint64 // requests no worker was subscribed for
	WorkerErrors   uint64 // replies with a status other than ok (but bad version, see WrongVersion)
	LastWorkerCode wire.Code
	Malformed      uint64 // replies that failed to decode or validate (bad magic, truncated, box outside the frame, ...)
	WrongVersion   uint64 // replies in another protocol version, or workers refusing ours
	UnknownFrame   uint64 // replies for a frame or stream this engine did not ask for
	Oversized      uint64 // requests over NATS max_payload or the wire limits; replies over Limits.MaxBoxes
	SendErrors     uint64 // JPEG encoding or publish failures

	LastRTT    time.Duration // request published → reply received
	LastQueue  time.Duration // the worker's queue wait on the last reply (0: none, or a worker that does not report it)
	MeanRTT    time.Duration // over RepliesOK
	LastEncode time.Duration // frame copy → JPEG + request ready (off the streaming thread)
	Inflight   int           // requests outstanding now

	Cloud       CloudState
	CloudReason string // why the cloud was last declared down ("" if never)
	CloudBoxes  int    // boxes with Source cloud in the last fused frame (matched + cloud-only)

	FFStepped      uint64 // frames the fast-forward tracker stepped (catch-up and live follow)
	FFAnchored     uint64 // reply boxes that rode a live track instead of being tracked (Config.AnchorIoU)
	FFDropped      uint64 // replies not followed to the present: fell out of the ring while catching up, superseded by a newer reply, or older than one already followed
	LateBeyondRing uint64 // replies for a frame already gone from the ring
	StaleSets      uint64 // frames where the cloud set trailed by more than MaxLag and was left out

	RingFrames    int    // frames the ring holds (RingFrames, or fewer under RingBytes)
	RingSkipped   uint64 // frames not stored because the fast-forward was reading that slot
	EventsDropped uint64 // events lost because the consumer was slow
}

// counters are the atomics behind Stats; each is written by one goroutine
// or with atomic adds, and Stats reads them without locking.
type counters struct {
	frames, badFrames, offloaded, sceneChanges, skippedFull, skippedDisc, sentBytes atomic.Uint64
	repliesOK, timeouts, noResponders, workerErrors, malformed                      atomic.Uint64
	wrongVersion, unknownFrame, oversized, sendErrors                               atomic.Uint64
	lastWorkerCode                                                                  atomic.Uint32
	lastRTT, sumRTT, lastEncode, lastQueue                                          atomic.Int64
	inflight                                                                        atomic.Int64
	cloud                                                                           atomic.Int32
	cloudReason                                                                     atomic.Pointer[string]
	cloudBoxes                                                                      atomic.Int64
	ffStepped, ffAnchored, ffDropped, lateBeyondRing, staleSets                     atomic.Uint64
	ringFrames                                                                      atomic.Int64
	ringSkipped, eventsDropped                                                      atomic.Uint64
}

// Stats returns the counters. It never blocks (atomics only), so it may be
// called from any goroutine, including the streaming thread.
func (e *Engine) Stats() Stats {
	c := &e.ctr
	s := Stats{
		Frames: c.frames.Load(), BadFrames: c.badFrames.Load(), Offloaded: c.offloaded.Load(),
		SceneChanges: c.sceneChanges.Load(), SkippedFull: c.skippedFull.Load(),
		SkippedDisconnected: c.skippedDisc.Load(), SentBytes: c.sentBytes.Load(),
		RepliesOK: c.repliesOK.Load(), Timeouts: c.timeouts.Load(),
		NoResponders: c.noResponders.Load(), WorkerErrors: c.workerErrors.Load(),
		LastWorkerCode: wire.Code(c.lastWorkerCode.Load()), Malformed: c.malformed.Load(),
		WrongVersion: c.wrongVersion.Load(), UnknownFrame: c.unknownFrame.Load(),
		Oversized: c.oversized.Load(), SendErrors: c.sendErrors.Load(),
		LastRTT: time.Duration(c.lastRTT.Load()), LastEncode: time.Duration(c.lastEncode.Load()), LastQueue: time.Duration(c.lastQueue.Load()),
		Inflight: int(c.inflight.Load()), Cloud: CloudState(c.cloud.Load()),
		CloudBoxes: int(c.cloudBoxes.Load()), FFStepped: c.ffStepped.Load(), FFAnchored: c.ffAnchored.Load(), FFDropped: c.ffDropped.Load(),
		LateBeyondRing: c.lateBeyondRing.Load(), StaleSets: c.staleSets.Load(),
		RingFrames: int(c.ringFrames.Load()), RingSkipped: c.ringSkipped.Load(),
		EventsDropped: c.eventsDropped.Load(),
	}
	if s.RepliesOK > 0 {
		s.MeanRTT = time.Duration(c.sumRTT.Load() / int64(s.RepliesOK))
	}
	if p := c.cloudReason.Load(); p != nil {
		s.CloudReason = *p
	}
	return s
}

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventCloudDown: the cloud was declared down (Reason says why). Output
	// degrades to edge-only; a warning, not an error.
	EventCloudDown EventKind = iota + 1
	// EventCloudUp: a valid reply arrived while the cloud was down or unknown.
	EventCloudUp
	// EventReply: a valid reply arrived (Frame, RTT, Boxes, Worker).
	EventReply
)

func (k EventKind) String() string {
	switch k {
	case EventCloudDown:
		return "cloud-down"
	case EventCloudUp:
		return "cloud-up"
	case EventReply:
		return "reply"
	}
	return "unknown"
}

// Event is something the application may want to post on the bus. Events are
// produced by the engine's network goroutines, never the streaming thread.
type Event struct {
	Kind   EventKind
	Time   time.Time
	Reason string        // EventCloudDown: e.g. "no responders on react.detect: is a cloud worker running?"
	Frame  uint64        // EventReply: the frame the boxes were detected on
	RTT    time.Duration // EventReply: request published → reply received
	Boxes  int           // EventReply: boxes in the reply
	Worker string        // EventReply: the worker's id, if it sent one
}
