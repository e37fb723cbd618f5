package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/fusion"
	"github.com/gst-react/gst-react/internal/fusion/fusiontest"
)

// fusionSection (5): Fuser.Fuse for 10, 50 and 200 boxes a side, a fresh
// reply every 10th frame.
func (e *env) fusionSection(ctx context.Context) error {
	for _, n := range []int{10, 50, 200} {
		if err := ctx.Err(); err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		local, cloud := fusiontest.Scene(rng, n*5/4)
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
