package cloudworker

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/wire"
)

// BenchmarkWorkerThroughput measures how many requests per second workers
// serve over a real embedded NATS server: MOT17-04 frame 1 as the edge sends
// it (the 1920x1080 JPEG), the cloud model (yolox_nano_736x1280, or the model
// named by $GSTREACT_BENCH_MODEL), JPEG decode, inference, NMS and reply.
// Enough requests are kept in flight that no slot waits for the client.
//
//	concurrency=1  one worker, one slot using all cores
//	concurrency=2  one worker, two slots of cores/2 threads each
//	workers=2      two workers in one queue group, one slot of cores/2 threads each
//
// ns/op is wall time per request (1/throughput); req/s the throughput;
// rtt-ms the mean round trip a client saw, queueing included.
//
//	go test -run '^$' -bench WorkerThroughput -benchtime 12x ./cloudworker/
func BenchmarkWorkerThroughput(b *testing.B) {
	model := os.Getenv("GSTREACT_BENCH_MODEL")
	if model == "" {
		model = cloudModel
	}
	cores := runtime.NumCPU()
	for _, c := range []struct {
		name           string
		workers, slots int
	}{
		{"concurrency=1", 1, 1},
		{"concurrency=2", 1, 2},
		{"workers=2", 2, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			threads := 0 // all cores
			if n := c.workers * c.slots; n > 1 {
				threads = max(1, cores/n)
			}
			benchThroughput(b, model, c.workers, c.slots, threads)
		})
	}
}

func benchThroughput(b *testing.B, model string, workers, slots, threads int) {
	srv := startNATS(b)
	ws := make([]*Worker, workers)
	for i := range ws {
		ws[i] = newWorker(b, srv.ClientURL(), model, func(o *Options) {
			o.WorkerID = fmt.Sprintf("bench-%d", i)
			o.Concurrency, o.Threads = slots, threads
			o.SummaryInterval = -1
		})
	}
	nc := connect(b, srv.ClientURL())
	j := frameJPEG(b)
	msg := encode(b, ptr(request(b, j, 0, 0)))

	// Two requests per slot in flight: one running, one queued behind it,
	// so a slot never idles waiting for the next request to cross NATS.
	clients := 2 * workers * slots
	var (
		errMu    sync.Mutex
		firstErr error
	)
	failed := func() error { errMu.Lock(); defer errMu.Unlock(); return firstErr }
	var rttSum atomic.Int64
	run := func(n int64) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for next.Add(1) <= n {
					t0 := time.Now()
					m, err := nc.Request(wire.DefaultRequestSubject, msg, time.Minute)
					rttSum.Add(int64(time.Since(t0)))
					if err == nil {
						var rep wire.Reply
						if rep, err = wire.DecodeReply(m.Data, wire.Limits{}); err == nil && (rep.Status != wire.CodeOK || len(rep.Boxes) == 0) {
							err = fmt.Errorf("reply %v %q with %d boxes", rep.Status, rep.Message, len(rep.Boxes))
						}
					}
					if err != nil {
						errMu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						errMu.Unlock()
						return
					}
				}
			})
		}
		wg.Wait()
	}
	// Warm-up: every slot's first inference is slower (ORT allocates). NATS
	// picks a queue member at random, so repeat until each worker has served
	// a request per slot.
	warm := func() bool {
		for _, w := range ws {
			if w.Stats().Replies[wire.CodeOK] < uint64(slots) {
				return false
			}
		}
		return true
	}
	for range 20 {
		if run(int64(clients)); warm() || failed() != nil {
			break
		}
	}
	if err := failed(); err != nil {
		b.Fatal(err)
	}
	if !warm() {
		b.Fatal("a worker served nothing during warm-up")
	}
	rttSum.Store(0)
	before := make([]Stats, len(ws))
	for i, w := range ws {
		before[i] = w.Stats()
	}

	b.ResetTimer()
	run(int64(b.N))
	b.StopTimer()
	if err := failed(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(rttSum.Load())/float64(b.N)/1e6, "rtt-ms")
	// Worker-side means over the measured requests: JPEG decode and
	// conversion, and the detector (letterbox, model, NMS).
	var dec, inf Histogram
	for i, w := range ws {
		s := w.Stats()
		d, f := s.Decode.Sub(before[i].Decode), s.Inference.Sub(before[i].Inference)
		dec.Count, dec.Sum = dec.Count+d.Count, dec.Sum+d.Sum
		inf.Count, inf.Sum = inf.Count+f.Count, inf.Sum+f.Sum
		if len(ws) > 1 && testing.Verbose() {
			b.Logf("%s served %d of %d", w.Options().WorkerID, s.Replies[wire.CodeOK]-before[i].Replies[wire.CodeOK], b.N)
		}
	}
	b.ReportMetric(float64(dec.Mean())/1e6, "decode-ms")
	b.ReportMetric(float64(inf.Mean())/1e6, "infer-ms")
}
