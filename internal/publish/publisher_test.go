package publish

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
)

func record(t testing.TB, stream string, frame uint64) []byte {
	f := sampleFrame(int(frame % 4))
	f.Stream, f.Frame, f.Wall = stream, frame, time.Now()
	return AppendRecord(nil, &f)
}

func newPub(t *testing.T, cfg Config) *Publisher {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nextEvent waits for an event of kind, skipping others.
func nextEvent(t *testing.T, p *Publisher, kind EventKind, d time.Duration) Event {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-p.Events():
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event within %v (stats %+v)", kind, d, p.Stats())
		}
	}
}

func TestConfigErrorsNameTheProperty(t *testing.T) {
	base := DefaultConfig()
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no destination", func(c *Config) {}, "set location=FILE"},
		{"both", func(c *Config) { c.Location, c.Server = "x", "nats://h" }, "set only one"},
		{"stream id", func(c *Config) { c.Location, c.StreamID = "x", "cam 1" }, `stream-id "cam 1"`},
		{"long stream id", func(c *Config) { c.Location, c.StreamID = "x", strings.Repeat("a", 65) }, "stream-id"},
		{"jetstream without server", func(c *Config) { c.Location, c.JetStream = "x", true }, "jetstream=true needs server"},
		{"wildcard subject", func(c *Config) { c.Server, c.Subject = "nats://h", "a.*" }, `subject "a.*"`},
		{"empty token", func(c *Config) { c.Server, c.Subject = "nats://h", "a..b" }, "subject"},
		{"stream name", func(c *Config) { c.Server, c.JetStream, c.JetStreamStream = "nats://h", true, "a.b" }, "jetstream-stream"},
		{"max pending", func(c *Config) { c.Location, c.MaxPending = "x", 0 }, "max-pending 0"},
		{"max pending bytes", func(c *Config) { c.Location, c.MaxPendingBytes = "x", 10 }, "max-pending-bytes"},
	} {
		c := base
		tc.edit(&c)
		_, err := New(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	c := base
	c.Server, c.StreamID = "nats://h", "cam.7"
	if err := c.Validate(); err != nil || c.EffectiveSubject() != "react.detections.cam.7" {
		t.Fatalf("%v %q", err, c.EffectiveSubject())
	}
}

func TestFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	c := DefaultConfig()
	c.Location = path
	p := newPub(t, c)
	const n = 2000
	for i := 0; i < n; i++ {
		for !p.Offer(record(t, "s", uint64(i))) {
			time.Sleep(time.Millisecond) // not the element's way, but this test wants them all
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Published != n || st.Pending != 0 || st.Lost != 0 || st.State != "up" {
		t.Fatalf("stats %+v", st)
	}
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	i := 0
	for ; sc.Scan(); i++ {
		r, err := ParseRecord(sc.Bytes())
		if err != nil || r.Frame != uint64(i) {
			t.Fatalf("line %d: %v %+v", i, err, r)
		}
	}
	if i != n {
		t.Fatalf("%d lines", i)
	}
}

func TestStdoutLocation(t *testing.T) {
	c := DefaultConfig()
	c.Location = Stdout
	p := newPub(t, c)
	if p.Describe() != "file standard output" {
		t.Fatal(p.Describe())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stdout.Stat(); err != nil {
		t.Fatalf("standard output was closed: %v", err)
	}
}

func TestUnwritableLocation(t *testing.T) {
	c := DefaultConfig()
	c.Location = filepath.Join(t.TempDir(), "no", "such", "dir", "x.jsonl")
	_, err := New(c)
	if err == nil || !strings.Contains(err.Error(), "location") || !strings.Contains(err.Error(), "writable") {
		t.Fatalf("error %v", err)
	}
}

// A full queue drops the newest records and counts them; nothing blocks.
func TestDropWhenFull(t *testing.T) {
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true})
	url := srv.ClientURL()
	srv.Shutdown() // nobody there: records pile up
	c := DefaultConfig()
	c.Server, c.MaxPending, c.DrainTimeout = url, 10, 100*time.Millisecond
	p := newPub(t, c)
	// A refused connection is noticed in milliseconds; 10 s bounds a hang.
	ev := nextEvent(t, p, EventDown, 10*time.Second)
	if !strings.Contains(ev.Reason, url) {
		t.Fatalf("down reason %q does not name the server", ev.Reason)
	}
	start := time.Now()
	for i := 0; i < 100; i++ {
		p.Offer(record(t, "s", uint64(i)))
	}
	// 100 offers take microseconds. An Offer that waited for the server
	// would wait for ever, or a reconnect attempt (500 ms) each: 50 s. The
	// bound was 100 ms, a few scheduling slices of one busy core.
	if d := time.Since(start); d > time.Second {
		t.Fatalf("offering 100 records to a dead server took %v", d)
	}
	st := p.Stats()
	if st.Records != 100 || st.Dropped != 90 || st.Pending != 10 || st.State != "down" {
		t.Fatalf("stats %+v", st)
	}
	p.Close()
	if st := p.Stats(); st.Lost != 10 || st.Pending != 0 || st.Records != st.Published+st.Dropped+st.Lost {
		t.Fatalf("after close %+v", st)
	}
}

func TestCoreNATS(t *testing.T) {
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true})
	sub := natsservertest.Connect(t, srv.ClientURL())
	ch := make(chan *nats.Msg, 1000)
	s, _ := sub.ChanSubscribe("react.detections.>", ch)
	sub.Flush()
	c := DefaultConfig()
	c.Server, c.StreamID = srv.ClientURL(), "camA"
	p := newPub(t, c)
	const n = 500
	for i := 0; i < n; i++ {
		if !p.Offer(record(t, "camA", uint64(i))) {
			t.Fatal("dropped")
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing is not losing the server: no down state, no down event (nats.go
	// runs its disconnect callback after Close, on its own goroutine).
	time.Sleep(300 * time.Millisecond)
	if st := p.Stats(); st.State == "down" {
		t.Errorf("after Close the publisher says down: %q", st.Reason)
	}
	for len(p.Events()) > 0 {
		if ev := <-p.Events(); ev.Kind == EventDown {
			t.Errorf("Close announced a down event: %s", ev.Reason)
		}
	}
	for i := 0; i < n; i++ {
		select {
		case m := <-ch:
			r, err := ParseRecord(m.Data)
			if err != nil || r.Frame != uint64(i) || m.Subject != "react.detections.camA" {
				t.Fatalf("message %d on %s: %v %+v", i, m.Subject, err, r)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("got %d of %d messages", i, n)
		}
	}
	s.Unsubscribe()
}

// streamFrames reads every message of a JetStream stream and returns the
// frame numbers per stream id, in stream order.
func streamFrames(t *testing.T, url, stream string) map[string][]uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close() // called several times a test: do not keep connections
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]uint64{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		r, err := ParseRecord(m.Data)
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		out[r.Stream] = append(out[r.Stream], r.Frame)
	}
	return out
}

// checkFrames fails unless frames holds 0..n-1 exactly once each.
func checkFrames(t *testing.T, frames []uint64, n int) {
	t.Helper()
	seen := make(map[uint64]int, n)
	for _, f := range frames {
		seen[f]++
	}
	var missing, dup []uint64
	for i := 0; i < n; i++ {
		switch seen[uint64(i)] {
		case 0:
			missing = append(missing, uint64(i))
		case 1:
		default:
			dup = append(dup, uint64(i))
		}
	}
	if len(missing) > 0 || len(dup) > 0 || len(frames) != n {
		t.Fatalf("%d records for %d frames: missing %v, duplicated %v", len(frames), n, missing, dup)
	}
}

// Restarting the JetStream server mid-stream loses nothing and stores
// nothing twice: unacknowledged records stay queued and are retried.
func TestJetStreamSurvivesServerRestart(t *testing.T) {
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true, StoreDir: t.TempDir()})
	c := DefaultConfig()
	c.Server, c.JetStream, c.StreamID = srv.ClientURL(), true, "cam1"
	p := newPub(t, c)
	const n = 600
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			if !p.Offer(record(t, "cam1", uint64(i))) {
				t.Errorf("record %d dropped", i)
			}
			time.Sleep(3 * time.Millisecond)
		}
	}()
	waitFor(t, "a third published", 10*time.Second, func() bool { return p.Stats().Published > n/3 })
	srv.Shutdown()
	ev := nextEvent(t, p, EventDown, 5*time.Second)
	t.Logf("down: %s", ev.Reason)
	time.Sleep(500 * time.Millisecond)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, p, EventUp, 15*time.Second)
	wg.Wait()
	waitFor(t, "everything published", 15*time.Second, func() bool { return p.Stats().Published == n })
	p.Close()
	st := p.Stats()
	t.Logf("stats %+v", st)
	if st.Published != n || st.Dropped != 0 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
	checkFrames(t, streamFrames(t, srv.ClientURL(), DefaultJetStreamStream)["cam1"], n)
}

