package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/cloudworker"
	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/wire"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// offloadSection (6, edge side): an offload.Engine fed 1080p frames at m=30,
// with and without the scene-change trigger, on a stream that cuts between
// MOT17-04 and MOT17-02; each offload waits for its reply from the
// in-process worker, so every round trip is measured alone on loopback.
func (e *env) offloadSection(ctx context.Context) error {
	lc, err := e.localCloud(ctx)
	if err != nil {
		return err
	}
	defer e.stopLocalCloud()
	var seqs [2][]frame.Frame
	for i, name := range []string{mainSeq, otherSeq} {
		img, err := seqImages(e.assets, name)
		if err != nil {
			return err
		}
		for _, p := range img {
			f, err := loadI420(p)
			if err != nil {
				return err
			}
			seqs[i] = append(seqs[i], f)
		}
	}
	p := e.plan
	at := func(i int) *frame.Frame {
		s := seqs[(i/p.engineCut)%2]
		return &s[pingPong(i, len(s))]
	}
	nc, err := nats.Connect(lc.URL())
	if err != nil {
		return err
	}
	defer nc.Close()
	// A plain subscriber beside the worker's queue group sees the requests
	// exactly as reactcloud sends them; keep one for the worker section.
	var capMu sync.Mutex
	var captured []byte
	sub, err := nc.Subscribe(wire.DefaultRequestSubject, func(m *nats.Msg) {
		capMu.Lock()
		if captured == nil {
			captured = append([]byte(nil), m.Data...)
		}
		capMu.Unlock()
	})
	if err != nil {
		return err
	}
	var rtts []float64
	run := func(change float64) (offload.Stats, error) {
		cfg := offload.DefaultConfig()
		cfg.Interval, cfg.ChangeThreshold = pipeM, change
		// One request at a time, waited for below: the bench measures round
		// trips and must not fail them on a slow or loaded machine (the 2 s
		// default is an edge's patience, not a bound on the worker).
		cfg.Timeout = 30 * time.Second
		eng, err := offload.New(cfg, nc, discard)
		if err != nil {
			return offload.Stats{}, err
		}
		done := make(chan struct{})
		var evWG sync.WaitGroup
		var mu sync.Mutex
		evWG.Go(func() {
			for {
				select {
				case <-done:
					return
				case ev := <-eng.Events():
					if ev.Kind == offload.EventReply {
						mu.Lock()
						rtts = append(rtts, ms(ev.RTT))
						mu.Unlock()
					}
				}
			}
		})
		defer func() { close(done); evWG.Wait() }()
		defer eng.Close()
		var dst []detection.Detection
		for i := range p.engineFrames {
			if err := ctx.Err(); err != nil {
				return offload.Stats{}, err
			}
			dst = eng.Process(at(i), uint64(i), wire.NoPTS, nil, dst[:0])
			deadline := time.Now().Add(30 * time.Second)
			for eng.Stats().Inflight > 0 {
				if time.Now().After(deadline) {
					return offload.Stats{}, errors.New("no reply from the in-process worker within 30 s")
				}
				time.Sleep(time.Millisecond)
			}
		}
		st := eng.Stats()
		if st.Offloaded == 0 || st.RepliesOK != st.Offloaded {
			return st, fmt.Errorf("offloaded %d frames, %d replies ok (timeouts %d, errors %d, skipped %d)",
				st.Offloaded, st.RepliesOK, st.Timeouts, st.WorkerErrors, st.SkippedFull)
		}
		return st, nil
	}
	plain, err := run(0)
	if err != nil {
		return err
	}
	scene, err := run(offload.DefaultChangeThreshold)
	if err != nil {
		return err
	}
	sub.Unsubscribe()
	capMu.Lock()
	e.request = captured
	capMu.Unlock()
	secs := float64(p.engineFrames) / 30
	w, h := seqs[0][0].Width, seqs[0][0].Height
	stream := fmt.Sprintf("%d frames of %dx%d at 30 fps, cutting between MOT17-04 and -02 every %d", p.engineFrames, w, h, p.engineCut)
	e.add(6.5, "rtt_p50_ms", "offload round trip p50", quantile(rtts, 0.5), "ms",
		fmt.Sprintf("%d requests one at a time, loopback, engine publish → reply (JPEG ≤1280 wide; worker decode + cloud model)", len(rtts)))
	e.add(6.5, "rtt_p95_ms", "offload round trip p95", quantile(rtts, 0.95), "ms", "same requests")
	e.add(6.5, "offload_bytes_per_frame", "bytes per offloaded frame, m=30", float64(plain.SentBytes)/float64(plain.Offloaded), "bytes",
		fmt.Sprintf("no scene-change trigger; %d offloads; %s", plain.Offloaded, stream))
	e.add(6.5, "offload_bytes_per_s", "bytes per second, m=30", float64(plain.SentBytes)/secs, "bytes/s", "at 30 fps, no scene-change trigger")
	e.add(6.5, "offload_scene_bytes_per_frame", "bytes per offloaded frame, m=30 + scene", float64(scene.SentBytes)/float64(scene.Offloaded), "bytes",
		fmt.Sprintf("change-threshold %.2f; %d offloads, %d by scene change", offload.DefaultChangeThreshold, scene.Offloaded, scene.SceneChanges))
	e.add(6.5, "offload_scene_bytes_per_s", "bytes per second, m=30 + scene", float64(scene.SentBytes)/secs, "bytes/s", "at 30 fps, same stream")
	e.add(6.5, "offload_scene_vs_plain_ratio", "scene trigger / plain bytes per second", float64(scene.SentBytes)/float64(plain.SentBytes), "ratio", "")
	return nil
}

