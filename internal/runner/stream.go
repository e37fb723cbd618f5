package runner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/gstbridge"
	"github.com/gst-react/gst-react/internal/gstvideo"
	"github.com/gst-react/gst-react/internal/labels"
	"github.com/gst-react/gst-react/internal/launch"
	"github.com/gst-react/gst-react/internal/rtspserve"
)

// stream is one running pipeline and what is known about it.
type stream struct {
	id     string // stream id (metrics, messages)
	prefix string // "cam0: " in multi-stream status lines, "" for one stream
	o      Options
	in     launch.Input
	out    launch.Output
	desc   string
	p      *gst.Pipeline
	relay  *relay
	rtsp   *rtspOut
	notify func(Event)
	board  *board

	frames, boxes atomic.Int64
	bySource      [3]atomic.Int64
	// objects maps each edge track id seen to its latest class name (the
	// cloud may relabel it), for the summary's count of objects followed.
	objMu   sync.Mutex
	objects map[int]string
	start   time.Time
	done    atomic.Bool

	mu      sync.Mutex
	cloud   map[string]interface{}
	elapsed time.Duration
	// fps over the last status interval (the board updates it).
	winFrames int64
	winTime   time.Time
	fps       float64
}

func (s *stream) event(kind EventKind, detail string, outage time.Duration) {
	if s.notify != nil {
		s.notify(Event{Stream: s.id, Kind: kind, Detail: detail, Outage: outage, Time: time.Now()})
	}
}

// rtspOut is an rtsp:// output: the pipeline's appsink feeds a mount of a
// (possibly shared) RTSP server through a bridge.
type rtspOut struct {
	srv    *rtspserve.Server
	path   string
	bridge *gstbridge.Bridge
	url    string
}

func startRTSPOut(p *gst.Pipeline, r *launch.RTSPOutput) (*rtspOut, error) {
	sink, err := p.GetElementByName(launch.RTSPSink)
	if err != nil {
		return nil, err
	}
	srv, err := rtspserve.Listen(r.Addr())
	if err != nil {
		return nil, fmt.Errorf("serving rtsp://%s%s: %w", r.Addr(), r.Path, err)
	}
	b := gstbridge.New(true)
	b.Attach(sink)
	if err := srv.MountFeed(r.Path, b); err != nil {
		srv.Close()
		b.Close()
		return nil, err
	}
	return &rtspOut{srv: srv, path: r.Path, bridge: b, url: srv.URL(r.Path)}, nil
}

func (o *rtspOut) close() {
	o.srv.Unmount(o.path)
	o.srv.Close()
	o.bridge.Close()
}

// run is Run and RunStreams: single keeps Run's behaviour (no stream id
// unless given, status lines without a stream prefix).
func run(ctx context.Context, o Options, specs []Stream, single bool) ([]Summary, error) {
	sums := make([]Summary, len(specs))
	if !single {
		if err := StreamIDs(specs); err != nil {
			return sums, err
		}
	}
	streams := make([]*stream, len(specs))
	resolve := func() error {
		for i, sp := range specs {
			so := o
			so.Input, so.Output, so.StreamID = sp.Input, sp.Output, sp.ID
			if !single {
				so.Publish = StreamPublishTarget(o.Publish, sp.ID)
			}
			desc, in, out, err := Description(so)
			id := sp.ID
			if id == "" {
				id = defaultStreamID()
			}
			sums[i] = Summary{Stream: id, Output: out.File, Pipeline: desc}
			if err != nil {
				if !single {
					err = fmt.Errorf("%s: %w", id, err)
				}
				return err // bad input or output: say so before starting anything
			}
			s := &stream{id: id, o: so, in: in, out: out, desc: desc, notify: o.Notify}
			if !single {
				s.prefix = id + ": "
			}
			streams[i] = s
		}
		return nil
	}
	if err := resolve(); err != nil {
		return sums, err
	}
	if !o.NoCloud && o.NATS == "" {
		cloud, err := StartLocalCloud(context.WithoutCancel(ctx), LocalCloudOptions{Model: o.CloudModel, Threads: o.WorkerThreads, ExtraLatency: o.WorkerLatency, Log: o.Log})
		if err != nil {
			return sums, err
		}
		defer cloud.Stop()
		o.NATS = cloud.URL()
		if err := resolve(); err != nil {
			return sums, err
		}
	}
	if err := Init(); err != nil {
		return sums, err
	}
	if !o.NoCloud && o.Notify != nil {
		o.Notify(Event{Kind: EventCloud, Detail: o.NATS, Time: time.Now()})
	}

	every := o.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	b := newBoard(o.Progress, streams, single)
	for _, s := range streams {
		s.board = b
	}
	// Build every pipeline before playing any: a bad model or element fails
	// the run before a camera is touched.
	for i, s := range streams {
		if err := s.build(); err != nil {
			for _, t := range streams[:i+1] {
				t.close()
			}
			return sums, err
		}
	}
	defer func() {
		for _, s := range streams {
			s.close()
		}
	}()
	if o.MetricsAddr != "" {
		l, err := net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			return sums, fmt.Errorf("metrics endpoint: %w (pick another --metrics-addr)", err)
		}
		srv := &http.Server{Handler: b.handler(), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(l)
		defer srv.Close()
		u := "http://" + l.Addr().String() + "/metrics"
		b.printf("metrics at %s", u)
		if o.Notify != nil {
			o.Notify(Event{Kind: EventMetrics, Detail: u, Time: time.Now()})
		}
	}
	for _, s := range streams {
		if s.rtsp != nil {
			b.printf("%sserving %s", s.prefix, s.rtsp.url)
			s.event(EventServing, s.rtsp.url, 0)
		}
	}
	for i, s := range streams {
		if err := s.play(ctx); err != nil {
			for _, t := range streams[:i] {
				t.stopRelay()
			}
			if !single {
				err = fmt.Errorf("%s: %w", s.id, err)
			}
			return sums, err
		}
	}

	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.loop(ctx)
			s.finish()
			if errs[i] != nil && !single {
				errs[i] = fmt.Errorf("%s: %w", s.id, errs[i])
			}
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	tick := time.NewTicker(every)
	defer tick.Stop()
wait:
	for {
		select {
		case <-allDone:
			break wait
		case <-tick.C:
			b.report(false)
		}
	}
	b.report(true)
	for i, s := range streams {
		sums[i] = s.summary(sums[i])
		sums[i].Err = errs[i]
	}
	return sums, errors.Join(errs...)
}

