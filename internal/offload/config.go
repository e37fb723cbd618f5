package offload

import (
	"fmt"
	"strings"
	"time"

	"github.com/gst-react/gst-react/internal/fusion"
	"github.com/gst-react/gst-react/internal/policy"
	"github.com/gst-react/gst-react/internal/tracker"
	"github.com/gst-react/gst-react/internal/wire"
)

// Config tunes an Engine. Unlike the tracker and fusion configs, zero is a
// meaningful value for several fields (Interval 0 = scene changes only,
// ChangeThreshold 0 = off), so start from DefaultConfig and change fields.
type Config struct {
	// StreamID identifies this stream on the wire: 1..64 of [A-Za-z0-9._-].
	// Default "stream0". Give each camera its own when workers are shared.
	StreamID string
	// Subject is the NATS subject requests are published on; default
	// wire.DefaultRequestSubject ("react.detect"). No wildcards.
	Subject string

	// Interval offloads every frame whose number is a multiple of it (REACT's m);
	// default 30; 0 = only scene changes (and the first frame when
	// ChangeThreshold is set).
	Interval int
	// ChangeThreshold offloads a frame whose 32x18 grey thumbnail differs from
	// the last offloaded frame's by at least this mean absolute difference, as a
	// fraction of full scale, 0..1; 0 = off. Default 0.1: on the MOT17-04 crowd
	// (static camera, dozens of walking people) consecutive frames differ by
	// about 0.005 and frames 8 apart by about 0.01, while a cut to another scene
	// or a large pan measures 0.15-0.4 (see TestSceneChangeMOT17); 0.1 sits well
	// above motion and noise and below real scene changes. Lighting flicker of a
	// few percent does not trigger; switching the lights on does, which is right:
	// old cloud boxes are no longer a good prior.
	ChangeThreshold float64
	// ChangeMinGap is the least number of frames between a scene-change offload
	// and the previous offload, so a long pan does not send every frame;
	// default 10; 0 = no limit (MaxInflight still bounds the rate).
	ChangeMinGap int

	// MaxInflight bounds outstanding requests; 1..64, default 2. A frame chosen
	// while that many are outstanding is skipped (Stats.SkippedFull).
	MaxInflight int
	// Timeout abandons a request not answered in time (Stats.Timeouts); default
	// 2s, 1ms..1h. It is also sent to the worker, which may drop late work.
	Timeout time.Duration
	// DownAfter consecutive failures (timeouts, errors, no responders) declare
	// the cloud down (EventCloudDown); default 3, at least 1. Losing the NATS
	// connection declares it down at once.
	DownAfter int

	// JPEGQuality is the image/jpeg quality, 1..100, default 85.
	JPEGQuality int
	// JPEGMaxWidth downscales wider frames (area average) before encoding;
	// default 1280, the cloud model's input width, so more pixels would only cost
	// bandwidth; 0 = send full size, else at least 16. Reply boxes are in the
	// original frame's pixels either way.
	JPEGMaxWidth int
	// FullRangeYUV says I420/NV12 input already uses the full 0..255 range (e.g.
	// from an MJPEG camera). By default it is taken as limited range (16..235, the
	// GStreamer default for video) and expanded, since JPEG (JFIF) is full range
	// and a washed-out image costs the cloud detector contrast.
	FullRangeYUV bool

	// RingFrames is how many past frames are kept (as tracking pyramids) to
	// fast-forward late replies over; default 60 (2 s at 30 fps), 2..10000. A
	// reply for a frame older than that is dropped (Stats.LateBeyondRing).
	RingFrames int
	// RingBytes caps the ring's memory; whichever of RingFrames and RingBytes is
	// reached first bounds it (at least 2 frames are kept). Default 64 MiB, which
	// holds 60 frames of 1080p tracked at 480x270 (~170 KB each) or 960x540
	// (~690 KB each).
	RingBytes int64
	// TrackScale is the integer downscale of the grey tracking image; 0 = auto:
	// the largest factor keeping at least 480 columns (as reacttrack does).
	TrackScale int
	// Tracker tunes the fast-forward tracker; zero fields take tracker
	// defaults, except GridSize, which defaults to DefaultFFGridSize: the
	// fast-forward follows every cloud box (dozens in a crowd) on a thread that
	// must keep up with the stream, and 6x6 points cost about half of the
	// live tracker's 8x8 while the median of 36 votes is still robust (8x8
	// measured +0.1 mean fused mAP@0.5 on TUD-Stadtmitte and OxfordTownCentre
	// at k 5,10, m 10,30, latency 0..1 s; 5x5 lost 3 to 10 points of
	// cloud-only). Its Levels is also the number of pyramid levels built per
	// frame.
	Tracker tracker.Config
	// Fusion tunes the merge of local and cloud boxes.
	Fusion fusion.Config
	// MaxLag is how many frames the fast-forwarded cloud set may trail the
	// current frame and still be fused; default 8, 0..1000. The fast-forward
	// goroutine runs beside the streaming thread, so the set is usually one
	// frame behind (it cannot be tracked to a frame before that frame arrives,
	// and the streaming thread never waits for it); at walking speeds a few
	// frames move a box by a few pixels, still matching at IoU 0.5. Older sets
	// are left out rather than drawn where the object was.
	MaxLag int
	// MaxJump is the most frames the fast-forward tracker moves boxes in one
	// step; default 2, 1..64. Catching up over the ring one frame at a time
	// costs a tracker step per frame, which a busy edge CPU cannot always
	// afford; stepping several frames at once catches up sooner. But close
	// people walking across a 640x480 view (TUD-Stadtmitte, tracked at full
	// resolution) move far enough in 4 frames to leave the Lucas–Kanade
	// range (about 15 px with 3 levels) more often: cloud-only mAP@0.5
	// after a 300 ms fast-forward fell from 62.0 % (jumps of 2) to 52.2 %
	// (jumps of 4). On the slower, smaller OxfordTownCentre people jumps of
	// 4 were 0.5 points worse at 300 ms and 1.5 better after 1 s. Raise it
	// only for slow or distant motion.
	MaxJump int
	// MaxCloudAge stops following a reply's boxes this many frames after the
	// frame they were detected on, when no newer reply came (cloud slow or
	// down): tracked boxes drift, and fusion decays cloud-only boxes anyway.
	// Default 150 (5 s at 30 fps); 0 = follow until the tracker loses them.
	MaxCloudAge int

	// AnchorIoU is the least IoU at which a reply's box and a live track's box
	// on the reply's frame are taken for the same object, so that the cloud
	// box rides along the live track instead of being tracked again
	// (Carrier); [0, 1], default 0: every cloud box is tracked, as in REACT,
	// which measured better on real sequences (README "Accuracy").
	AnchorIoU float32

	// Limits bound what replies may contain (zero fields: wire defaults).
	Limits wire.Limits

	// Policy decides offloads (and, through the caller, edge detections)
	// when its Mode is policy.Adaptive; the zero value, policy.Fixed, is
	// REACT's Interval and scene changes. The engine fills its
	// MaxInflight, Timeout and MinOffloadGap from this Config.
	Policy policy.Config
}

