package reactpublish_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gst-react/gst-react/internal/gstvideo"
	"github.com/gst-react/gst-react/internal/launch"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
	"github.com/gst-react/gst-react/internal/pipetest"
	"github.com/gst-react/gst-react/internal/publish"
	"github.com/gst-react/gst-react/internal/runner"
	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/wire"
)

// motSource makes an n-frame stream from the MOT17-04 mini sequence played
// forward and back, as w x h I420. The 1080p frames are scaled and
// re-encoded once (symlinks repeat them), so decoding costs little per frame
// and the tests spend their time in the elements.
func motSource(t *testing.T, n, w, h int) string {
	t.Helper()
	img1 := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1")
	names, _ := filepath.Glob(filepath.Join(img1, "*.jpg"))
	if len(names) < 2 {
		t.Fatalf("%s has %d frames", img1, len(names))
	}
	small := t.TempDir()
	res, err := pipetest.Run(fmt.Sprintf(`multifilesrc location="%s/%%06d.jpg" start-index=1 stop-index=%d caps="image/jpeg,framerate=30/1" ! jpegdec ! videoscale ! video/x-raw,width=%d,height=%d ! jpegenc quality=95 ! multifilesink index=1 location="%s/%%06d.jpg"`,
		img1, len(names), w, h, small), time.Minute)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("scaling the frames: %v %s", err, res.ErrorText())
	}
	tmp := t.TempDir()
	period := 2*len(names) - 2
	for i := range n {
		k := i % period
		if k >= len(names) {
			k = period - k
		}
		if err := os.Symlink(filepath.Join(small, fmt.Sprintf("%06d.jpg", k+1)), filepath.Join(tmp, fmt.Sprintf("%06d.jpg", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf(`multifilesrc location="%s/%%06d.jpg" start-index=1 stop-index=%d caps="image/jpeg,framerate=30/1" ! jpegdec ! videoconvert ! video/x-raw,format=I420,width=%d,height=%d`,
		tmp, n, w, h)
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline", path)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// sameBoxes fails unless the record's boxes are exactly the ROI metas a
// probe saw on the frame.
func sameBoxes(t *testing.T, r publish.Record, f pipetest.Frame) {
	t.Helper()
	if len(r.Boxes) != len(f.Dets) {
		t.Fatalf("frame %d: record has %d boxes, the buffer %d ROI metas", r.Frame, len(r.Boxes), len(f.Dets))
	}
	for i, b := range r.Boxes {
		d := f.Dets[i]
		if b.X1 != d.Box.X1 || b.Y1 != d.Box.Y1 || b.X2 != d.Box.X2 || b.Y2 != d.Box.Y2 || b.Score != d.Score ||
			b.ClassID != d.Class || b.Label != f.Labels[i] || b.Source != d.Source.String() ||
			b.TrackID != d.TrackID || b.Age != d.Age {
			t.Fatalf("frame %d box %d: record %+v, meta %+v label %q", r.Frame, i, b, d, f.Labels[i])
		}
	}
}

// To a file: one schema-valid line per frame, frames consecutive, boxes
// equal to the ROI metas downstream, video and metas passed on unchanged.
func TestPublishToFile(t *testing.T) {
	const n = 60
	out := filepath.Join(t.TempDir(), "det.jsonl")
	desc := fmt.Sprintf("%s ! reactdetect interval=3 ! reacttrack ! reactpublish name=pub location=%s ! fakesink name=sink",
		motSource(t, n, 640, 360), launch.Quote(out))
	start := time.Now().UTC()
	res, err := pipetest.Run(desc, time.Minute,
		pipetest.Probe{Element: "pub", Pad: "sink", Pixels: true},
		pipetest.Probe{Element: "pub", Pad: "src", Pixels: true},
		pipetest.Probe{Element: "sink", Pad: "sink"})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	end := time.Now().UTC()
	in, passed, seen := res.Frames["pub.sink"], res.Frames["pub.src"], res.Frames["sink.sink"]
	if len(in) != n || len(passed) != n || len(seen) != n {
		t.Fatalf("frames: %d in, %d out, %d at the sink; want %d", len(in), len(passed), len(seen), n)
	}
	for i := range in {
		if !bytes.Equal(in[i].Pixels, passed[i].Pixels) || in[i].PTS != passed[i].PTS ||
			fmt.Sprint(in[i].Dets, in[i].Labels) != fmt.Sprint(passed[i].Dets, passed[i].Labels) {
			t.Fatalf("frame %d changed in reactpublish", i)
		}
	}
	lines := readLines(t, out)
	if len(lines) != n {
		t.Fatalf("%d lines for %d frames", len(lines), n)
	}
	var boxes, tracked int
	prevWall := start.Add(-time.Second)
	for i, line := range lines {
		r, err := publish.ParseRecord(line)
		if err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, line)
		}
		f := seen[i]
		if r.Stream != "stream0" || r.Frame != uint64(i) || !f.HasMeta || f.FrameNum != r.Frame ||
			r.PTSNs != f.PTS || r.Width != 640 || r.Height != 360 {
			t.Fatalf("line %d: %s (probe: frame %d pts %d)", i+1, line[:min(len(line), 160)], f.FrameNum, f.PTS)
		}
		if r.WallTime.Before(prevWall) || r.WallTime.Before(start) || r.WallTime.After(end) {
			t.Fatalf("line %d: wall_time %v outside the run %v..%v or going back", i+1, r.WallTime, start, end)
		}
		prevWall = r.WallTime
		if r.Policy != nil || bytes.Contains(line, []byte(`"policy"`)) {
			t.Fatalf("line %d has a policy without a reactcloud upstream: %s", i+1, line)
		}
		sameBoxes(t, r, f)
		boxes += len(r.Boxes)
		for _, b := range r.Boxes {
			if b.Source == "tracked" {
				tracked++
			}
		}
	}
	if boxes == 0 || tracked == 0 {
		t.Fatalf("%d boxes, %d tracked: the test saw no detections", boxes, tracked)
	}
	var status []map[string]interface{}
	for _, m := range res.Messages {
		if m.Name == "reactpublish-status" {
			status = append(status, m.Fields())
		}
	}
	if len(status) == 0 {
		t.Fatal("no reactpublish-status message")
	}
	for _, k := range []string{"records", "published", "dropped", "failed", "pending", "lost", "state"} {
		if _, ok := status[0][k]; !ok {
			t.Fatalf("reactpublish-status lacks %q: %v", k, status[0])
		}
	}
	t.Logf("%d frames, %d boxes (%d tracked) in %d bytes of JSON; %d status messages; last %v",
		n, boxes, tracked, func() int { s, _ := os.Stat(out); return int(s.Size()) }(), len(status), status[len(status)-1])
}

// every-frame=false leaves out frames without boxes; the default keeps them
// (with an empty boxes array).
func TestEveryFrame(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		every string
		want  int
	}{{"true", 10}, {"false", 0}} {
		out := filepath.Join(dir, tc.every+".jsonl")
		desc := fmt.Sprintf("videotestsrc num-buffers=10 ! video/x-raw,format=I420,width=64,height=48 ! reactpublish every-frame=%s stream-id=test location=%s ! fakesink",
			tc.every, launch.Quote(out))
		res, err := pipetest.Run(desc, 30*time.Second)
		if err != nil || len(res.Errors) > 0 {
			t.Fatalf("run: %v %s", err, res.ErrorText())
		}
		lines := readLines(t, out)
		if len(lines) != tc.want {
			t.Fatalf("every-frame=%s: %d lines, want %d", tc.every, len(lines), tc.want)
		}
		for i, l := range lines {
			r, err := publish.ParseRecord(l)
			if err != nil || r.Frame != uint64(i) || len(r.Boxes) != 0 || r.Stream != "test" || !strings.Contains(string(l), `"boxes":[]`) {
				t.Fatalf("line %d: %v %s", i, err, l)
			}
		}
	}

	// With boxes, every-frame=false keeps exactly the frames that have some.
	const n = 12
	out := filepath.Join(dir, "boxes.jsonl")
	desc := fmt.Sprintf("%s ! reactdetect interval=1 ! reactpublish name=pub every-frame=false location=%s ! fakesink",
		motSource(t, n, 320, 180), launch.Quote(out))
	res, err := pipetest.Run(desc, time.Minute, pipetest.Probe{Element: "pub", Pad: "sink"})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	withBoxes := 0
	for _, f := range res.Frames["pub.sink"] {
		if len(f.Dets) > 0 {
			withBoxes++
		}
	}
	lines := readLines(t, out)
	if withBoxes == 0 || len(lines) != withBoxes {
		t.Fatalf("every-frame=false: %d lines for %d frames with boxes (of %d)", len(lines), withBoxes, n)
	}
	for i, l := range lines {
		if r, err := publish.ParseRecord(l); err != nil || len(r.Boxes) == 0 {
			t.Fatalf("line %d has no boxes: %v %s", i, err, l)
		}
	}
}

// jsConsumer pulls from a durable consumer, tolerating a server restart,
// and records each frame it got (and how often).
type jsConsumer struct {
	url, durable, subject string
	mu                    sync.Mutex
	got                   map[uint64]int
	redelivered           int
	stop                  chan struct{}
	done                  chan struct{}
}

func (c *jsConsumer) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

// start consumes on a goroutine until halt.
func (c *jsConsumer) start(t *testing.T) {
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(c.done)
		nc, err := nats.Connect(c.url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
		if err != nil {
			t.Error(err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		for {
			select {
			case <-c.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			cons, err := js.CreateOrUpdateConsumer(ctx, publish.DefaultJetStreamStream, jetstream.ConsumerConfig{
				Durable: c.durable, FilterSubject: c.subject, AckPolicy: jetstream.AckExplicitPolicy,
				AckWait: 2 * time.Second, DeliverPolicy: jetstream.DeliverAllPolicy,
			})
			cancel()
			if err != nil {
				time.Sleep(100 * time.Millisecond) // stream not there yet, or server restarting
				continue
			}
			batch, err := cons.Fetch(50, jetstream.FetchMaxWait(300*time.Millisecond))
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			for m := range batch.Messages() {
				r, err := publish.ParseRecord(m.Data())
				if err != nil {
					t.Errorf("bad record: %v", err)
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				ackErr := m.DoubleAck(ctx)
				cancel()
				c.mu.Lock()
				if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
					c.redelivered++
				}
				if ackErr == nil {
					c.got[r.Frame]++
				}
				c.mu.Unlock()
			}
		}
	}()
}

func (c *jsConsumer) halt() { close(c.stop); <-c.done }

// streamFrames reads every record the JetStream stream holds for subject.
func streamFrames(t *testing.T, url, subject string) []uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close() // called several times a test: do not keep connections
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, publish.DefaultJetStreamStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var frames []uint64
	for want := int(info.NumPending); len(frames) < want; {
		batch, err := cons.Fetch(want-len(frames), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := len(frames)
		for m := range batch.Messages() {
			r, err := publish.ParseRecord(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			frames = append(frames, r.Frame)
		}
		if len(frames) == n {
			t.Fatalf("stream read stalled at %d of %d", n, want)
		}
	}
	return frames
}

// checkOnce fails unless every frame 0..n-1 occurs exactly once.
func checkOnce(t *testing.T, what string, count map[uint64]int, total, n int) {
	t.Helper()
	var missing, dup []uint64
	for i := 0; i < n; i++ {
		switch count[uint64(i)] {
		case 0:
			missing = append(missing, uint64(i))
		case 1:
		default:
			dup = append(dup, uint64(i))
		}
	}
	if len(missing) > 0 || len(dup) > 0 || total != n {
		t.Fatalf("%s: %d records for %d frames; missing %v, duplicated %v", what, total, n, missing, dup)
	}
}

// To JetStream with a durable consumer: stopping the consumer mid-stream, or
// restarting the NATS server (same store), loses no frame's record and
// stores none twice.
func TestPublishJetStreamNothingLost(t *testing.T) {
	for _, disrupt := range []string{"consumer", "server"} {
		t.Run(disrupt+"-restart", func(t *testing.T) {
			const n = 180
			srv := natsservertest.Start(t, natsserver.Options{NoLog: true, StoreDir: t.TempDir()})
			url, subject := srv.ClientURL(), "react.detections.cam-js"
			c := &jsConsumer{url: url, durable: "viewer", subject: subject, got: map[uint64]int{}}
			c.start(t)
			var marks []string
			var published gstvideo.BufferCounter // frames into reactpublish
			disrupted := make(chan struct{})
			go func() {
				defer close(disrupted)
				// Disrupt once a third of the stream has been consumed, or
				// at the latest half-way through the stream: a consumer
				// lagging on a busy core must not push the disruption past
				// the stream's end (a server restart after it would not
				// test the publisher). 40 s only catches a hang.
				deadline := time.Now().Add(40 * time.Second)
				for c.count() < n/3 && published.Load() < n/2 && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				marks = append(marks, fmt.Sprintf("disrupted after %d records consumed, at frame %d", c.count(), published.Load()))
				switch disrupt {
				case "consumer":
					c.halt()
					time.Sleep(2 * time.Second)
					marks = append(marks, fmt.Sprintf("consumer back after %d records", c.count()))
					c.start(t)
				case "server":
					srv.Shutdown()
					time.Sleep(1500 * time.Millisecond)
					if err := srv.Restart(); err != nil {
						t.Error(err)
					}
					marks = append(marks, "server back")
				}
			}()
			desc := fmt.Sprintf("%s ! reactdetect interval=6 ! reacttrack ! reactpublish name=pub server=%s jetstream=true stream-id=cam-js ! identity sleep-time=12000 ! fakesink name=sink",
				motSource(t, n, 320, 180), url)
			res, err := pipetest.Run(desc, 3*time.Minute, pipetest.Probe{Element: "sink", Pad: "sink"},
				pipetest.Probe{Element: "pub", Pad: "sink", Counter: &published})
			if err != nil || len(res.Errors) > 0 {
				t.Fatalf("run: %v %s", err, res.ErrorText())
			}
			<-disrupted
			if got := len(res.Frames["sink.sink"]); got != n {
				t.Fatalf("%d of %d frames reached the sink", got, n)
			}
			for _, m := range res.Messages {
				if m.Name == "reactpublish-status" {
					marks = append(marks[:min(len(marks), 2)], "last status "+m.Raw)
				}
			}
			// The consumer catches up in well under a second idle; a
			// minute only bounds a hang (missing records fail below).
			deadline := time.Now().Add(time.Minute)
			for c.count() < n && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			c.halt()
			t.Logf("%s; pipeline took %v; warnings: %q", strings.Join(marks, ", "), res.Elapsed.Round(time.Millisecond), res.Warnings)
			total := 0
			for _, k := range c.got {
				total += k
			}
			t.Logf("consumer: %d distinct frames, %d acked deliveries, %d redeliveries", len(c.got), total, c.redelivered)
			stored := streamFrames(t, url, subject)
			count := map[uint64]int{}
			for _, f := range stored {
				count[f]++
			}
			checkOnce(t, "stream", count, len(stored), n)
			checkOnce(t, "consumer", c.got, total, n)
			if disrupt == "server" {
				warned := false
				for _, w := range res.Warnings {
					warned = warned || strings.Contains(w, "reactpublish cannot publish")
				}
				if !warned {
					t.Errorf("no warning about the unreachable server: %q", res.Warnings)
				}
			}
		})
	}
}

// Two pipelines with their own stream-id publish to one NATS server: each
// record carries its own stream id, on its own subject.
func TestTwoStreamsOneServer(t *testing.T) {
	const n = 30
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true})
	nc := natsservertest.Connect(t, srv.ClientURL())
	ch := make(chan *nats.Msg, 4*n)
	if _, err := nc.ChanSubscribe("react.detections.>", ch); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	src := motSource(t, n, 320, 180)
	var wg sync.WaitGroup
	for _, id := range []string{"camA", "camB"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			desc := fmt.Sprintf("%s ! reactdetect interval=2 ! reactpublish server=%s stream-id=%s ! fakesink", src, srv.ClientURL(), id)
			res, err := pipetest.Run(desc, time.Minute)
			if err != nil || len(res.Errors) > 0 {
				t.Errorf("%s: %v %s", id, err, res.ErrorText())
			}
		}()
	}
	wg.Wait()
	got := map[string]map[uint64]int{}
	boxes := 0
	for len(got["camA"])+len(got["camB"]) < 2*n {
		select {
		case m := <-ch:
			r, err := publish.ParseRecord(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != "react.detections."+r.Stream {
				t.Fatalf("record of stream %q on subject %s", r.Stream, m.Subject)
			}
			if got[r.Stream] == nil {
				got[r.Stream] = map[uint64]int{}
			}
			got[r.Stream][r.Frame]++
			boxes += len(r.Boxes)
		case <-time.After(5 * time.Second):
			t.Fatalf("records: camA %d, camB %d of %d each", len(got["camA"]), len(got["camB"]), n)
		}
	}
	if len(got) != 2 || boxes == 0 {
		t.Fatalf("streams %v, %d boxes", got, boxes)
	}
	for id, frames := range got {
		checkOnce(t, id, frames, n, n)
	}
}

// Bad settings fail the start with an error naming what to fix.
func TestBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, props string
		want        []string
	}{
		{"no destination", "", []string{"location", "server"}},
		{"bad stream-id", "location=" + filepath.Join(dir, "a.jsonl") + ` stream-id="cam 1"`, []string{"stream-id", "cam 1"}},
		{"unwritable location", "location=" + filepath.Join(dir, "missing", "dir", "a.jsonl"), []string{"location", "missing/dir/a.jsonl", "writable"}},
		{"location is a directory", "location=" + dir, []string{"location", "writable"}},
		{"jetstream without server", "jetstream=true location=" + filepath.Join(dir, "b.jsonl"), []string{"jetstream=true needs server"}},
		{"both destinations", "location=" + filepath.Join(dir, "c.jsonl") + " server=nats://127.0.0.1:1", []string{"location", "server", "only one"}},
		{"wildcard subject", "server=nats://127.0.0.1:1 subject=react.>", []string{"subject", "wildcards"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desc := "videotestsrc num-buffers=3 ! video/x-raw,format=I420,width=64,height=48 ! reactpublish " + tc.props + " ! fakesink"
			res, err := pipetest.Run(desc, 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) == 0 {
				t.Fatal("the pipeline ran without an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(res.ErrorText(), w) {
					t.Errorf("error %q does not mention %q", res.ErrorText(), w)
				}
			}
			t.Log(res.ErrorText())
		})
	}
}

// A write error on the file stops the pipeline with an error naming it.
func TestFileWriteError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	desc := "videotestsrc is-live=true num-buffers=60 ! video/x-raw,format=I420,width=64,height=48,framerate=30/1 ! reactpublish location=/dev/full ! fakesink"
	res, err := pipetest.Run(desc, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) == 0 || !strings.Contains(res.ErrorText(), "writing /dev/full failed") {
		t.Fatalf("errors %q", res.Errors)
	}
	t.Log(res.ErrorText())
}