// workerSection (6, cloud side): requests per second of cloud workers on an
// embedded NATS server, fed the request reactcloud sent above. Two requests
// per slot are kept in flight, so no slot waits for the client.
func (e *env) workerSection(ctx context.Context) error {
	if e.request == nil {
		return errors.New("no request was captured from the offload engine")
	}
	req, err := wire.DecodeRequest(e.request, wire.Limits{})
	if err != nil {
		return err
	}
	req.SentAt, req.TimeoutMS = 0, 0 // replayed later: no deadline
	msg, err := wire.AppendRequest(nil, &req, wire.Limits{})
	if err != nil {
		return err
	}
	srv, err := natsserver.Start(natsserver.Options{NoLog: true})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return err
	}
	defer nc.Close()
	cores := runtime.NumCPU()
	type result struct {
		rps              float64
		decode, inferred time.Duration
	}
	measure := func(workers, slots int) (result, error) {
		threads := 0 // one slot: ONNX Runtime's default, all cores
		if n := workers * slots; n > 1 {
			threads = max(1, cores/n)
		}
		var ws []*cloudworker.Worker
		defer func() {
			for _, w := range ws {
				w.Stop()
			}
		}()
		for i := range workers {
			w, err := cloudworker.New(cloudworker.Options{
				NATSURL: srv.ClientURL(), ModelPath: e.cloud, Concurrency: slots, Threads: threads,
				WorkerID: fmt.Sprintf("bench-%d", i), SummaryInterval: -1, Logger: discard,
				ReconnectWait: 50 * time.Millisecond, DrainTimeout: 30 * time.Second,
			})
			if err != nil {
				return result{}, err
			}
			ws = append(ws, w)
			if err := w.Start(ctx); err != nil {
				return result{}, err
			}
		}
		clients := 2 * workers * slots
		var firstErr atomic.Pointer[error]
		fire := func(n int64) {
			var next atomic.Int64
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					for next.Add(1) <= n && firstErr.Load() == nil {
						m, err := nc.Request(wire.DefaultRequestSubject, msg, time.Minute)
						if err == nil {
							var rep wire.Reply
							if rep, err = wire.DecodeReply(m.Data, wire.Limits{}); err == nil && rep.Status != wire.CodeOK {
								err = fmt.Errorf("worker replied %v: %s", rep.Status, rep.Message)
							}
						}
						if err != nil {
							firstErr.CompareAndSwap(nil, &err)
						}
					}
				})
			}
			wg.Wait()
		}
		// Warm-up: each slot's first inference is slow; NATS picks queue
		// members at random, so repeat until every worker served its slots.
		warm := func() bool {
			for _, w := range ws {
				if w.Stats().Replies[wire.CodeOK] < uint64(slots) {
					return false
				}
			}
			return true
		}
		for range 20 {
			if fire(int64(clients)); warm() || firstErr.Load() != nil {
				break
			}
		}
		if p := firstErr.Load(); p != nil {
			return result{}, *p
		}
		before := make([]cloudworker.Stats, len(ws))
		for i, w := range ws {
			before[i] = w.Stats()
		}
		n := e.plan.workerReqs * workers * slots
		t0 := time.Now()
		fire(int64(n))
		el := time.Since(t0)
		if p := firstErr.Load(); p != nil {
			return result{}, *p
		}
		var r result
		var dc, ic uint64
		for i, w := range ws {
			s := w.Stats()
			d, f := s.Decode.Sub(before[i].Decode), s.Inference.Sub(before[i].Inference)
			r.decode += d.Sum
			r.inferred += f.Sum
			dc, ic = dc+d.Count, ic+f.Count
		}
		r.rps = float64(n) / el.Seconds()
		if dc > 0 && ic > 0 {
			r.decode /= time.Duration(dc)
			r.inferred /= time.Duration(ic)
		}
		return r, nil
	}
	c1, err := measure(1, 1)
	if err != nil {
		return err
	}
	c2, err := measure(1, 2)
	if err != nil {
		return err
	}
	w2, err := measure(2, 1)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("%dx%d JPEG (%d bytes) as reactcloud sends a 1080p frame; %s", req.JPEGWidth, req.JPEGHeight, len(req.JPEG), "cloud model")
	e.add(6, "worker_c1_rps", "cloud worker, 1 worker × 1 slot", c1.rps, "requests/s",
		fmt.Sprintf("%d requests, 2 in flight per slot; %s", e.plan.workerReqs, what))
	e.add(6, "worker_c2_rps", "cloud worker, concurrency 2", c2.rps, "requests/s", fmt.Sprintf("1 worker, 2 slots of %d thread(s)", max(1, cores/2)))
	e.add(6, "worker_w2_rps", "cloud worker, 2 workers in the queue group", w2.rps, "requests/s", fmt.Sprintf("2 Worker instances, 1 slot of %d thread(s) each", max(1, cores/2)))
	e.add(6, "worker_c2_vs_c1_ratio", "concurrency 2 / 1", c2.rps/c1.rps, "ratio", "")
	e.add(6, "worker_w2_vs_c1_ratio", "2 workers / 1", w2.rps/c1.rps, "ratio", "")
	e.add(6, "worker_decode_ms", "  worker JPEG decode", ms(c1.decode), "ms/request", "1 worker × 1 slot")
	e.add(6, "worker_infer_ms", "  worker detector (letterbox+model+NMS)", ms(c1.inferred), "ms/request", "1 worker × 1 slot")
	return nil
}