// build makes the pipeline and wires probes, the RTSP output and the relay.
func (s *stream) build() error {
	p, err := gst.NewPipelineFromString(s.desc)
	if err != nil {
		return fmt.Errorf("building pipeline: %w\n  pipeline: %s", err, s.desc)
	}
	s.p = p
	overlay, err := p.GetElementByName("overlay")
	if err != nil {
		return err
	}
	var rois gstvideo.ROIs
	names := gstvideo.NewLabels(labels.COCO())
	overlay.GetStaticPad("sink").AddProbe(gst.PadProbeTypeBuffer, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if buf := info.GetBuffer(); buf != nil {
			s.frames.Add(1)
			dets, classes := rois.Read(gstvideo.BufferFromGst(buf), names)
			s.boxes.Add(int64(len(dets)))
			s.objMu.Lock()
			for i, d := range dets {
				if int(d.Source) < len(s.bySource) {
					s.bySource[d.Source].Add(1)
				}
				// Edge tracks only: a cloud-only box's id lasts one reply.
				if d.TrackID > 0 && d.TrackID < detection.CloudTrackIDBase && s.objects[d.TrackID] != classes[i] {
					if s.objects == nil {
						s.objects = map[int]string{}
					}
					s.objects[d.TrackID] = classes[i]
				}
			}
			s.objMu.Unlock()
		}
		return gst.PadProbeOK
	})
	if s.out.RTSP != nil {
		if s.rtsp, err = startRTSPOut(p, s.out.RTSP); err != nil {
			return err
		}
	}
	if reconnecting(s.o, s.in) {
		if s.out.Clocked != "" {
			// The camera paces the frames, stamped as they arrive: a sink
			// waiting on the clock would only add the pipeline's latency
			// to every frame and, one frame at a time, slow it down.
			if sink, err := p.GetElementByName(s.out.Clocked); err == nil {
				sink.SetProperty("sync", false)
			}
		}
		src, err := p.GetElementByName(sourceName)
		if err != nil {
			return err
		}
		s.relay = newRelay(s.id, s.in, src, s.o)
	}
	return nil
}

// play starts the pipeline and, for a live input, the capture loop.
func (s *stream) play(ctx context.Context) error {
	s.start = time.Now()
	s.mu.Lock()
	s.winTime = s.start
	s.mu.Unlock()
	if err := s.p.SetState(gst.StatePlaying); err != nil {
		return busError(s.p.GetPipelineBus(), fmt.Errorf("starting pipeline: %w", err))
	}
	if s.relay != nil {
		s.relay.start(ctx)
	}
	return nil
}

func (s *stream) stopRelay() {
	if s.relay != nil {
		s.relay.stop()
	}
}

// sendEOS ends the stream at its source so every element drains and the
// output is finalised.
func (s *stream) sendEOS() {
	if s.relay != nil {
		s.relay.stop()
		app.SrcFromElement(s.relay.src).EndStream()
		return
	}
	s.p.SendEvent(gst.NewEOSEvent())
}

