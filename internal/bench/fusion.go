package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/fusion"
)

// fusionScene makes n objects seen by both sides with jitter, as fusion's own
// benchmark does: ~0.8n local boxes (edge or tracked) and ~0.9n cloud boxes.
func fusionScene(rng *rand.Rand, n int) (local, cloud []detection.Detection) {
	for i := range n {
		w, h := 20+rng.Float32()*150, 20+rng.Float32()*250
		x, y := rng.Float32()*(1920-w), rng.Float32()*(1080-h)
		jit := func(s float32) detection.Rect {
			return detection.Rect{X1: x + (rng.Float32()-0.5)*s*w, Y1: y + (rng.Float32()-0.5)*s*h,
				X2: x + w + (rng.Float32()-0.5)*s*w, Y2: y + h + (rng.Float32()-0.5)*s*h}
		}
		class := rng.IntN(5)
		if rng.Float32() < 0.8 {
			local = append(local, detection.Detection{Box: jit(0.3), Class: (class + rng.IntN(2)) % 5,
				Score: 0.3 + 0.6*rng.Float32(), Source: detection.Source(rng.IntN(2)), TrackID: i + 1, Age: rng.IntN(5)})
		}
		if rng.Float32() < 0.9 {
			cloud = append(cloud, detection.Detection{Box: jit(0.2), Class: class,
				Score: 0.4 + 0.6*rng.Float32(), Source: detection.SourceCloud, TrackID: 1000 + i})
		}
	}
	return local, cloud
}

// fusionSection (5): Fuser.Fuse for 10, 50 and 200 boxes a side, a fresh
// reply every 10th frame.
func (e *env) fusionSection(ctx context.Context) error {
	for _, n := range []int{10, 50, 200} {
		if err := ctx.Err(); err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		local, cloud := fusionScene(rng, n*5/4)
		local, cloud = local[:min(n, len(local))], cloud[:min(n, len(cloud))]
		f, err := fusion.NewFuser(fusion.DefaultConfig())
		if err != nil {
			return err
		}
		dst := make([]detection.Detection, 0, len(local)+len(cloud))
		for i := range 20 { // warm-up: scratch buffers grow once
			dst = f.Fuse(local, cloud, i%10 == 0, dst[:0])
		}
		calls := 0
		t0 := time.Now()
		for time.Since(t0) < e.plan.fuseTime {
			for range 16 {
				dst = f.Fuse(local, cloud, calls%10 == 0, dst[:0])
				calls++
			}
		}
		per := time.Since(t0) / time.Duration(calls)
		e.add(5, fmt.Sprintf("fusion_%d_us", n), fmt.Sprintf("fusion %d boxes a side", n), float64(per)/1e3, "µs/frame",
			fmt.Sprintf("%d local × %d cloud, %d matched, mean of %d calls", len(local), len(cloud), f.Stats().Matched, calls))
	}
	return nil
}
