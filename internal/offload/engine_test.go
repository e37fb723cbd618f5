package offload

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/mot"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
	"github.com/gst-react/gst-react/internal/wire"
)

// The tests run real frames (MOT17-04, 1920x1080, played back and forth to
// make a stream) through a real embedded NATS server to a scripted worker, so
// each reply's content, delay and defects are under the test's control. The
// end-to-end tests with the real cloud worker and model are in elements/.

const seq = "MOT17-04-FRCNN-mini"

type clip struct {
	frames []frame.Frame // I420
	gt     *mot.GroundTruth
}

var (
	clipOnce sync.Once
	clipData *clip
	clipErr  error
)

func assetsDir(t testing.TB) string {
	dir, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "assets"))
	if d := os.Getenv("GSTREACT_SHARED_ASSETS"); d != "" {
		dir = d
	}
	if _, err := os.Stat(filepath.Join(dir, "video", seq)); err != nil {
		t.Skipf("shared assets not found at %s (set GSTREACT_SHARED_ASSETS): %v", dir, err)
	}
	return dir
}

func loadClip(t testing.TB) *clip {
	dir := filepath.Join(assetsDir(t), "video", seq)
	clipOnce.Do(func() {
		c := &clip{}
		c.gt, clipErr = mot.LoadGT(dir)
		if clipErr != nil {
			return
		}
		names, _ := filepath.Glob(filepath.Join(dir, "img1", "*.jpg"))
		sort.Strings(names)
		for _, n := range names {
			f, err := readI420(n)
			if err != nil {
				clipErr = err
				return
			}
			c.frames = append(c.frames, f)
		}
		clipData = c
	})
	if clipErr != nil {
		t.Fatal(clipErr)
	}
	return clipData
}

func readI420(path string) (frame.Frame, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return frame.Frame{}, err
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return frame.Frame{}, fmt.Errorf("%s: %w", path, err)
	}
	y, ok := img.(*image.YCbCr)
	if !ok || y.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return frame.Frame{}, fmt.Errorf("%s: want a 4:2:0 JPEG", path)
	}
	w, h := y.Rect.Dx(), y.Rect.Dy()
	f := frame.Alloc(frame.I420, w, h)
	for r := range h {
		copy(f.Data[f.Offset[0]+r*f.Stride[0]:][:w], y.Y[r*y.YStride:])
	}
	for r := range (h + 1) / 2 {
		copy(f.Data[f.Offset[1]+r*f.Stride[1]:][:(w+1)/2], y.Cb[r*y.CStride:])
		copy(f.Data[f.Offset[2]+r*f.Stride[2]:][:(w+1)/2], y.Cr[r*y.CStride:])
	}
	return f, f.Validate()
}

// index maps a stream frame number to a clip frame, ping-ponging 0..n-1..1.
func (c *clip) index(n uint64) int {
	p := uint64(2*len(c.frames) - 2)
	i := int(n % p)
	if i >= len(c.frames) {
		i = int(p) - i
	}
	return i
}

// truth is the clip frame's pedestrians as detections.
func (c *clip) truth(n uint64) []detection.Detection {
	var out []detection.Detection
	for _, g := range c.gt.Frames[c.index(n)+1] {
		if g.Eval {
			b := g.Box.Clamp(float32(c.frames[0].Width), float32(c.frames[0].Height))
			out = append(out, detection.Detection{Box: b, Class: 0, Score: 0.9, Source: detection.SourceCloud})
		}
	}
	return out
}

func startNATS(t testing.TB) *natsserver.Server {
	return natsservertest.Start(t, natsserver.Options{NoLog: true})
}

// scriptedWorker answers requests on the default subject. reply builds the
// answer for a decoded request; nil means no answer.
type scriptedWorker struct {
	nc       *nats.Conn
	sub      *nats.Subscription
	requests atomic.Int64
}

