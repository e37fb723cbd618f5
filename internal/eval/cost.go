package eval

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/gst-react/gst-react/internal/offload"
)

// Cost is what one configuration spends, per second of video (replayed
// frames at the sequence's frame rate).
type Cost struct {
	// EdgeDetectPerS: edge detector runs made in the replay per second,
	// counted alike for every policy (fixed: frames 0, k, 2k, ..., so a
	// short clip's frame 0 shows: 64 runs in 319 frames at k=5 and 30 fps
	// is 6.02/s, not fps/k = 6), so rows compare at equal spend.
	EdgeDetectPerS float64 `json:"edge_detect_per_s"`
	// CloudRequestsPerS: requests sent to the cloud, every m-th frame and
	// scene changes, less the frames skipped while MaxInflight requests
	// were outstanding.
	CloudRequestsPerS float64 `json:"cloud_requests_per_s"`
	// UplinkKbps: the requests' bytes in kilobits (1000 bits) per second,
	// measured by encoding each sent frame with reactcloud's own encoder and
	// wire format (offload.RequestEncoder).
	UplinkKbps float64 `json:"uplink_kbps"`
	// SceneChangeRequests counts the requests sent because the scene changed
	// (part of CloudRequestsPerS).
	SceneChangeRequests int `json:"scene_change_requests"`
}

// uplinkKey identifies the encoder settings request sizes depend on.
type uplinkKey struct {
	quality, maxWidth int
	fullRange         bool
	streamID          string
}

// requestSizes holds the bytes of each source frame's request per encoder
// setting, measured once per Prepared.
type requestSizes struct {
	mu    sync.Mutex
	bytes map[uplinkKey]map[int]int
}

// RequestBytes returns, for each source frame in srcs, the size of the
// request reactcloud would publish for it with cfg's JPEG settings. Frames
// are decoded again and encoded in parallel (jobs; 0 = GOMAXPROCS); sizes
// are remembered for the next call.
func (p *Prepared) RequestBytes(ctx context.Context, srcs []int, cfg offload.Config, jobs int) (map[int]int, error) {
	key := uplinkKey{cfg.JPEGQuality, cfg.JPEGMaxWidth, cfg.FullRangeYUV, cfg.StreamID}
	p.requests.mu.Lock()
	if p.requests.bytes == nil {
		p.requests.bytes = map[uplinkKey]map[int]int{}
	}
	known := p.requests.bytes[key]
	if known == nil {
		known = map[int]int{}
		p.requests.bytes[key] = known
	}
	var todo []int
	for _, s := range srcs {
		if _, ok := known[s]; !ok && !slices.Contains(todo, s) {
			todo = append(todo, s)
		}
	}
	p.requests.mu.Unlock()

	sizes := make([]int, len(todo))
	encoders := sync.Pool{New: func() any { return offload.NewRequestEncoder(cfg) }}
	err := parallel(ctx, jobs, len(todo), func(i int) error {
		path := p.Seq.Frames[todo[i]].Path
		f, err := DecodeImage(path)
		if err != nil {
			return err
		}
		enc := encoders.Get().(*offload.RequestEncoder)
		defer encoders.Put(enc)
		msg, _, err := enc.Encode(&f, uint64(todo[i]))
		if err != nil {
			return fmt.Errorf("encoding %s as reactcloud would: %w", path, err)
		}
		sizes[i] = len(msg)
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.requests.mu.Lock()
	defer p.requests.mu.Unlock()
	for i, s := range todo {
		known[s] = sizes[i]
	}
	out := make(map[int]int, len(srcs))
	for _, s := range srcs {
		out[s] = known[s]
	}
	return out, nil
}

// costOf is what one replay of order spent, the same for every policy:
// edgeRuns edge detector runs, and the requests of cs, whose sizes are in
// bytes (by source frame), per second of the replayed frames.
func costOf(p *Prepared, order []int, edgeRuns int, cs *CloudSets, bytes map[int]int) Cost {
	seconds := float64(len(order)) / p.Seq.FPS
	if !(seconds > 0) {
		return Cost{}
	}
	total := 0
	for _, j := range cs.SentFrames {
		total += bytes[order[j]]
	}
	return Cost{
		EdgeDetectPerS:      round3(float64(edgeRuns) / seconds),
		CloudRequestsPerS:   round3(float64(len(cs.SentFrames)) / seconds),
		UplinkKbps:          round3(float64(total) * 8 / 1000 / seconds),
		SceneChangeRequests: cs.SceneChanges,
	}
}

// uplinkConfig is the encoder whose request sizes the costs count:
// o.Uplink, or reactcloud's defaults.
func (o Options) uplinkConfig() offload.Config {
	if o.Uplink.JPEGQuality == 0 {
		return offload.DefaultConfig()
	}
	return o.Uplink
}

// round3 keeps three decimals, enough for rates and short in JSON.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// addCosts fills each result's Cost; cloudOf(i) is result i's cloud stream
// (whose send schedule does not depend on k or fusion).
func addCosts(ctx context.Context, p *Prepared, order []int, results []Result, cloudOf func(i int) *CloudSets, o Options) error {
	cfg := o.uplinkConfig()
	var srcs []int
	seen := map[*CloudSets]bool{}
	for i := range results {
		cs := cloudOf(i)
		if seen[cs] {
			continue
		}
		seen[cs] = true
		for _, j := range cs.SentFrames {
			srcs = append(srcs, order[j])
		}
	}
	slices.Sort(srcs)
	srcs = slices.Compact(srcs)
	bytes, err := p.RequestBytes(ctx, srcs, cfg, o.Jobs)
	if err != nil {
		return err
	}
	for i := range results {
		results[i].Cost = costOf(p, order, EdgeRuns(len(order), results[i].K), cloudOf(i), bytes)
	}
	return nil
}