// Started before its server: records wait, then all go out once it is up.
func TestJetStreamServerLate(t *testing.T) {
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true, StoreDir: t.TempDir()})
	srv.Shutdown()
	c := DefaultConfig()
	c.Server, c.JetStream, c.Subject, c.JetStreamStream = srv.ClientURL(), true, "site.cams.x", "SITE"
	p := newPub(t, c)
	nextEvent(t, p, EventDown, 10*time.Second) // a refused connection: milliseconds; 10 s bounds a hang
	for i := 0; i < 50; i++ {
		p.Offer(record(t, "stream0", uint64(i)))
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "50 published", 15*time.Second, func() bool { return p.Stats().Published == 50 })
	p.Close()
	checkFrames(t, streamFrames(t, srv.ClientURL(), "SITE")["stream0"], 50)
}

// A stream that exists but cannot take the subject is a configuration error.
func TestJetStreamConfigErrors(t *testing.T) {
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true, StoreDir: t.TempDir()})
	nc := natsservertest.Connect(t, srv.ClientURL())
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: DefaultJetStreamStream, Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "MINE", Subjects: []string{"react.detections.>"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stream string
		want   []string
	}{
		{DefaultJetStreamStream, []string{"other.>", "jetstream-stream"}},
		{"NEW", []string{`stream "MINE"`, "jetstream-stream=MINE"}},
	} {
		c := DefaultConfig()
		c.Server, c.JetStream, c.JetStreamStream = srv.ClientURL(), true, tc.stream
		p := newPub(t, c)
		p.Offer(record(t, "stream0", 0))
		ev := nextEvent(t, p, EventFatal, 10*time.Second)
		for _, w := range tc.want {
			if !strings.Contains(ev.Reason, w) {
				t.Errorf("stream %s: %q does not say %q", tc.stream, ev.Reason, w)
			}
		}
		p.Close()
	}
	// Binding to a stream that does take the subject works.
	c := DefaultConfig()
	c.Server, c.JetStream, c.JetStreamStream = srv.ClientURL(), true, "MINE"
	p := newPub(t, c)
	p.Offer(record(t, "stream0", 0))
	waitFor(t, "published", 10*time.Second, func() bool { return p.Stats().Published == 1 })
}

func TestJetStreamNotEnabled(t *testing.T) {
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true})
	c := DefaultConfig()
	c.Server, c.JetStream, c.DrainTimeout = srv.ClientURL(), true, 200*time.Millisecond
	p := newPub(t, c)
	p.Offer(record(t, "stream0", 0))
	ev := nextEvent(t, p, EventDown, 10*time.Second)
	if !strings.Contains(ev.Reason, "JetStream is not enabled") {
		t.Fatalf("reason %q", ev.Reason)
	}
	start := time.Now()
	p.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v with a 200ms drain timeout", d)
	}
	if st := p.Stats(); st.Lost != 1 {
		t.Fatalf("stats %+v", st)
	}
}