// reactpublish's stream-id default is reactcloud's, so the two agree in a
// pipeline where neither is set.
func TestStreamIDDefaultMatchesReactcloud(t *testing.T) {
	if err := runner.Init(); err != nil {
		t.Fatal(err)
	}
	get := func(factory string) string {
		el, err := gst.NewElement(factory)
		if err != nil {
			t.Fatal(err)
		}
		v, err := el.GetProperty("stream-id")
		if err != nil {
			t.Fatal(err)
		}
		return v.(string)
	}
	if p, c := get("reactpublish"), get("reactcloud"); p != c || p != publish.DefaultStreamID {
		t.Fatalf("stream-id defaults: reactpublish %q, reactcloud %q", p, c)
	}
}

// mallocs is the number of Go heap allocations made while desc ran.
func mallocs(t *testing.T, desc string) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := pipetest.Run(desc, 2*time.Minute)
	runtime.ReadMemStats(&after)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	return after.Mallocs - before.Mallocs
}

// Steady-state Go allocations per frame with reactpublish writing a file
// (streaming thread and publisher goroutine together), against the same
// pipeline without it: the difference of a 2N- and an N-frame run cancels
// start-up and tear-down. The periodic status message (a few dozen
// allocations a second, by time rather than by frame) is turned off.
func TestSteadyStateAllocsPerFrame(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	img := filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1", "000001.jpg")
	out := filepath.Join(t.TempDir(), "out.jsonl")
	const n = 60
	per := map[string]float64{}
	pub := " ! reactpublish status-interval=0 location=" + launch.Quote(out)
	for _, tail := range []string{"", pub} {
		run := func(frames int) uint64 {
			desc := fmt.Sprintf("filesrc location=%s ! jpegdec ! videoconvert ! videoscale ! video/x-raw,format=I420,width=640,height=360 ! imagefreeze num-buffers=%d ! reactdetect interval=10 ! reacttrack%s ! fakesink sync=false",
				launch.Quote(img), frames, tail)
			return min(mallocs(t, desc), mallocs(t, desc))
		}
		run(5)
		a1, a2 := run(n), run(2*n)
		per[tail] = (float64(a2) - float64(a1)) / n
	}
	extra := per[pub] - per[""]
	t.Logf("Go allocations per frame: reactdetect+reacttrack %.2f, with reactpublish %.2f (reactpublish: %+.2f)", per[""], per[pub], extra)
	if extra > 1 {
		t.Fatalf("reactpublish allocates %.2f times per frame in steady state", extra)
	}
	lines := readLines(t, out)
	if len(lines) != 2*n {
		t.Fatalf("%d lines", len(lines))
	}
	if r, err := publish.ParseRecord(lines[0]); err != nil || len(r.Boxes) == 0 {
		t.Fatalf("%v %+v", err, r)
	}
}

