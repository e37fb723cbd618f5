// Package fusiontest makes synthetic fusion inputs shared by fusion's tests
// and the bench command, so both measure the same scenes.
package fusiontest

import (
	"math/rand/v2"

	"github.com/gst-react/gst-react/internal/detection"
)

// Scene makes n objects in a 1920x1080 frame and the local and cloud views of
// them: jittered copies of most objects on each side (80 % seen locally, some
// with the neighbouring class; 90 % seen by the cloud). The same rng seed
// gives the same scene.
func Scene(rng *rand.Rand, n int) (local, cloud []detection.Detection) {
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