// Default values.
const (
	DefaultStreamID        = wire.DefaultStreamID
	DefaultInterval        = 30
	DefaultChangeThreshold = 0.1
	DefaultChangeMinGap    = 10
	DefaultMaxInflight     = 2
	DefaultTimeout         = 2 * time.Second
	DefaultDownAfter       = 3
	DefaultJPEGQuality     = 85
	DefaultJPEGMaxWidth    = 1280
	DefaultRingFrames      = 60
	DefaultRingBytes       = 64 << 20
	DefaultMaxLag          = 8
	DefaultFFGridSize      = 6
	DefaultMaxJump         = 2
	DefaultMaxCloudAge     = 150
)

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		StreamID:        DefaultStreamID,
		Subject:         wire.DefaultRequestSubject,
		Interval:        DefaultInterval,
		ChangeThreshold: DefaultChangeThreshold,
		ChangeMinGap:    DefaultChangeMinGap,
		MaxInflight:     DefaultMaxInflight,
		Timeout:         DefaultTimeout,
		DownAfter:       DefaultDownAfter,
		JPEGQuality:     DefaultJPEGQuality,
		JPEGMaxWidth:    DefaultJPEGMaxWidth,
		RingFrames:      DefaultRingFrames,
		RingBytes:       DefaultRingBytes,
		Fusion:          fusion.DefaultConfig(),
		MaxLag:          DefaultMaxLag,
		MaxJump:         DefaultMaxJump,
		MaxCloudAge:     DefaultMaxCloudAge,
	}
}