// loop reads the pipeline's bus to the end of the stream.
func (s *stream) loop(ctx context.Context) error {
	bus := s.p.GetPipelineBus()
	eosSent := false
	var eosDeadline time.Time
	for {
		if ctx.Err() != nil && !eosSent {
			if s.relay != nil && s.frames.Load() == 0 && s.relay.bridge.Stats().Samples == 0 {
				// The camera never delivered: there is nothing to finalise.
				s.relay.stop()
				return nil
			}
			s.sendEOS()
			eosSent, eosDeadline = true, time.Now().Add(10*time.Second)
		}
		if eosSent && time.Now().After(eosDeadline) {
			return errors.New("pipeline did not finish within 10 s of the interrupt; output may be incomplete")
		}
		msg := bus.TimedPop(gst.ClockTime(100 * time.Millisecond))
		if msg == nil {
			continue
		}
		switch msg.Type() {
		case gst.MessageEOS:
			return nil
		case gst.MessageError:
			gerr := msg.ParseError()
			return fmt.Errorf("%s: %s\n  (%s)", msg.Source(), gerr.Error(), gerr.DebugString())
		case gst.MessageElement:
			s.onElementMessage(msg)
		case gst.MessageWarning:
			w := msg.ParseWarning()
			s.board.printf("%swarning from %s: %s", s.prefix, msg.Source(), w.Error())
		}
	}
}

// onElementMessage takes in the elements' status and events.
func (s *stream) onElementMessage(msg *gst.Message) {
	st := msg.GetStructure()
	if st == nil {
		return
	}
	switch st.Name() {
	case "reactcloud-status":
		v := st.Values()
		s.mu.Lock()
		s.cloud = v
		s.mu.Unlock()
	case "reactcloud-reply":
		if s.o.CloudReply != nil {
			v := st.Values()
			rtt := time.Duration(FieldNumber(v["rtt-ms"]) * float64(time.Millisecond))
			s.o.CloudReply(s.id, uint64(FieldNumber(v["frame"])), rtt)
		}
	case inputMessage:
		s.onInputMessage(st.Values())
	}
}

// onInputMessage prints an outage or a recovery and tells Notify.
func (s *stream) onInputMessage(v map[string]interface{}) {
	state, _ := v["state"].(string)
	reason, _ := v["reason"].(string)
	outage := time.Duration(FieldNumber(v["outage-ms"]) * float64(time.Millisecond))
	switch state {
	case "down":
		if wasUp, _ := v["was-up"].(bool); wasUp {
			s.board.printf("%sinput lost: %s; reconnecting, the output holds the last frame", s.prefix, reason)
		} else {
			s.board.printf("%scannot connect to the input yet: %s; retrying", s.prefix, reason)
		}
		s.event(EventInputDown, reason, 0)
	case "up":
		if outage > 0 {
			s.board.printf("%sinput back after %.1f s (%d attempts)", s.prefix, outage.Seconds(), int(FieldNumber(v["attempts"])))
		} else {
			s.board.printf("%sinput connected", s.prefix)
		}
		s.event(EventInputUp, "", outage)
	}
}

// finish ends the stream's run. It stops the elements (READY) and reads
// what they post on the way: reactcloud's final status counts the replies
// that came after its last periodic one, which the summary would otherwise
// miss (a run shorter than the status period reported no cloud at all).
// READY, not NULL: a pipeline going to NULL flushes its bus.
func (s *stream) finish() {
	s.stopRelay()
	s.mu.Lock()
	s.elapsed = time.Since(s.start)
	s.mu.Unlock()
	if s.p != nil {
		s.p.SetState(gst.StateReady)
		bus := s.p.GetPipelineBus()
		for msg := bus.Pop(); msg != nil; msg = bus.Pop() {
			if msg.Type() == gst.MessageElement {
				s.onElementMessage(msg)
			}
		}
	}
	s.done.Store(true)
}

func (s *stream) close() {
	s.stopRelay()
	if s.p != nil {
		s.p.SetState(gst.StateNull)
	}
	if s.rtsp != nil {
		s.rtsp.close()
		s.rtsp = nil
	}
	if s.relay != nil {
		s.relay.close()
	}
}

func (s *stream) summary(sum Summary) Summary {
	sum.Frames, sum.Boxes = s.frames.Load(), s.boxes.Load()
	for i := range s.bySource {
		sum.BySource[i] = s.bySource[i].Load()
	}
	s.objMu.Lock()
	if len(s.objects) > 0 {
		sum.Objects = map[string]int{}
		for _, class := range s.objects {
			sum.Objects[class]++
		}
	}
	s.objMu.Unlock()
	s.mu.Lock()
	sum.Cloud = s.cloud
	sum.Elapsed = s.elapsed
	s.mu.Unlock()
	if s.rtsp != nil {
		sum.Served = s.rtsp.url
	}
	if s.relay != nil {
		st := s.relay.state()
		sum.Outages, sum.Downtime, sum.Repeated = st.outages, st.downtime, st.repeated
	}
	return sum
}

func busError(bus *gst.Bus, fallback error) error {
	for {
		msg := bus.TimedPop(gst.ClockTime(200 * time.Millisecond))
		if msg == nil {
			return fallback
		}
		if msg.Type() == gst.MessageError {
			gerr := msg.ParseError()
			return fmt.Errorf("%s: %s\n  (%s)", msg.Source(), gerr.Error(), gerr.DebugString())
		}
	}
}

// FieldNumber reads a number out of a bus message's structure value: any Go
// integer or float type as GStreamer hands them over; 0 for anything else.
func FieldNumber(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case uint:
		return float64(x)
	case uint64:
		return float64(x)
	case uint32:
		return float64(x)
	}
	return 0
}
