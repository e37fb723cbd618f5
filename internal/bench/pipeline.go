package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/runner"
)

// pipeSpec describes one pipeline run.
type pipeSpec struct {
	desc     string
	probes   [][2]string // element, pad
	capacity int         // buffers each probe records
	timeout  time.Duration

	// Allocation window: when the probe allocProbe (an index into probes)
	// has seen allocFrom buffers, then allocTo, read runtime.MemStats. While
	// the window is open nothing else in this process is done by the bench
	// (no bus popping, no RSS sampling), so the difference is the pipeline's.
	allocProbe          int
	allocFrom, allocTo  int
	byOwner             bool // also count the window's allocations by owner (see allocProfile)
	sampleRSS           bool
	keepElementMessages bool

	// setup, when set, runs on the built pipeline before it plays (to add
	// probes that need more than a time stamp).
	setup func(*gst.Pipeline) error
}

// pipeResult is what one run observed.
type pipeResult struct {
	times    map[string][]int64 // by "element.pad": monotonic ns per buffer
	messages map[string]map[string]interface{}
	rssPeak  float64 // MiB, VmRSS sampled every 100 ms
	rssEnd   float64 // MiB, VmRSS just before the pipeline stopped
	// Mallocs over the allocation window and the buffers it spanned.
	mallocs     uint64
	allocFrames float64
	// The same by owner (byOwner), and the buffers that window spanned
	// (it starts a little earlier: before the first profile is read).
	owners      map[string]int64
	ownerFrames float64
	sites       []allocSite // the window's allocation sites, most first
	elapsed     time.Duration
}

// runPipeline plays s.desc to EOS (or error, timeout, cancellation).
func runPipeline(ctx context.Context, s pipeSpec) (*pipeResult, error) {
	if err := runner.Init(); err != nil {
		return nil, err
	}
	p, err := gst.NewPipelineFromString(s.desc)
	if err != nil {
		return nil, fmt.Errorf("pipeline %q: %w", s.desc, err)
	}
	var probes []*probe
	defer func() {
		p.SetState(gst.StateNull)
		for _, pr := range probes {
			pr.free()
		}
	}()
	for _, ps := range s.probes {
		pr, err := addProbe(p, ps[0], ps[1], s.capacity)
		if err != nil {
			return nil, err
		}
		probes = append(probes, pr)
	}
	if s.setup != nil {
		if err := s.setup(p); err != nil {
			return nil, err
		}
	}
	res := &pipeResult{times: map[string][]int64{}, messages: map[string]map[string]interface{}{}}
	start := time.Now()
	deadline := start.Add(s.timeout)
	bus := p.GetPipelineBus()
	if err := p.SetState(gst.StatePlaying); err != nil {
		return nil, fmt.Errorf("starting %q: %w", s.desc, err)
	}
	window := s.allocTo > s.allocFrom
	var before, after runtime.MemStats
	var profBefore map[string]allocSite
	if s.byOwner {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1 // every allocation, from now on (the runtime notices at once)
		defer func() { runtime.MemProfileRate = old }()
	}
	var ownerFrom, fromSeen float64
	phase := 0 // 0: before the window, 1: inside it, 2: after
	lastRSS := time.Time{}
	types := gst.MessageEOS | gst.MessageError
	if s.keepElementMessages {
		types |= gst.MessageElement
	}
	finish := func() {
		if rss, err := readRSS(); err == nil {
			res.rssEnd = rss
			res.rssPeak = max(res.rssPeak, rss)
		}
		for _, pr := range probes {
			res.times[pr.name] = pr.times()
		}
		res.elapsed = time.Since(start)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("pipeline did not finish within %s: %s", s.timeout, s.desc)
		}
		if window && phase < 2 {
			n := probes[s.allocProbe].count()
			if phase == 0 && n >= s.allocFrom {
				a := float64(probes[s.allocProbe].count())
				if s.byOwner {
					runtime.GC() // publishes the allocation profile up to here
					profBefore = allocProfile()
				}
				runtime.ReadMemStats(&before)
				ownerFrom = a
				fromSeen = float64(probes[s.allocProbe].count())
				phase = 1
			}
			if phase == 1 {
				// Wait without touching the Go heap: a cgo counter read and a
				// sleep on this goroutine's own timer.
				for probes[s.allocProbe].count() < s.allocTo && time.Now().Before(deadline) && ctx.Err() == nil {
					time.Sleep(500 * time.Microsecond)
				}
				toSeen := float64(probes[s.allocProbe].count())
				runtime.ReadMemStats(&after)
				res.mallocs = after.Mallocs - before.Mallocs
				res.allocFrames = toSeen - fromSeen
				res.ownerFrames = toSeen - ownerFrom
				if s.byOwner {
					runtime.GC()
					res.owners, res.sites = allocDiff(profBefore, allocProfile())
				}
				phase = 2
				continue
			}
		}
		if s.sampleRSS && time.Since(lastRSS) >= 100*time.Millisecond {
			if rss, err := readRSS(); err == nil {
				res.rssPeak = max(res.rssPeak, rss)
			}
			lastRSS = time.Now()
		}
		wait := 50 * time.Millisecond
		if window && phase == 0 {
			wait = 2 * time.Millisecond
		}
		msg := bus.TimedPopFiltered(gst.ClockTime(wait), types)
		if msg == nil {
			continue
		}
		switch msg.Type() {
		case gst.MessageEOS:
			finish()
			if window && phase != 2 {
				return nil, fmt.Errorf("pipeline ended after %d buffers, before the allocation window [%d, %d] closed", probes[s.allocProbe].count(), s.allocFrom, s.allocTo)
			}
			if s.keepElementMessages {
				// Elements post their final status when they stop; READY
				// stops them and keeps the bus (NULL would flush it), so the
				// figures cover the whole run however fast it was, not just
				// up to the last periodic status.
				p.SetState(gst.StateReady)
				for m := bus.TimedPopFiltered(0, gst.MessageElement); m != nil; m = bus.TimedPopFiltered(0, gst.MessageElement) {
					if st := m.GetStructure(); st != nil {
						res.messages[st.Name()] = st.Values()
					}
				}
			}
			return res, nil
		case gst.MessageError:
			e := msg.ParseError()
			return nil, fmt.Errorf("%s: %s (%s)\n  pipeline: %s", msg.Source(), e.Error(), e.DebugString(), s.desc)
		case gst.MessageElement:
			if st := msg.GetStructure(); st != nil {
				res.messages[st.Name()] = st.Values()
			}
		}
	}
}