// Validate reports the first field out of its allowed range.
func (c Config) Validate() error {
	if !wire.ValidStreamID(c.StreamID) {
		return fmt.Errorf("offload: StreamID %q must be 1..%d characters of A-Z a-z 0-9 . _ -", c.StreamID, wire.MaxStreamIDLen)
	}
	if c.Subject == "" || strings.ContainsAny(c.Subject, " \t\r\n*>") ||
		strings.HasPrefix(c.Subject, ".") || strings.HasSuffix(c.Subject, ".") || strings.Contains(c.Subject, "..") {
		return fmt.Errorf("offload: Subject %q must be a NATS subject without wildcards or spaces, e.g. %q", c.Subject, wire.DefaultRequestSubject)
	}
	switch {
	case c.Interval < 0:
		return fmt.Errorf("offload: Interval %d must be ≥ 0 (offload every Nth frame; 0 = scene changes only)", c.Interval)
	case !(c.ChangeThreshold >= 0 && c.ChangeThreshold <= 1):
		return fmt.Errorf("offload: ChangeThreshold %v must be in [0, 1] (0 = off)", c.ChangeThreshold)
	case c.ChangeMinGap < 0:
		return fmt.Errorf("offload: ChangeMinGap %d must be ≥ 0 frames", c.ChangeMinGap)
	case c.MaxInflight < 1 || c.MaxInflight > 64:
		return fmt.Errorf("offload: MaxInflight %d must be in 1..64", c.MaxInflight)
	case c.Timeout < time.Millisecond || c.Timeout > time.Hour:
		return fmt.Errorf("offload: Timeout %v must be in 1ms..1h", c.Timeout)
	case c.DownAfter < 1:
		return fmt.Errorf("offload: DownAfter %d must be ≥ 1 consecutive failures", c.DownAfter)
	case c.JPEGQuality < 1 || c.JPEGQuality > 100:
		return fmt.Errorf("offload: JPEGQuality %d must be in 1..100", c.JPEGQuality)
	case c.JPEGMaxWidth != 0 && (c.JPEGMaxWidth < 16 || c.JPEGMaxWidth > 65535):
		return fmt.Errorf("offload: JPEGMaxWidth %d must be 0 (full size) or 16..65535", c.JPEGMaxWidth)
	case c.RingFrames < 2 || c.RingFrames > 10000:
		return fmt.Errorf("offload: RingFrames %d must be in 2..10000", c.RingFrames)
	case c.RingBytes < 1:
		return fmt.Errorf("offload: RingBytes %d must be > 0 (default %d)", c.RingBytes, DefaultRingBytes)
	case c.TrackScale < 0 || c.TrackScale > 64:
		return fmt.Errorf("offload: TrackScale %d must be in 0..64 (0 = auto)", c.TrackScale)
	case c.MaxLag < 0 || c.MaxLag > 1000:
		return fmt.Errorf("offload: MaxLag %d must be in 0..1000 frames", c.MaxLag)
	case c.MaxJump < 1 || c.MaxJump > 64:
		return fmt.Errorf("offload: MaxJump %d must be in 1..64 frames", c.MaxJump)
	case !(c.AnchorIoU >= 0 && c.AnchorIoU <= 1):
		return fmt.Errorf("offload: AnchorIoU %v must be in [0, 1] (0 = track every cloud box)", c.AnchorIoU)
	case c.MaxCloudAge < 0:
		return fmt.Errorf("offload: MaxCloudAge %d must be ≥ 0 frames (0 = until lost)", c.MaxCloudAge)
	}
	if err := c.Fusion.Validate(); err != nil {
		return fmt.Errorf("offload: %w", err)
	}
	if c.Policy.Mode == policy.Adaptive {
		if err := c.policyConfig().Validate(); err != nil {
			return fmt.Errorf("offload: %w", err)
		}
	}
	return nil
}

// AutoScale is the largest integer downscale keeping at least 480 columns,
// the same rule as the reacttrack element.
func AutoScale(width int) int { return max(1, width/480) }
