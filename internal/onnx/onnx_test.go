package onnx_test

import (
	"slices"
	"testing"

	"github.com/gst-react/gst-react/internal/mallocstats"
	"github.com/gst-react/gst-react/internal/onnx"
	"github.com/gst-react/gst-react/internal/testassets"
)

func residentMB(t *testing.T) float64 {
	t.Helper()
	rss, err := mallocstats.RSS()
	if err != nil {
		t.Skip("no RSS:", err)
	}
	return float64(rss) / (1 << 20)
}

// A process that reopens a large model (a restarted in-process cloud worker)
// must not keep the closed sessions' memory. Each session holds tens of MB
// (weights, activation arenas, its threads' malloc arenas), so a missing
// release shows as hundreds of MB over 16 reopens. (The level still settles
// 20-30 MB above the first sessions' as glibc arenas fill; without giving
// freed pages back to the kernel it settles ~30 MB higher still, with spikes.)
func TestReopenedSessionsReturnTheirMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	testassets.InitORT(t)
	model := testassets.Model(t, "yolox_nano_736x1280")
	cycle := func() {
		s, err := onnx.Open(model, onnx.Options{IntraOpThreads: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Run(); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	// RSS after each cycle; the minimum over a few cycles ignores a spike
	// caught while a session's threads were still exiting.
	const warm, n = 8, 16
	var rss []float64
	var inUse []uint64
	for range warm + n {
		cycle()
		rss = append(rss, residentMB(t))
		m, _ := mallocstats.Read()
		inUse = append(inUse, m.InUse)
	}
	base, end := slices.Min(rss[warm-3:warm]), slices.Min(rss[len(rss)-4:])
	t.Logf("RSS after %d warm-up cycles %.1f MB, after %d more open/run/close cycles %.1f MB (all: %.0f)", warm, base, n, end, rss)
	if m, ok := mallocstats.Read(); ok {
		mb := func(b uint64) float64 { return float64(b) / (1 << 20) }
		t.Logf("C heap in use after %d cycles %.1f MB, after %d more %.1f MB (held %.1f MB, free in arenas %.1f MB)",
			warm, mb(inUse[warm-1]), n, mb(inUse[len(inUse)-1]), mb(m.Held), mb(m.Free))
		if grew := int64(inUse[len(inUse)-1]) - int64(inUse[warm-1]); grew > 4<<20 {
			t.Errorf("C heap in use grew %.1f MB over %d reopened sessions (limit 4 MB)", float64(grew)/(1<<20), n)
		}
	}
	if end-base > 40 {
		t.Errorf("RSS grew %.1f MB over %d reopened sessions (limit 40 MB): closed sessions keep memory", end-base, n)
	}
}

// NoSpin only lets the intra-op threads sleep between runs: the session
// computes what a spinning one does.
func TestNoSpinSessionComputesTheSame(t *testing.T) {
	testassets.InitORT(t)
	model := testassets.Model(t, "yolox_nano_416x416")
	outputs := func(opts onnx.Options) []float32 {
		s, err := onnx.Open(model, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for i := range s.Input() {
			s.Input()[i] = float32(i%251) / 251
		}
		for range 2 { // the second run starts from sleeping threads
			if err := s.Run(); err != nil {
				t.Fatal(err)
			}
		}
		return slices.Clone(s.Output())
	}
	spin := outputs(onnx.Options{IntraOpThreads: 2})
	sleep := outputs(onnx.Options{IntraOpThreads: 2, NoSpin: true})
	for i := range spin {
		if d := spin[i] - sleep[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("output %d: %v spinning, %v with NoSpin", i, spin[i], sleep[i])
		}
	}
}
