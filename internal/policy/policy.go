package policy

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
)

// Mode picks the controller.
type Mode uint8

const (
	// Fixed: edge detector every K-th frame, every M-th frame and scene
	// changes to the cloud (REACT as published; budgets not applied).
	Fixed Mode = iota
	// Adaptive: detections and offloads where the signals ask for them,
	// within the budgets.
	Adaptive
)

var modeNames = [...]string{"fixed", "adaptive"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", m)
}

// ParseMode is the inverse of Mode.String.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown policy %q (want fixed or adaptive)", s)
}

// Reason says why a decision fired, or why a wanted one was held back.
type Reason uint8

const (
	ReasonNone          Reason = iota
	ReasonInterval             // the base (or fixed) interval came round
	ReasonFloor                // a floor: MaxInterval or OffloadEvery
	ReasonTracksLost           // tracks were lost or are coasting
	ReasonNewObjects           // the edge found objects no track explained
	ReasonLowConfidence        // the edge is unsure of some boxes
	ReasonSceneChange          // the frame differs from the last one sent
	ReasonProbe                // a down cloud is probed at the floor rate
	ReasonBudget               // held: a budget would be exceeded
	ReasonBackoff              // held: the cloud is slow, queueing or timing out
	ReasonInflight             // held: MaxInflight requests outstanding
	ReasonCloudDown            // held: the cloud is down
)

var reasonNames = [...]string{"none", "interval", "floor", "tracks-lost", "new-objects", "low-confidence",
	"scene-change", "probe", "budget", "backoff", "in-flight", "cloud-down"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", r)
}

// Held reports whether r explains a decision not taken.
func (r Reason) Held() bool { return r >= ReasonBudget }

// CloudState is what the caller believes about the cloud.
type CloudState uint8

const (
	CloudUnknown CloudState = iota // no request has completed yet
	CloudUp
	CloudDown
)

// Budgets are the limits Adaptive never exceeds over any Window; 0 = none.
type Budgets struct {
	UplinkKbps float64       // request bytes, in kbit (1000 bits) per second
	EdgeFPS    float64       // edge detector runs per second
	CloudRPS   float64       // cloud requests per second
	Window     time.Duration // averaging window (default 4 s)
}

// Defaults of Config's zero fields.
const (
	DefaultFPS           = 30
	DefaultWindow        = 4 * time.Second
	DefaultMaxInterval   = 30
	DefaultOffloadEvery  = 10 * time.Second
	DefaultMinDetectGap  = 2
	DefaultMinOffloadGap = 10
	DefaultLowConfidence = 0.5
	DefaultMaxInflight   = 2
	DefaultTimeout       = 2 * time.Second
	// Without an edge budget or base, adaptive detects at least this often.
	defaultK = 5
	// Without a cloud budget or base, adaptive offloads at least this often.
	defaultM = 30
)