func startWorker(t testing.TB, url string, reply func(req *wire.Request) []byte) *scriptedWorker {
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	w := &scriptedWorker{nc: nc}
	w.sub, err = nc.QueueSubscribe(wire.DefaultRequestSubject, wire.DefaultQueueGroup, func(m *nats.Msg) {
		req, err := wire.DecodeRequest(m.Data, wire.DefaultLimits())
		if err != nil {
			t.Errorf("worker got a bad request: %v", err)
			return
		}
		w.requests.Add(1)
		if out := reply(&req); out != nil {
			m.Respond(out)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	t.Cleanup(w.stop)
	return w
}

func (w *scriptedWorker) stop() { w.nc.Close() }

func okReply(t testing.TB, req *wire.Request, dets []detection.Detection) []byte {
	boxes, err := wire.AppendBoxes(nil, dets)
	if err != nil {
		t.Error(err)
		return nil
	}
	rep := wire.Reply{StreamID: req.StreamID, Frame: req.Frame, Status: wire.CodeOK, Boxes: boxes, WorkerID: "scripted"}
	out, err := wire.AppendReply(nil, &rep, wire.DefaultLimits(), req.Width, req.Height)
	if err != nil {
		t.Error(err)
	}
	return out
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEngine(t testing.TB, url string, mod func(*Config)) *Engine {
	cfg := DefaultConfig()
	cfg.Interval = 8
	cfg.ChangeThreshold = 0
	cfg.Timeout = 3 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	var eng atomic.Pointer[Engine]
	nc, err := Connect(url, "offload-test", func(up bool, reason string) {
		if e := eng.Load(); e != nil {
			e.SetConnected(up, reason)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e, err := New(cfg, nc, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	eng.Store(e)
	t.Cleanup(e.Close)
	return e
}

// play feeds frames first..first+n-1 at about fps, with no local boxes, and
// returns the fused output per frame and the longest Process call.
func play(e *Engine, c *clip, first, n uint64, fps float64, local func(uint64) []detection.Detection) ([][]detection.Detection, time.Duration) {
	out := make([][]detection.Detection, 0, n)
	var worst time.Duration
	period := time.Duration(float64(time.Second) / fps)
	next := time.Now()
	for f := first; f < first+n; f++ {
		var l []detection.Detection
		if local != nil {
			l = local(f)
		}
		t0 := time.Now()
		res := e.Process(&c.frames[c.index(f)], f, int64(f)*int64(period), l, nil)
		worst = max(worst, time.Since(t0))
		out = append(out, res)
		next = next.Add(period)
		time.Sleep(time.Until(next))
	}
	return out, worst
}

// waitUntil polls cond until it holds or d has passed, and reports whether it
// held. d bounds a hang; it is not a speed requirement.
func waitUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// waitCaughtUp waits until the cloud set being followed, if any, has been
// tracked to frame f, the frame just processed, so the next frame is fused
// with a set one frame behind, as when the fast-forward keeps up. Tests of
// what the fast-forward computes call it after every frame: the stream then
// goes at the fast-forward's pace, not the clock's, which one busy core
// cannot keep up with. 10 s bounds a hang: a catch-up is a few tracker steps.
func waitCaughtUp(t *testing.T, e *Engine, f uint64) {
	t.Helper()
	if !waitUntil(10*time.Second, func() bool { _, at, n := e.cloudSet(); return n == 0 || at >= f }) {
		origin, at, n := e.cloudSet()
		t.Fatalf("frame %d: the cloud set (%d boxes from frame %d) stayed at frame %d for 10 s (stats %+v)", f, n, origin, at, e.Stats())
	}
}

func countSource(ds []detection.Detection, s detection.Source) int {
	n := 0
	for _, d := range ds {
		if d.Source == s {
			n++
		}
	}
	return n
}

// meanBestIoU is the mean over boxes of their best IoU with any truth box.
func meanBestIoU(ds, truth []detection.Detection) float64 {
	if len(ds) == 0 {
		return 0
	}
	var sum float64
	for _, d := range ds {
		best := float32(0)
		for _, g := range truth {
			best = max(best, detection.IoU(d.Box, g.Box))
		}
		sum += float64(best)
	}
	return sum / float64(len(ds))
}

func TestLateRepliesFastForwardedAndFused(t *testing.T) {
	t.Run("tracked", func(t *testing.T) { testLateReplies(t, 0) })
	// With anchoring, the reply's boxes that the live tracks explain ride
	// along them: the live boxes here are the truth with track ids.
	t.Run("anchored", func(t *testing.T) { testLateReplies(t, 0.5) })
}

func testLateReplies(t *testing.T, anchorIoU float32) {
	c := loadClip(t)
	s := startNATS(t)
	// Each reply is held until the stream is lateBy frames past its frame
	// (about what 150 ms at 15 fps gave on an idle machine), counted in
	// frames so that it is as late at any machine speed.
	const lateBy, frames = 3, 48
	var processed atomic.Uint64
	startWorker(t, s.ClientURL(), func(req *wire.Request) []byte {
		// A minute bounds a test that stopped early, nothing more.
		waitUntil(time.Minute, func() bool { return processed.Load() > req.Frame+lateBy })
		return okReply(t, req, c.truth(req.Frame))
	})
	// A loaded machine may take seconds for lateBy frames: no timeouts.
	e := newEngine(t, s.ClientURL(), func(cfg *Config) { cfg.Timeout = time.Minute; cfg.AnchorIoU = anchorIoU })
	interval := uint64(e.Config().Interval)
	out := make([][]detection.Detection, 0, frames)
	for f := uint64(0); f < frames; f++ {
		var live []detection.Detection
		if anchorIoU > 0 {
			// Every other person, so that some boxes ride tracks and the
			// rest are tracked.
			for i, d := range c.truth(f) {
				if i%2 == 0 {
					d.Source, d.TrackID, d.Score = detection.SourceTracked, i+1, 0.5
					live = append(live, d)
				}
			}
		}
		out = append(out, e.Process(&c.frames[c.index(f)], f, wire.NoPTS, live, nil))
		processed.Store(f + 1)
		if f%interval == lateBy {
			// The worker answers frame o now: wait for its boxes to reach
			// the fast-forward (10 s bounds a hang, as in waitCaughtUp).
			o := f - lateBy
			if !waitUntil(10*time.Second, func() bool { origin, _, n := e.cloudSet(); return n > 0 && origin == o }) {
				t.Fatalf("frame %d: the reply for frame %d was not followed within 10 s (stats %+v)", f, o, e.Stats())
			}
		}
		// Measure where the fast-forward puts the boxes, not whether it wins
		// a race with the clock.
		waitCaughtUp(t, e, f)
	}

	st := e.Stats()
	t.Logf("stats: offloaded %d, replies %d, mean RTT %v, ff steps %d, anchored %d, stale %d", st.Offloaded, st.RepliesOK, st.MeanRTT, st.FFStepped, st.FFAnchored, st.StaleSets)
	if anchored := st.FFAnchored > 0; anchored != (anchorIoU > 0) {
		t.Errorf("%d reply boxes anchored to live tracks with AnchorIoU %v", st.FFAnchored, anchorIoU)
	}
	if st.RepliesOK < 3 {
		t.Fatalf("got %d replies for 6 offloaded frames", st.RepliesOK)
	}
	if st.Cloud != CloudUp {
		t.Errorf("cloud state %v, want up", st.Cloud)
	}
	if n := countSource(out[0], detection.SourceCloud); n != 0 {
		t.Errorf("frame 0 has %d cloud boxes before any reply", n)
	}
	// Once replies flow, cloud boxes are on nearly every frame, and they sit
	// on the present frame's people, not where they were when the frame left.
	withCloud, ious := 0, 0.0
	for f := 16; f < 48; f++ {
		if n := countSource(out[f], detection.SourceCloud); n > 0 {
			withCloud++
			ious += meanBestIoU(out[f], c.truth(uint64(f)))
		}
	}
	if withCloud < 16 {
		t.Errorf("cloud boxes on %d of frames 16..47, want ≥ 16", withCloud)
	}
	if m := ious / float64(max(withCloud, 1)); m < 0.6 {
		t.Errorf("cloud boxes match the present frame's truth at mean IoU %.2f, want ≥ 0.6", m)
	} else {
		t.Logf("cloud boxes on %d/32 frames, mean best IoU with the present truth %.2f", withCloud, m)
	}
	for _, d := range out[40] {
		// A cloud box fused with a live box keeps the live track's id.
		if d.TrackID < detection.CloudTrackIDBase && (anchorIoU == 0 || d.TrackID == 0) {
			t.Errorf("cloud box with track id %d, want ≥ %d", d.TrackID, detection.CloudTrackIDBase)
		}
	}
}

// TestSlowCloudNeverDelaysFrames: a cloud that holds every request until
// all frames have been processed (slower than any timeout the stream sees)
// must not hold Process back. The test ties nothing to wall-clock speed: had
// Process waited for a reply it could only go on at the request timeout (ten
// minutes here), so the generous bound on the loop (two minutes for 90
// frames that take about one second) fails it on any machine.
func TestSlowCloudNeverDelaysFrames(t *testing.T) {
	c := loadClip(t)
	s := startNATS(t)
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	w := startWorker(t, s.ClientURL(), func(req *wire.Request) []byte {
		<-release
		return okReply(t, req, c.truth(req.Frame))
	})
	t.Cleanup(releaseOnce) // registered after the worker's: runs before it closes
	e := newEngine(t, s.ClientURL(), func(cfg *Config) {
		cfg.Interval = 4
		cfg.MaxInflight = 2
		cfg.Timeout = 10 * time.Minute
	})
	var worst, total time.Duration
	worstAt := 0
	const n = 90
	done := make(chan struct{})
	go func() {
		defer close(done)
		for f := uint64(0); f < n; f++ {
			t0 := time.Now()
			e.Process(&c.frames[c.index(f)], f, wire.NoPTS, nil, nil)
			d := time.Since(t0)
			if d > worst {
				worst, worstAt = d, int(f)
			}
			total += d
			time.Sleep(5 * time.Millisecond) // a frame period, so requests go out between frames
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		releaseOnce()
		<-done
		t.Fatalf("%d frames took over 2 minutes while the cloud held its requests: Process waits for the cloud", n)
	}
	st := e.Stats()
	t.Logf("cloud holding every request: per-frame Process mean %v, worst %v (frame %d); offloaded %d, skipped (in-flight full) %d; worker asked %d times",
		total/n, worst, worstAt, st.Offloaded, st.SkippedFull, w.requests.Load())
	if st.Offloaded == 0 {
		t.Error("nothing was offloaded: the test did not exercise a waiting cloud")
	}
	if st.SkippedFull == 0 {
		t.Error("with 2 requests held in flight and one due every 4 frames, some offloads must be skipped")
	}
}

func TestBadRepliesIgnoredAndCounted(t *testing.T) {
	c := loadClip(t)
	s := startNATS(t)
	var n atomic.Int64
	startWorker(t, s.ClientURL(), func(req *wire.Request) []byte {
		good := okReply(t, req, c.truth(req.Frame))
		switch n.Add(1) {
		case 1: // garbage
			return []byte("hello, this is not a reply")
		case 2: // truncated
			return good[:len(good)-5]
		case 3: // another protocol version
			bad := append([]byte(nil), good...)
			binary.LittleEndian.PutUint16(bad[4:], 99)
			return bad
		case 4: // a frame that was not asked for
			r := *req
			r.Frame += 1000
			return okReply(t, &r, nil)
		case 5: // a box far outside the frame
			r := *req
			r.Width, r.Height = 4*req.Width, 4*req.Height
			return okReply(t, &r, []detection.Detection{{Box: detection.Rect{X1: 5000, Y1: 3000, X2: 5100, Y2: 3200}, Score: 0.9}})
		case 6: // too many boxes
			many := make([]detection.Detection, wire.DefaultMaxBoxes+1)
			for i := range many {
				many[i] = detection.Detection{Box: detection.Rect{X1: 1, Y1: 1, X2: 10, Y2: 10}, Score: 0.5}
			}
			lim := wire.DefaultLimits()
			lim.MaxBoxes = len(many)
			boxes, _ := wire.AppendBoxes(nil, many)
			rep := wire.Reply{StreamID: req.StreamID, Frame: req.Frame, Boxes: boxes}
			out, err := wire.AppendReply(nil, &rep, lim, req.Width, req.Height)
			if err != nil {
				t.Error(err)
			}
			return out
		case 7: // a worker-side error
			rep := wire.ErrorReply(req, fmt.Errorf("model exploded"))
			out, _ := wire.AppendReply(nil, &rep, wire.DefaultLimits(), req.Width, req.Height)
			return out
		}
		return good
	})
	e := newEngine(t, s.ClientURL(), func(cfg *Config) { cfg.Interval = 2; cfg.MaxInflight = 1; cfg.DownAfter = 100 })
	local := func(f uint64) []detection.Detection {
		return []detection.Detection{{Box: detection.Rect{X1: 10, Y1: 10, X2: 50, Y2: 90}, Score: 0.6, TrackID: 7, Source: detection.SourceTracked}}
	}
	out, _ := play(e, c, 0, 24, 30, local)
	// With one request in flight, the 9th is sent only once the 8 replies
	// before it have been counted. 30 s bounds a hang, not the speed.
	deadline := time.Now().Add(30 * time.Second)
	for n.Load() < 9 && time.Now().Before(deadline) {
		play(e, c, 24, 2, 30, local)
	}
	if n.Load() < 9 {
		t.Fatalf("the worker got %d requests in 30 s, want 9", n.Load())
	}
	st := e.Stats()
	t.Logf("malformed %d, wrong version %d, unknown frame %d, oversized %d, worker errors %d, ok %d",
		st.Malformed, st.WrongVersion, st.UnknownFrame, st.Oversized, st.WorkerErrors, st.RepliesOK)
	if st.Malformed != 3 || st.WrongVersion != 1 || st.UnknownFrame != 1 || st.Oversized != 1 || st.WorkerErrors != 1 {
		t.Errorf("counters: malformed %d (want 3: garbage, truncated, box outside), wrong version %d (1), unknown frame %d (1), oversized %d (1), worker errors %d (1)",
			st.Malformed, st.WrongVersion, st.UnknownFrame, st.Oversized, st.WorkerErrors)
	}
	if st.LastWorkerCode != wire.CodeInternal {
		t.Errorf("last worker code %v, want %v", st.LastWorkerCode, wire.CodeInternal)
	}
	// Nothing from a bad reply reaches the output: the local box passes alone
	// until the first good reply.
	for f := range 14 {
		if len(out[f]) != 1 || out[f][0].TrackID != 7 {
			t.Fatalf("frame %d: output %v, want the local box alone", f, out[f])
		}
	}
}

func TestCloudDownThenUp(t *testing.T) {
	c := loadClip(t)
	s := startNATS(t)
	e := newEngine(t, s.ClientURL(), func(cfg *Config) { cfg.Interval = 2; cfg.DownAfter = 2 })
	play(e, c, 0, 10, 60, nil)
	ev := waitEvent(t, e, EventCloudDown, 30*time.Second) // one request's answer; 30 s bounds a hang
	t.Logf("no worker: %s", ev.Reason)
	if st := e.Stats(); st.Cloud != CloudDown || st.NoResponders == 0 {
		t.Errorf("state %v with %d no-responders, want down", st.Cloud, st.NoResponders)
	}
	startWorker(t, s.ClientURL(), func(req *wire.Request) []byte { return okReply(t, req, c.truth(req.Frame)) })
	// Frames go at the fast-forward's pace: at 30 fps by the clock, one busy
	// core never tracked a set to within MaxLag before the next reply
	// restarted it, and every set was left out as stale.
	for f := uint64(10); f < 300; f++ {
		out, _ := play(e, c, f, 1, 30, nil)
		if countSource(out[0], detection.SourceCloud) > 0 {
			waitEvent(t, e, EventCloudUp, 10*time.Second) // sent before the reply's boxes were followed
			return
		}
		waitCaughtUp(t, e, f)
	}
	t.Error("no cloud boxes within 290 frames after the worker came")
}

func TestNATSRestart(t *testing.T) {
	c := loadClip(t)
	s := startNATS(t)
	reply := func(req *wire.Request) []byte { return okReply(t, req, c.truth(req.Frame)) }
	startWorker(t, s.ClientURL(), reply)
	e := newEngine(t, s.ClientURL(), func(cfg *Config) { cfg.Interval = 4 })
	play(e, c, 0, 20, 60, nil)
	// The bounds below only catch a hang: each wait ends at its event, which
	// takes milliseconds idle (a reply; the dropped connection; a reconnect
	// every ReconnectWait) and was once bounded at 2, 5 and 10 s, too close
	// to a first reply or a reconnect on one busy core.
	waitEvent(t, e, EventCloudUp, 30*time.Second)

	s.Shutdown()
	frames := uint64(20)
	deadline := time.Now().Add(30 * time.Second)
	for e.Stats().Cloud != CloudDown && time.Now().Before(deadline) {
		play(e, c, frames, 4, 60, nil)
		frames += 4
	}
	if st := e.Stats(); st.Cloud != CloudDown {
		t.Fatalf("cloud %v after the NATS server stopped, want down", st.Cloud)
	}
	t.Logf("down: %s", e.Stats().CloudReason)
	out, _ := play(e, c, frames, 20, 60, nil)
	frames += 20
	if len(out) != 20 {
		t.Fatal("frames lost while NATS was down")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	before := e.Stats().RepliesOK
	deadline = time.Now().Add(time.Minute)
	for e.Stats().RepliesOK == before && time.Now().Before(deadline) {
		play(e, c, frames, 8, 60, nil)
		frames += 8
	}
	if st := e.Stats(); st.Cloud != CloudUp {
		t.Errorf("cloud %v after NATS came back, want up (skipped while disconnected: %d)", st.Cloud, st.SkippedDisconnected)
	}
}

func waitEvent(t *testing.T, e *Engine, kind EventKind, timeout time.Duration) Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-e.Events():
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v event within %v (stats %+v)", kind, timeout, e.Stats())
		}
	}
}

func TestSceneChangeTrigger(t *testing.T) {
	c := loadClip(t)
	s := startNATS(t)
	startWorker(t, s.ClientURL(), func(req *wire.Request) []byte { return okReply(t, req, nil) })
	e := newEngine(t, s.ClientURL(), func(cfg *Config) {
		cfg.Interval = 0
		cfg.ChangeThreshold = DefaultChangeThreshold
		cfg.ChangeMinGap = 2
	})
	// The crowd walking: only the first frame goes.
	play(e, c, 0, 14, 60, nil)
	eventually(func() bool { return e.Stats().Offloaded >= 1 })
	if st := e.Stats(); st.Offloaded != 1 || st.SceneChanges != 0 {
		t.Fatalf("static camera: %d offloaded, %d scene changes; want 1 and 0", st.Offloaded, st.SceneChanges)
	}
	// A cut to another scene (the same frame upside down, same size) goes at once.
	flip := frame.Alloc(frame.I420, c.frames[0].Width, c.frames[0].Height)
	src := &c.frames[0]
	for p := range 3 {
		w, h := src.Width, src.Height
		if p > 0 {
			w, h = (w+1)/2, (h+1)/2
		}
		for r := range h {
			copy(flip.Data[flip.Offset[p]+r*flip.Stride[p]:][:w], src.Data[src.Offset[p]+(h-1-r)*src.Stride[p]:])
		}
	}
	e.Process(&flip, 14, wire.NoPTS, nil, nil)
	eventually(func() bool { return e.Stats().Offloaded >= 2 })
	if st := e.Stats(); st.SceneChanges != 1 || st.Offloaded != 2 {
		t.Errorf("after a cut: %d scene changes, %d offloaded; want 1 and 2", st.SceneChanges, st.Offloaded)
	}
}

// eventually waits up to 30 s for cond: encoding and replies run on other
// goroutines. It returns once cond holds (milliseconds idle); the bound,
// once 3 s, is only a hang guard, as a JPEG encode of a 1080p frame and a
// round trip on one busy core may take a good part of a second.
func eventually(cond func() bool) {
	for i := 0; i < 1500 && !cond(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRingBoundedByBytes(t *testing.T) {
	c := loadClip(t)
	s := startNATS(t)
	e := newEngine(t, s.ClientURL(), func(cfg *Config) { cfg.RingFrames = 60; cfg.RingBytes = 4 << 20 })
	e.Process(&c.frames[0], 0, wire.NoPTS, nil, nil)
	// 1920x1080 tracks at scale 4 (480x270): ~173 KB per pyramid.
	if n := e.Stats().RingFrames; n != 24 {
		t.Errorf("ring holds %d frames under 4 MiB at 480x270, want 24", n)
	}
}

func TestReplyBeyondRingDropped(t *testing.T) {
	c := loadClip(t)
	s := startNATS(t)
	// The reply for frame 0 waits until frame 4 has taken its slot in the
	// 4-frame ring, whatever the machine's speed.
	ringMoved := make(chan struct{})
	startWorker(t, s.ClientURL(), func(req *wire.Request) []byte {
		<-ringMoved
		return okReply(t, req, c.truth(req.Frame))
	})
	e := newEngine(t, s.ClientURL(), func(cfg *Config) {
		cfg.Interval = 1000
		cfg.RingFrames = 4
		cfg.MaxInflight = 1
		cfg.Timeout = time.Minute // the held request must not time out on a loaded machine
	})
	out, _ := play(e, c, 0, 6, 60, nil)
	close(ringMoved)
	for f := uint64(6); e.Stats().RepliesOK == 0 && f < 400; f++ {
		o, _ := play(e, c, f, 1, 60, nil)
		out = append(out, o...)
	}
	eventually(func() bool { return e.Stats().LateBeyondRing > 0 })
	st := e.Stats()
	if st.RepliesOK != 1 || st.LateBeyondRing != 1 {
		t.Errorf("replies %d, late beyond ring %d; want 1 and 1", st.RepliesOK, st.LateBeyondRing)
	}
	for f, o := range out {
		if len(o) != 0 {
			t.Fatalf("frame %d has boxes from a reply older than the ring", f)
		}
	}
}

// A second responder outside the worker queue group (a misconfigured worker, a
// replayed message) answers every request again: the engine takes each
// request's first reply only, counts nothing as bad, and never shows a cloud
// box twice. Today nats.go's request mux does the dropping (it forgets a
// request at its first reply); this guards that choice of transport, so a
// move to per-request inboxes or a shared reply subscription must keep it.
func TestDuplicateRepliesIgnored(t *testing.T) {
	c := loadClip(t)
	s := startNATS(t)
	w := startWorker(t, s.ClientURL(), func(req *wire.Request) []byte { return okReply(t, req, c.truth(req.Frame)) })
	nc := natsservertest.Connect(t, s.ClientURL())
	var dups atomic.Int64
	if _, err := nc.Subscribe(wire.DefaultRequestSubject, func(m *nats.Msg) {
		req, err := wire.DecodeRequest(m.Data, wire.DefaultLimits())
		if err != nil {
			t.Errorf("duplicate responder got a bad request: %v", err)
			return
		}
		// Answer after the worker has, twice.
		time.Sleep(20 * time.Millisecond)
		rep := okReply(t, &req, c.truth(req.Frame))
		m.Respond(rep)
		m.Respond(rep)
		dups.Add(2)
	}); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	e := newEngine(t, s.ClientURL(), func(cfg *Config) { cfg.Interval = 4; cfg.MaxInflight = 2 })
	out, _ := play(e, c, 0, 60, 30, nil)
	// Idle, the 60 frames bring ~15 requests and so 30 duplicates; more
	// frames are played only where a busy core answered fewer than 4. 30 s
	// bounds a hang.
	deadline := time.Now().Add(30 * time.Second)
	for dups.Load() < 8 && time.Now().Before(deadline) {
		more, _ := play(e, c, uint64(len(out)), 4, 30, nil)
		out = append(out, more...)
	}
	time.Sleep(100 * time.Millisecond)
	st := e.Stats()
	t.Logf("requests %d, worker answered %d, duplicates sent %d, replies taken %d", st.Offloaded, w.requests.Load(), dups.Load(), st.RepliesOK)
	if dups.Load() < 8 {
		t.Fatalf("the duplicate responder sent only %d replies", dups.Load())
	}
	if st.RepliesOK == 0 || st.RepliesOK > st.Offloaded {
		t.Errorf("%d replies taken for %d requests, want 1..%d", st.RepliesOK, st.Offloaded, st.Offloaded)
	}
	if st.Malformed+st.UnknownFrame+st.WrongVersion+st.WorkerErrors != 0 {
		t.Errorf("duplicates counted as bad replies: %+v", st)
	}
	for f, ds := range out {
		seen := map[int]bool{}
		for _, d := range ds {
			if d.Source != detection.SourceCloud {
				continue
			}
			if seen[d.TrackID] {
				t.Fatalf("frame %d: cloud track %d twice", f, d.TrackID)
			}
			seen[d.TrackID] = true
		}
	}
}

func TestConfigValidation(t *testing.T) {
	s := startNATS(t)
	nc := natsservertest.Connect(t, s.ClientURL())
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.StreamID = "cam 1" }, "StreamID"},
		{func(c *Config) { c.Subject = "react.*" }, "Subject"},
		{func(c *Config) { c.MaxInflight = 0 }, "MaxInflight"},
		{func(c *Config) { c.RingFrames = 1 }, "RingFrames"},
		{func(c *Config) { c.Fusion.Decay = 2 }, "ecay"},
	} {
		cfg := DefaultConfig()
		tc.mod(&cfg)
		_, err := New(cfg, nc, nil)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("want an error naming %s, got %v", tc.want, err)
		}
	}
}

// BenchmarkProcess is the streaming thread's cost per frame at 1080p I420
// with a cloud set of the clip's people being fused (the fast-forward runs
// beside it, as in the element).
func BenchmarkProcess(b *testing.B) {
	c := loadClip(b)
	s := startNATS(b)
	startWorker(b, s.ClientURL(), func(req *wire.Request) []byte { return okReply(b, req, c.truth(req.Frame)) })
	e := newEngine(b, s.ClientURL(), func(cfg *Config) { cfg.Interval = 30 })
	local := c.truth(0)
	var dst []detection.Detection
	// Warm up past the ring's size, so every slot's pyramid is allocated.
	const warm = DefaultRingFrames + 30
	for f := uint64(0); f < warm; f++ {
		dst = e.Process(&c.frames[c.index(f)], f, wire.NoPTS, local, dst[:0])
		time.Sleep(5 * time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := uint64(warm + i)
		dst = e.Process(&c.frames[c.index(f)], f, wire.NoPTS, local, dst[:0])
	}
}