// An unreachable server fills a small queue: the element says once that it
// drops records, even with the periodic status turned off (status-interval=0),
// and every frame still passes.
func TestDroppingRecordsWarnsWithoutStatus(t *testing.T) {
	desc := "videotestsrc is-live=true num-buffers=60 ! video/x-raw,format=I420,width=64,height=48,framerate=30/1 ! " +
		"reactpublish server=nats://127.0.0.1:1 every-frame=true max-pending=5 status-interval=0 drain-timeout=0 ! fakesink name=sink"
	res, err := pipetest.Run(desc, 30*time.Second, pipetest.Probe{Element: "sink", Pad: "sink"})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	if n := len(res.Frames["sink.sink"]); n != 60 {
		t.Errorf("%d frames passed, want 60", n)
	}
	warned := 0
	for _, w := range res.Warnings {
		if strings.Contains(w, "dropping records") {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("%d warnings about dropped records, want 1: %q", warned, res.Warnings)
	}
	for _, m := range res.Messages {
		if m.Name == "reactpublish-status" && strings.Contains(m.Raw, "periodic") {
			t.Errorf("periodic status with status-interval=0: %s", m.Raw)
		}
	}
}

// reactcloud's schedule reaches the records frame by frame, carried on each
// buffer (GstReactPolicyMeta), not read off the latest status message: the
// policy, the effective k and m, whether the frame was detected (equal to
// reactdetect's own flag on the same frame) and offloaded (as many as the
// cloud received), and why. The cloud takes requests and never answers
// within the run, so due offloads are held (in-flight, backoff) and the
// records must say so. Everything is counted in frames, so it holds at any
// speed.
func TestPolicyInRecords(t *testing.T) {
	const n = 60
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true})
	nc := natsservertest.Connect(t, srv.ClientURL())
	records := make(chan *nats.Msg, 4*n)
	if _, err := nc.ChanSubscribe("react.detections.>", records); err != nil {
		t.Fatal(err)
	}
	var requests sync.Map // stream id -> *atomic.Int64
	if _, err := nc.Subscribe(wire.DefaultRequestSubject, func(m *nats.Msg) {
		req, err := wire.DecodeRequest(m.Data, wire.DefaultLimits())
		if err != nil {
			t.Errorf("request: %v", err)
			return
		}
		c, _ := requests.LoadOrStore(req.StreamID, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	src := motSource(t, n, 320, 180)
	held := map[string]bool{"budget": true, "backoff": true, "in-flight": true, "cloud-down": true}
	for _, tc := range []struct{ policy, props string }{
		{"fixed", "interval=20 change-threshold=0"},
		{"adaptive", "policy=adaptive max-edge-fps=6 budget-window=2000 max-interval=10"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			desc := fmt.Sprintf("%s ! reactdetect interval=3 ! reacttrack ! reactcloud server=%s timeout=600000 stream-id=%s %s ! "+
				"reactpublish server=%s stream-id=%s ! fakesink name=sink", src, srv.ClientURL(), tc.policy, tc.props, srv.ClientURL(), tc.policy)
			res, err := pipetest.Run(desc, 2*time.Minute, pipetest.Probe{Element: "sink", Pad: "sink"})
			if err != nil || len(res.Errors) > 0 {
				t.Fatalf("run: %v %s", err, res.ErrorText())
			}
			seen := res.Frames["sink.sink"]
			if len(seen) != n {
				t.Fatalf("%d frames at the sink, want %d", len(seen), n)
			}
			got := make([]*publish.Record, n)
			for left := n; left > 0; {
				select {
				case m := <-records:
					r, err := publish.ParseRecord(m.Data)
					if err != nil {
						t.Fatalf("%v\n%s", err, m.Data)
					}
					if r.Stream != tc.policy || r.Frame >= n || got[r.Frame] != nil {
						t.Fatalf("unexpected record %s", m.Data)
					}
					got[r.Frame] = &r
					left--
				case <-time.After(10 * time.Second): // published as the frames pass; the run is over
					t.Fatalf("%d of %d records", n-left, n)
				}
			}
			offloaded, heldOffloads, detected := 0, 0, 0
			for i, r := range got {
				p := r.Policy
				if p == nil || p.Name != tc.policy {
					t.Fatalf("frame %d: policy %+v, want %s", i, p, tc.policy)
				}
				if p.Detected != seen[i].Detected || !seen[i].HasMeta {
					t.Fatalf("frame %d: record says detected=%v, reactdetect's meta %v", i, p.Detected, seen[i].Detected)
				}
				switch {
				case p.Detected:
					detected++
					if p.DetectReason == "" || held[p.DetectReason] {
						t.Fatalf("frame %d detected for %q", i, p.DetectReason)
					}
				case p.DetectReason != "" && p.DetectReason != "budget":
					t.Fatalf("frame %d not detected, reason %q", i, p.DetectReason)
				}
				switch {
				case p.Offloaded:
					offloaded++
					if p.OffloadReason == "" || held[p.OffloadReason] {
						t.Fatalf("frame %d offloaded for %q", i, p.OffloadReason)
					}
				case held[p.OffloadReason]:
					heldOffloads++
				case p.OffloadReason != "":
					t.Fatalf("frame %d not offloaded, reason %q", i, p.OffloadReason)
				}
				if tc.policy == "fixed" {
					due := i%20 == 0
					if p.M != 20 || (i >= 3 && p.K != 3) || due != (p.Offloaded || held[p.OffloadReason]) ||
						(p.Offloaded && p.OffloadReason != "interval") {
						t.Fatalf("frame %d: %+v, want m 20, k 3 (from frame 3), offloads due every 20th frame", i, *p)
					}
				}
			}
			// The last records' k is over the window, which has detections.
			if last := got[n-1].Policy; last.K <= 0 || last.M <= 0 || offloaded == 0 || heldOffloads == 0 || detected == 0 {
				t.Fatalf("last %+v; %d offloaded, %d held, %d detected", *last, offloaded, heldOffloads, detected)
			}
			// Every frame the records call offloaded reached the cloud (bounded
			// wait: a request is published just after its frame passed).
			deadline := time.Now().Add(10 * time.Second)
			count := func() int64 {
				c, ok := requests.Load(tc.policy)
				if !ok {
					return 0
				}
				return c.(*atomic.Int64).Load()
			}
			for count() != int64(offloaded) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if count() != int64(offloaded) {
				t.Fatalf("the cloud received %d requests, the records say %d frames were offloaded", count(), offloaded)
			}
			t.Logf("%s: %d detected, %d offloaded, %d held; last frame %+v", tc.policy, detected, offloaded, heldOffloads, *got[n-1].Policy)
		})
	}
}