// Config tunes a Policy; zero fields take the defaults above.
type Config struct {
	Mode Mode
	// FPS converts budgets and durations to frames (the stream's frame rate).
	FPS float64
	// K and M: Fixed's intervals (M 0: scene changes only). For Adaptive
	// the base intervals used when no signal fires; 0 derives them from
	// the budgets.
	K, M    int
	Budgets Budgets
	// MaxInterval (floor): Adaptive detects at least every this many frames.
	MaxInterval int
	// OffloadEvery (floor): Adaptive offloads at least this often while
	// the cloud is up, and probes a down cloud this often.
	OffloadEvery time.Duration
	// MinDetectGap and MinOffloadGap: the fewest frames between a
	// detection (offload) that a signal triggers and the previous one.
	MinDetectGap, MinOffloadGap int
	// LowConfidence: edge boxes scoring under it make the edge "unsure".
	LowConfidence float32
	// MaxInflight and Timeout are the offload engine's: Adaptive does not
	// offload while MaxInflight requests wait, and backs off as the round
	// trip nears Timeout.
	MaxInflight int
	Timeout     time.Duration
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.FPS <= 0 {
		c.FPS = DefaultFPS
	}
	if c.Budgets.Window <= 0 {
		c.Budgets.Window = DefaultWindow
	}
	if c.MaxInterval <= 0 {
		c.MaxInterval = DefaultMaxInterval
	}
	if c.OffloadEvery <= 0 {
		c.OffloadEvery = DefaultOffloadEvery
	}
	if c.MinDetectGap <= 0 {
		c.MinDetectGap = DefaultMinDetectGap
	}
	if c.MinOffloadGap <= 0 {
		c.MinOffloadGap = DefaultMinOffloadGap
	}
	if c.LowConfidence <= 0 {
		c.LowConfidence = DefaultLowConfidence
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate checks c (after WithDefaults), naming the setting at fault.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Mode > Adaptive:
		return fmt.Errorf("policy: unknown mode %d", c.Mode)
	case math.IsNaN(c.FPS) || math.IsInf(c.FPS, 0):
		return fmt.Errorf("policy: frame rate %v is not a number", c.FPS)
	case c.K < 0 || c.M < 0:
		return fmt.Errorf("policy: intervals k=%d m=%d must be >= 0", c.K, c.M)
	case c.Mode == Fixed && c.K < 1:
		return errors.New("policy: fixed needs k >= 1 (edge detector every k-th frame)")
	case c.Budgets.UplinkKbps < 0 || c.Budgets.EdgeFPS < 0 || c.Budgets.CloudRPS < 0:
		return errors.New("policy: budgets must be >= 0 (0 = no limit)")
	case c.windowFrames() < 1:
		return fmt.Errorf("policy: budget window %v is shorter than a frame at %g fps", c.Budgets.Window, c.FPS)
	}
	if c.Mode == Fixed {
		return nil
	}
	if b := c.Budgets.EdgeFPS; b > 0 && c.FPS/float64(c.MaxInterval) > b+1e-9 {
		return fmt.Errorf("policy: max-interval %d frames at %g fps is %.3g detections/s, more than max-edge-fps %g: raise max-interval or the budget",
			c.MaxInterval, c.FPS, c.FPS/float64(c.MaxInterval), b)
	}
	if b := c.Budgets.CloudRPS; b > 0 && 1/c.OffloadEvery.Seconds() > b+1e-9 {
		return fmt.Errorf("policy: an offload every %v is %.3g requests/s, more than max-cloud-rps %g: lengthen offload-every or raise the budget",
			c.OffloadEvery, 1/c.OffloadEvery.Seconds(), b)
	}
	return nil
}

func (c Config) windowFrames() int { return int(math.Round(c.Budgets.Window.Seconds() * c.FPS)) }

func (c Config) frames(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()*c.FPS-1e-9))) }

// Signals is what the pipeline observed on one frame. Cumulative counters
// may start anywhere; the policy uses their increments.
type Signals struct {
	// Frame is the frame's number; it grows by one per frame (gaps count
	// as frames that spent nothing).
	Frame uint64
	// Boxes are the frame's live boxes (the edge path's output: reacttrack,
	// with track ids and scores), read only during Decide.
	Boxes []detection.Detection
	// Detected: the edge detector ran on this frame (Boxes are its boxes).
	Detected bool
	// SceneChange: the frame differs from the last one sent by the offload
	// engine's thumbnail test (its threshold and minimum gap applied).
	SceneChange bool

	Cloud CloudState
	// Inflight is the number of requests outstanding now.
	Inflight int
	// RTT is the last measured round trip (0: none yet); QueueWait the
	// worker's queue wait on the last reply, if replies carry it; Encode
	// how long the last request took to encode before it was sent.
	RTT, QueueWait, Encode time.Duration
	// OldestInflight is how long the oldest outstanding request has waited
	// since it was handed over (encoding included); 0: none, or the caller
	// does not know (the policy then counts frames since it was sent).
	OldestInflight time.Duration
	// Replies and Timeouts count answered and timed-out requests.
	Replies, Timeouts uint64
	// SentRequests and SentBytes count the requests whose bytes are known
	// (encoded and published) and those bytes.
	SentRequests, SentBytes uint64
}

// Decision is what to do: offload this frame, run the edge detector on the
// next one, and why (or why not).
type Decision struct {
	Offload       bool
	OffloadReason Reason
	DetectNext    bool
	DetectReason  Reason
}
