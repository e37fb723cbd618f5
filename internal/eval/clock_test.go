package eval_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/eval"
	"github.com/gst-react/gst-react/internal/mot"
	"github.com/gst-react/gst-react/internal/tracker"
)

func TestDelayFrames(t *testing.T) {
	for _, c := range []struct {
		lat  time.Duration
		fps  float64
		want int
	}{
		{0, 30, 0},
		{300 * time.Millisecond, 30, 9}, // exactly 9 frames: no rounding up to 10
		{time.Second, 30, 30},
		{10 * time.Millisecond, 30, 1}, // a third of a frame still waits for the next one
		{34 * time.Millisecond, 30, 2},
		{100 * time.Millisecond, 25, 3}, // 2.5 frames
		{time.Second, 29.97, 30},
		{300 * time.Millisecond, 0, 0},
	} {
		if got := eval.DelayFrames(c.lat, c.fps); got != c.want {
			t.Errorf("DelayFrames(%v, %g) = %d, want %d", c.lat, c.fps, got, c.want)
		}
	}
}

func TestPingPong(t *testing.T) {
	got := eval.PingPong(4, 12)
	want := []int{0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1}
	if !equalInts(got, want) {
		t.Fatalf("PingPong(4, 12) = %v, want %v", got, want)
	}
	if got := eval.PingPong(5, 3); !equalInts(got, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("a sequence longer than --loop plays once, whole: %v", got)
	}
	if got := eval.PingPong(3, 0); !equalInts(got, []int{0, 1, 2}) {
		t.Fatalf("--loop 0 plays once: %v", got)
	}
	if got := eval.PingPong(1, 3); !equalInts(got, []int{0, 0, 0}) {
		t.Fatalf("one frame repeats: %v", got)
	}
	// Consecutive replayed frames are always neighbours: motion stays continuous.
	o := eval.PingPong(8, 300)
	for i := 1; i < len(o); i++ {
		if d := o[i] - o[i-1]; d != 1 && d != -1 {
			t.Fatalf("frames %d and %d show source frames %d and %d", i-1, i, o[i-1], o[i])
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// synthetic is n frames of one static random texture (so the fast-forward
// tracker keeps every box) at 1920x1080 tracked at 480x270, where source frame
// s's cloud reply holds one box whose score encodes s.
func synthetic(t *testing.T, n int) *eval.Prepared {
	t.Helper()
	g := tracker.Gray{W: 480, H: 270, Pix: make([]uint8, 480*270)}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range g.Pix {
		g.Pix[i] = uint8(rng.IntN(256))
	}
	var pyr tracker.Pyramid
	pyr.SetGray(&g, 4, eval.PyramidLevels)
	p := &eval.Prepared{
		Seq:   &eval.Sequence{Name: "synthetic", FPS: 30, GT: &mot.GroundTruth{Frames: map[int][]mot.GTBox{}}},
		Width: 1920, Height: 1080, Scale: 4, Levels: eval.PyramidLevels,
		Pyr: make([]tracker.Pyramid, n), Edge: make([][]detection.Detection, n), Cloud: make([][]detection.Detection, n),
	}
	for s := range n {
		p.Seq.Frames = append(p.Seq.Frames, eval.SourceFrame{Number: s + 1})
		p.Pyr[s] = pyr // shares the pixels: replays only read pyramids
		p.Cloud[s] = []detection.Detection{{Box: detection.Rect{X1: 800, Y1: 300, X2: 1000, Y2: 700}, Score: originScore(s)}}
		p.Edge[s] = []detection.Detection{{Box: detection.Rect{X1: 200, Y1: 300, X2: 400, Y2: 700}, Score: 0.5}}
	}
	return p
}

func originScore(s int) float32 { return 0.25 + float32(s)/512 }

func identity(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

// TestCloudClock checks the simulated clock: the reply for frame t is used
// first on frame t+ceil(latency×fps), carried on every later frame until the
// next reply replaces it, and marked fresh exactly on its first frame.
func TestCloudClock(t *testing.T) {
	const n = 130
	p := synthetic(t, n)
	order := identity(n)
	for _, m := range []int{1, 10, 30, 45} {
		for _, lat := range []time.Duration{0, 300 * time.Millisecond, 1000 * time.Millisecond} {
			for _, inflight := range []int{0, 2} {
				delay := eval.DelayFrames(lat, p.Seq.FPS)
				cfg := eval.DefaultCloudConfig()
				cfg.MaxInflight = inflight
				cs, err := eval.CloudStream(context.Background(), p, order, nil, m, delay, cfg)
				if err != nil {
					t.Fatal(err)
				}
				// The expected schedule.
				var sent []int
				pending := []int{}
				deliveredAt := map[int]int{} // frame -> origin delivered then
				for j := range n {
					for len(pending) > 0 && pending[0]+delay <= j {
						deliveredAt[j] = pending[0]
						pending = pending[1:]
					}
					if j%m == 0 {
						if inflight == 0 || len(pending) < inflight {
							pending = append(pending, j)
							sent = append(sent, j)
						}
					}
					if len(pending) > 0 && pending[0]+delay <= j {
						deliveredAt[j] = pending[0]
						pending = pending[1:]
					}
				}
				if cs.Sent != len(sent) {
					t.Fatalf("m=%d delay=%d inflight=%d: sent %d, want %d", m, delay, inflight, cs.Sent, len(sent))
				}
				cur := -1
				for j := range n {
					if o, ok := deliveredAt[j]; ok {
						cur = o
					}
					if cs.Origin[j] != cur {
						t.Fatalf("m=%d delay=%d inflight=%d: frame %d carries the reply for frame %d, want %d", m, delay, inflight, j, cs.Origin[j], cur)
					}
					_, fresh := deliveredAt[j]
					if cs.Fresh[j] != fresh {
						t.Fatalf("m=%d delay=%d: frame %d fresh=%v, want %v", m, delay, j, cs.Fresh[j], fresh)
					}
					if cur < 0 {
						if len(cs.Sets[j]) != 0 {
							t.Fatalf("m=%d delay=%d: frame %d has cloud boxes before any reply", m, delay, j)
						}
						continue
					}
					if len(cs.Sets[j]) != 1 || cs.Sets[j][0].Score != originScore(cur) || cs.Sets[j][0].Source != detection.SourceCloud {
						t.Fatalf("m=%d delay=%d: frame %d set %+v, want the box of frame %d", m, delay, j, cs.Sets[j], cur)
					}
				}
				// Stated the other way round: the reply for t is first used on t+delay.
				for _, s := range sent {
					first := -1
					for j := range n {
						if cs.Origin[j] == s {
							first = j
							break
						}
					}
					if s+delay < n && first != s+delay {
						t.Fatalf("m=%d latency=%v: reply for frame %d first used on frame %d, want %d", m, lat, s, first, s+delay)
					}
				}
			}
		}
	}
}

func TestCloudRingAndAge(t *testing.T) {
	const n = 130
	p := synthetic(t, n)
	order := identity(n)
	cfg := eval.DefaultCloudConfig()
	cfg.MaxInflight = 0
	// A reply later than the ring (60 frames) is dropped, as by the engine.
	cs, err := eval.CloudStream(context.Background(), p, order, nil, 10, 70, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Dropped != 6 { // replies for frames 0..50 arrive at 70..120
		t.Fatalf("dropped %d replies, want 6", cs.Dropped)
	}
	for j := range n {
		if len(cs.Sets[j]) != 0 {
			t.Fatalf("frame %d has cloud boxes from a reply beyond the ring", j)
		}
	}
	// MaxCloudAge stops following a reply that many frames after its frame.
	cfg.MaxCloudAge = 50
	cs, err = eval.CloudStream(context.Background(), p, order, nil, 100, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for j := range n {
		want := j <= 50 || j >= 100
		if got := len(cs.Sets[j]) > 0; got != want {
			t.Fatalf("frame %d: boxes %v, want %v (reply at 0 and 100, max age 50)", j, got, want)
		}
	}
}

// TestEdgeStream checks the edge path re-seeds on frames ≡ 0 mod k only.
func TestEdgeStream(t *testing.T) {
	const n = 40
	p := synthetic(t, n)
	for _, k := range []int{1, 5, 7} {
		s, err := eval.EdgeStream(context.Background(), p, identity(n), k, tracker.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		for i, ds := range s {
			if len(ds) != 1 {
				t.Fatalf("k=%d frame %d: %d boxes, want the one tracked box", k, i, len(ds))
			}
			want := detection.SourceTracked
			if i%k == 0 {
				want = detection.SourceEdge
			}
			if ds[0].Source != want || ds[0].Age != i%k {
				t.Fatalf("k=%d frame %d: source %v age %d, want %v age %d", k, i, ds[0].Source, ds[0].Age, want, i%k)
			}
		}
	}
}
