package pipelines

import (
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gst-react/gst-react/cloudworker"
	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/publish"
	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/testlog"
	"github.com/gst-react/gst-react/internal/wire"
)

// The 3-node cluster of pipelines/nats-cluster-{1,2,3}.conf, run with
// Debian's nats-server on free loopback ports, and what REACT does when the
// node an edge, a worker or a JetStream publisher is connected to is killed
// (SIGKILL) mid-stream.

// Waits on events (routes formed, replies, acks) are bounded generously:
// they end as soon as the event happens, and the bound only turns a hang
// into a failure. The one timing assertion, cloud help back within 2 s of a
// node's death, adds the round trip this machine measured before the kill
// (a model run on a busy core can take a second on its own), because the
// 2 s are the failover's budget, not the detector's.
const clusterEventBound = time.Minute

type clusterNode struct {
	name, url string
	cmd       *exec.Cmd
	dead      bool
}

type natsCluster struct {
	nodes []*clusterNode
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// startCluster runs the three shipped node configs with their ports and
// JetStream directories moved to free ones, and waits until every node has
// routes to the two others.
func startCluster(t *testing.T) *natsCluster {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("Debian's nats-server is not installed (make setup installs it)")
	}
	ports := freePorts(t, 6)
	dir := t.TempDir()
	c := &natsCluster{}
	for i := 1; i <= 3; i++ {
		base, err := os.ReadFile(fmt.Sprintf("nats-cluster-%d.conf", i))
		if err != nil {
			t.Fatal(err)
		}
		conf := string(base)
		repl := []string{
			fmt.Sprintf("127.0.0.1:%d", 4221+i), fmt.Sprintf("127.0.0.1:%d", ports[i-1]),
			"/tmp/gst-react-nats/react-" + strconv.Itoa(i), filepath.Join(dir, "js"+strconv.Itoa(i)),
		}
		for k := 1; k <= 3; k++ {
			repl = append(repl, fmt.Sprintf("127.0.0.1:%d", 6221+k), fmt.Sprintf("127.0.0.1:%d", ports[2+k]))
		}
		for k := 0; k < len(repl); k += 2 {
			if !strings.Contains(conf, repl[k]) {
				t.Fatalf("nats-cluster-%d.conf no longer has %q; update this test with the config", i, repl[k])
			}
		}
		conf = strings.NewReplacer(repl...).Replace(conf)
		path := filepath.Join(dir, fmt.Sprintf("node%d.conf", i))
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		n := &clusterNode{name: "react-" + strconv.Itoa(i), url: fmt.Sprintf("nats://127.0.0.1:%d", ports[i-1])}
		n.cmd = exec.Command(bin, "-c", path)
		var log strings.Builder
		n.cmd.Stdout, n.cmd.Stderr = &log, &log
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if !n.dead {
				n.cmd.Process.Kill()
				n.cmd.Wait()
			}
			if t.Failed() {
				t.Logf("%s log:\n%s", n.name, log.String())
			}
		})
		c.nodes = append(c.nodes, n)
	}
	// Routes are up when each node tells its clients about the two others.
	for _, n := range c.nodes {
		nc, err := nats.Connect(n.url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, n.name+" routed to both other nodes", func() bool { return nc.IsConnected() && len(nc.DiscoveredServers()) >= 2 })
		nc.Close()
	}
	return c
}

// kill SIGKILLs node i (0-based): its clients see their connection drop
// with no goodbye, as when a machine dies.
func (c *natsCluster) kill(t *testing.T, i int) time.Time {
	t.Helper()
	n := c.nodes[i]
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	n.cmd.Wait()
	n.dead = true
	return at
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(clusterEventBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, clusterEventBound)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// motFrames decodes MOT17-04's frames as I420, the edge's usual format.
func motFrames(t *testing.T) []frame.Frame {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testassets.SharedAssets(t), "video", "MOT17-04-FRCNN-mini", "img1", "*.jpg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("MOT17-04 frames: %v (%d files)", err, len(files))
	}
	slices.Sort(files)
	var out []frame.Frame
	for _, p := range files {
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		yc, ok := img.(*image.YCbCr)
		if !ok || yc.SubsampleRatio != image.YCbCrSubsampleRatio420 {
			t.Fatalf("%s: want a 4:2:0 JPEG", p)
		}
		w, h := yc.Rect.Dx(), yc.Rect.Dy()
		f := frame.Alloc(frame.I420, w, h)
		for y := range h {
			copy(f.Data[f.Offset[0]+y*f.Stride[0]:][:w], yc.Y[y*yc.YStride:])
		}
		for y := range (h + 1) / 2 {
			copy(f.Data[f.Offset[1]+y*f.Stride[1]:][:(w+1)/2], yc.Cb[y*yc.CStride:])
			copy(f.Data[f.Offset[2]+y*f.Stride[2]:][:(w+1)/2], yc.Cr[y*yc.CStride:])
		}
		out = append(out, f)
	}
	return out
}

func quietLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testlog.Buffer{}, nil))
}

// clusterWorker starts an in-process cloud worker (the small model: only the
// plumbing matters) given one node's URL.
func clusterWorker(t *testing.T, url string) *cloudworker.Worker {
	t.Helper()
	testassets.InitORT(t)
	w, err := cloudworker.New(cloudworker.Options{NATSURL: url, ModelPath: testassets.Model(t, "yolox_nano_416x416"),
		WorkerID: "cluster-worker", Threads: 1, ReconnectWait: 50 * time.Millisecond, SummaryInterval: -1, Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		w.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop() })
	return w
}

// clusterEdge is reactcloud's engine on a connection given one node's URL,
// fed MOT17-04 frames at 30 fps on its own goroutine.
type clusterEdge struct {
	eng     *offload.Engine
	nc      *nats.Conn
	mu      sync.Mutex
	replies []offload.Event
	frames  atomic.Int64
	stop    chan struct{}
	done    chan struct{}
}

func startEdge(t *testing.T, url string, frames []frame.Frame) *clusterEdge {
	t.Helper()
	e := &clusterEdge{stop: make(chan struct{}), done: make(chan struct{})}
	var eng atomic.Pointer[offload.Engine]
	nc, err := offload.Connect(url, "cluster-edge", func(up bool, reason string) {
		if en := eng.Load(); en != nil {
			en.SetConnected(up, reason)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := offload.DefaultConfig()
	cfg.StreamID, cfg.Interval, cfg.ChangeThreshold = "cluster-cam", 5, 0 // a request every 5th frame: 6 a second
	e.eng, err = offload.New(cfg, nc, quietLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	eng.Store(e.eng)
	e.nc = nc
	go func() {
		for ev := range e.eng.Events() {
			if ev.Kind == offload.EventReply {
				e.mu.Lock()
				e.replies = append(e.replies, ev)
				e.mu.Unlock()
			}
		}
	}()
	go func() {
		defer close(e.done)
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		var dst []detection.Detection
		for i := 0; ; i++ {
			select {
			case <-e.stop:
				return
			case <-tick.C:
			}
			f := &frames[i%len(frames)]
			dst = e.eng.Process(f, uint64(i), wire.NoPTS, nil, dst[:0])
			e.frames.Add(1)
		}
	}()
	t.Cleanup(func() {
		e.halt()
		e.eng.Close()
		nc.Close()
	})
	return e
}

func (e *clusterEdge) halt() {
	select {
	case <-e.stop:
	default:
		close(e.stop)
	}
	<-e.done
}

// repliesAfter returns the replies received after t.
func (e *clusterEdge) repliesAfter(t time.Time) []offload.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []offload.Event
	for _, r := range e.replies {
		if r.Time.After(t) {
			out = append(out, r)
		}
	}
	return out
}

// checkNothingLost stops the edge, waits for its outstanding requests to be
// answered or to time out, and checks that every frame was processed and
// every request is accounted for.
func (e *clusterEdge) checkNothingLost(t *testing.T) offload.Stats {
	t.Helper()
	e.halt()
	waitUntil(t, "outstanding requests answered or timed out", func() bool { return e.eng.Stats().Inflight == 0 })
	s := e.eng.Stats()
	if s.Frames != uint64(e.frames.Load()) {
		t.Errorf("the engine saw %d frames of %d fed", s.Frames, e.frames.Load())
	}
	accounted := s.RepliesOK + s.Timeouts + s.NoResponders + s.WorkerErrors + s.Malformed + s.WrongVersion + s.UnknownFrame + s.SendErrors
	if s.Offloaded != accounted {
		t.Errorf("%d requests sent, %d accounted for (replies %d, timeouts %d, no responders %d, errors %d)",
			s.Offloaded, accounted, s.RepliesOK, s.Timeouts, s.NoResponders, s.WorkerErrors+s.Malformed+s.SendErrors)
	}
	return s
}

// failover runs the edge until it has 3 replies, kills node victim, and
// checks that replies come back within 2 s (plus the round trip measured so
// far) and keep coming.
func failover(t *testing.T, c *natsCluster, e *clusterEdge, victim int) {
	t.Helper()
	waitUntil(t, "3 cloud replies before the kill", func() bool { return len(e.repliesAfter(time.Time{})) >= 3 })
	var rtt time.Duration
	for _, r := range e.repliesAfter(time.Time{}) {
		rtt = max(rtt, r.RTT)
	}
	killed := c.kill(t, victim)
	waitUntil(t, "a cloud reply after the kill", func() bool { return len(e.repliesAfter(killed)) > 0 })
	back := e.repliesAfter(killed)[0].Time.Sub(killed)
	t.Logf("killed %s; cloud boxes back after %v (round trip before the kill up to %v)", c.nodes[victim].name, back.Round(time.Millisecond), rtt.Round(time.Millisecond))
	if bound := 2*time.Second + rtt; back > bound {
		t.Errorf("cloud help back %v after the node died, want within 2 s + one round trip (%v)", back, bound)
	}
	waitUntil(t, "3 more replies after the failover", func() bool { return len(e.repliesAfter(killed)) >= 3 })
}

// The node the edge is connected to dies: the edge reconnects to another
// node (it was given only its own; the cluster told it the others) and
// cloud boxes come back; every frame is processed and every request
// answered or counted as timed out.
func TestClusterEdgeNodeDies(t *testing.T) {
	c := startCluster(t)
	frames := motFrames(t)
	clusterWorker(t, c.nodes[2].url)
	e := startEdge(t, c.nodes[0].url, frames)
	failover(t, c, e, 0)
	if u := e.nc.ConnectedUrl(); u == c.nodes[0].url || u == "" {
		t.Errorf("edge connected to %q after its node died", u)
	}
	s := e.checkNothingLost(t)
	t.Logf("edge: %d frames, %d requests, %d replies, %d timed out (in flight on the dead node)", s.Frames, s.Offloaded, s.RepliesOK, s.Timeouts)
}

// The node the worker is connected to dies: the worker reconnects to another
// node and resubscribes, and cloud boxes come back; the worker answered
// every request it received.
func TestClusterWorkerNodeDies(t *testing.T) {
	c := startCluster(t)
	frames := motFrames(t)
	w := clusterWorker(t, c.nodes[2].url)
	e := startEdge(t, c.nodes[0].url, frames)
	failover(t, c, e, 2)
	s := e.checkNothingLost(t)
	waitUntil(t, "the worker done with what it received", func() bool { return w.Stats().InFlight == 0 })
	ws := w.Stats()
	var answered uint64
	for _, n := range ws.Replies {
		answered += n
	}
	if ws.Requests != answered+ws.SendFailures {
		t.Errorf("worker received %d requests, answered %d, %d sends failed", ws.Requests, answered, ws.SendFailures)
	}
	t.Logf("edge: %d requests, %d replies, %d timed out, %d no responders; worker: %d received, %d reconnects",
		s.Offloaded, s.RepliesOK, s.Timeouts, s.NoResponders, ws.Requests, ws.Reconnects)
}

// JetStream publishing (reactpublish's and gstreact run --publish's
// publisher) to a 3-replica stream: the node the publisher is connected to
// dies mid-stream and every record is stored exactly once.
func TestClusterJetStreamPublishAcrossNodeLoss(t *testing.T) {
	c := startCluster(t)
	// JetStream's meta leader is elected after the routes: wait for the API.
	nc, err := nats.Connect(c.nodes[1].url, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "JetStream ready in the cluster", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	cfg := publish.DefaultConfig()
	cfg.Server, cfg.JetStream, cfg.JetStreamReplicas, cfg.StreamID = c.nodes[0].url, true, 3, "cam-js"
	cfg.DrainTimeout = clusterEventBound
	p, err := publish.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	offer := func(from, to int) {
		for i := from; i < to; i++ {
			if !p.Offer([]byte(fmt.Sprintf(`{"stream_id":"cam-js","frame":%d}`, i))) {
				t.Fatalf("record %d dropped: queue full", i)
			}
			time.Sleep(time.Millisecond) // a stream's pace, so the kill lands mid-stream
		}
	}
	offer(0, n/2)
	waitUntil(t, "some records acknowledged before the kill", func() bool { return p.Stats().Published >= n/4 })
	c.kill(t, 0)
	offer(n/2, n)
	if err := p.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	s := p.Stats()
	if s.Published != n || s.Lost != 0 || s.Dropped != 0 {
		t.Fatalf("published %d of %d, lost %d, dropped %d (failed attempts %d)", s.Published, n, s.Lost, s.Dropped, s.Failed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterEventBound)
	defer cancel()
	st, err := js.Stream(ctx, cfg.JetStreamStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.State.Msgs != n {
		t.Fatalf("stream has %d replicas and %d messages, want 3 and %d", info.Config.Replicas, info.State.Msgs, n)
	}
	seen := make([]bool, n)
	for seq := uint64(1); seq <= n; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("stream message %d: %v", seq, err)
		}
		var frameNum int
		if _, err := fmt.Sscanf(string(m.Data), `{"stream_id":"cam-js","frame":%d}`, &frameNum); err != nil || frameNum < 0 || frameNum >= n || seen[frameNum] {
			t.Fatalf("record %q: unknown or stored twice (%v)", m.Data, err)
		}
		seen[frameNum] = true
	}
	t.Logf("%d records stored once each across the loss of %s (%d failed attempts retried, %d duplicates recognised)", n, c.nodes[0].name, s.Failed, s.Duplicates)
}

// The compose file's node config is valid for nats-server (each service
// passes its own --server_name).
func TestClusterComposeConfigIsValid(t *testing.T) {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("Debian's nats-server is not installed (make setup installs it)")
	}
	out, err := exec.Command(bin, "-t", "-c", "nats-cluster-compose.conf", "--server_name", "nats-1").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid") {
		t.Fatalf("nats-server -t: %v\n%s", err, out)
	}
}
