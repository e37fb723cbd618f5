package pipelines

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/testassets"
)

// REACT across a real, limited link: the edge (`gstreact run`) and the cloud
// (Debian's nats-server and `gstreact cloudworker`) in two network
// namespaces joined by a veth pair whose edge side is shaped with tc tbf
// (netem, which would add delay, is not in these kernels: the worker's
// --extra-latency stands in for the WAN's delay). The test measures uplink
// use and round trips at 2 and 10 Mbit/s, then cuts the link
// (`ip link set down`) for at least 5 s: the edge keeps going edge-only, and
// cloud boxes come back once the link is up. It skips, saying why, where
// namespaces cannot be made (not root, no ip or tc, a container without
// CAP_NET_ADMIN).

// link is the two namespaces and the veth between them.
type link struct {
	edgeNS, cloudNS string
	edgeDev         string
	cloudIP         string
}

// linkWANDelay is the worker's --extra-latency: the delay a WAN would add.
const linkWANDelay = 50 * time.Millisecond

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func newLink(t *testing.T) *link {
	t.Helper()
	for _, bin := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("link test skipped: no %s command (iproute2)", bin)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("link test skipped: network namespaces need root (CAP_NET_ADMIN)")
	}
	id := os.Getpid() % 100000
	l := &link{edgeNS: fmt.Sprintf("gsr-edge-%d", id), cloudNS: fmt.Sprintf("gsr-cloud-%d", id), edgeDev: fmt.Sprintf("gsre%d", id)}
	cloudDev := fmt.Sprintf("gsrc%d", id)
	subnet := fmt.Sprintf("10.250.%d", id%250)
	l.cloudIP = subnet + ".2"
	if err := ipCmd("netns", "add", l.edgeNS); err != nil {
		t.Skipf("link test skipped: cannot make a network namespace here: %v", err)
	}
	t.Cleanup(func() { ipCmd("netns", "del", l.edgeNS) })
	if err := ipCmd("netns", "add", l.cloudNS); err != nil {
		t.Skipf("link test skipped: cannot make a second network namespace: %v", err)
	}
	t.Cleanup(func() { ipCmd("netns", "del", l.cloudNS) })
	steps := [][]string{
		{"link", "add", l.edgeDev, "netns", l.edgeNS, "type", "veth", "peer", "name", cloudDev, "netns", l.cloudNS},
		{"-n", l.edgeNS, "addr", "add", subnet + ".1/24", "dev", l.edgeDev},
		{"-n", l.cloudNS, "addr", "add", l.cloudIP + "/24", "dev", cloudDev},
		{"-n", l.edgeNS, "link", "set", "lo", "up"},
		{"-n", l.cloudNS, "link", "set", "lo", "up"},
		{"-n", l.edgeNS, "link", "set", l.edgeDev, "up"},
		{"-n", l.cloudNS, "link", "set", cloudDev, "up"},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			t.Skipf("link test skipped: cannot set up the veth pair: %v", err)
		}
	}
	return l
}

// shape limits the edge's uplink (its veth's egress) with a token bucket.
func (l *link) shape(t *testing.T, rate string) {
	t.Helper()
	verb := "replace"
	out, err := exec.Command("ip", "netns", "exec", l.edgeNS, "tc", "qdisc", verb, "dev", l.edgeDev, "root",
		"tbf", "rate", rate, "burst", "32kbit", "latency", "400ms").CombinedOutput()
	if err != nil {
		t.Skipf("link test skipped: tc tbf is not available: %v: %s", err, out)
	}
}

func (l *link) setUp(t *testing.T, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if err := ipCmd("-n", l.edgeNS, "link", "set", l.edgeDev, state); err != nil {
		t.Fatal(err)
	}
}

// txBytes is what the edge has sent over the link.
func (l *link) txBytes(t *testing.T) uint64 {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", l.edgeNS, "cat", "/sys/class/net/"+l.edgeDev+"/statistics/tx_bytes").Output()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// lineWatcher collects a process's output lines and lets a test wait for
// one that matches.
type lineWatcher struct {
	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
	done  bool
}

func watchLines(r io.Reader) *lineWatcher {
	w := &lineWatcher{}
	w.cond = sync.NewCond(&w.mu)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			w.cond.Broadcast()
			w.mu.Unlock()
		}
		w.mu.Lock()
		w.done = true
		w.cond.Broadcast()
		w.mu.Unlock()
	}()
	return w
}

// waitFor returns the first line from index from on that matches re, and
// the index after it; it fails when the output ends or after bound.
func (w *lineWatcher) waitFor(t *testing.T, from int, re *regexp.Regexp, what string, bound time.Duration) (string, int) {
	t.Helper()
	timer := time.AfterFunc(bound, func() { w.mu.Lock(); w.done = true; w.cond.Broadcast(); w.mu.Unlock() })
	defer timer.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := from; ; i++ {
		for i >= len(w.lines) && !w.done {
			w.cond.Wait()
		}
		if i >= len(w.lines) {
			t.Fatalf("%s: not seen within %v; output:\n%s", what, bound, strings.Join(w.lines, "\n"))
		}
		if re.MatchString(w.lines[i]) {
			return w.lines[i], i + 1
		}
	}
}

func (w *lineWatcher) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

// startCloud runs nats-server and a worker in the cloud namespace and waits
// until the worker serves.
func (l *link) startCloud(t *testing.T, cli string) string {
	t.Helper()
	natsBin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("link test skipped: Debian's nats-server is not installed (make setup installs it)")
	}
	base, err := os.ReadFile("nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "nats.conf")
	os.WriteFile(conf, []byte(strings.Replace(string(base), "127.0.0.1:4222", l.cloudIP+":4222", 1)), 0o644)
	url := "nats://" + l.cloudIP + ":4222"
	srv := exec.Command("ip", "netns", "exec", l.cloudNS, natsBin, "-c", conf)
	srvOut, _ := srv.StdoutPipe()
	srv.Stderr = srv.Stdout
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	watchLines(srvOut).waitFor(t, 0, regexp.MustCompile(`Server is ready`), "nats-server ready in the cloud namespace", time.Minute)
	w := exec.Command("ip", "netns", "exec", l.cloudNS, cli, "cloudworker", "--nats", url, "--model", "yolox_nano_416x416",
		"--extra-latency", linkWANDelay.String(), "--summary-interval", "0", "--worker-id", "link-worker")
	wOut, _ := w.StdoutPipe()
	w.Stderr = w.Stdout
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Process.Kill(); w.Wait() })
	watchLines(wOut).waitFor(t, 0, regexp.MustCompile(`cloud worker serving`), "worker serving in the cloud namespace", 2*time.Minute)
	return url
}

// seqPrefix links the first n frames of TUD-Stadtmitte (640x480 street
// scene) into a folder the run reads as an image sequence.
func seqPrefix(t *testing.T, n int) string {
	t.Helper()
	src := filepath.Join(testassets.SharedAssets(t), "video", "TUD-Stadtmitte", "img1")
	dir := filepath.Join(t.TempDir(), "img1")
	os.MkdirAll(dir, 0o755)
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("%06d.jpg", i)
		if err := os.Symlink(filepath.Join(src, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var cloudSummaryRE = regexp.MustCompile(`cloud: (\w+); (\d+) frames offloaded, (\d+) replies, mean round trip (\d+) ms, (\d+) skipped`)

func TestLinkShapedAndCut(t *testing.T) {
	cli := filepath.Join(testassets.ModuleRoot(), "build", "gstreact")
	if _, err := os.Stat(cli); err != nil {
		t.Skipf("no %s: run `make build` first (make test does)", cli)
	}
	l := newLink(t)
	l.shape(t, "10mbit")
	url := l.startCloud(t, cli)
	// 90 frames: 18 requests per rate in a few seconds;
	// GSTREACT_LINK_LONG=1 plays all 179.
	frames := 90
	if os.Getenv("GSTREACT_LINK_LONG") != "" {
		frames = 179
	}
	seq := seqPrefix(t, frames)

	// Uplink and round trips at each rate: the same frames, a request every
	// 5th frame, played at the sequence's 25 fps (--realtime) so that the
	// run lasts as long as the footage (3.6 s) on any machine: played as fast
	// as a fast machine goes, it could end before the first 181 KB request
	// had crossed the 2 Mbit/s link (0.7 s).
	for _, rate := range []string{"2mbit", "10mbit"} {
		l.shape(t, rate)
		before := l.txBytes(t)
		t0 := time.Now()
		out, err := exec.Command("ip", "netns", "exec", l.edgeNS, cli, "run", "--input", seq, "--output", "none", "--realtime",
			"--nats", url, "--cloud-interval", "5", "--change-threshold", "0", "--quiet").CombinedOutput()
		el := time.Since(t0)
		if err != nil {
			t.Fatalf("run at %s: %v\n%s", rate, err, out)
		}
		m := cloudSummaryRE.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("run at %s printed no cloud summary:\n%s", rate, out)
		}
		sent := l.txBytes(t) - before
		replies, _ := strconv.Atoi(m[3])
		offloaded, _ := strconv.Atoi(m[2])
		t.Logf("%s: %d frames offloaded (%.0f KB each on the wire), %d replies, mean round trip %s ms (worker adds %v), %s skipped while in flight; uplink %.0f KB in %.1f s = %.2f Mbit/s on average",
			rate, offloaded, float64(sent)/1e3/float64(max(1, offloaded)), replies, m[4], linkWANDelay, m[5], float64(sent)/1e3, el.Seconds(), float64(sent)*8/el.Seconds()/1e6)
		if replies == 0 {
			t.Errorf("%s: no cloud reply over the link:\n%s", rate, out)
		}
		// The shaper holds: no more than the rate (plus its 32 kbit burst).
		if limit := map[string]float64{"2mbit": 2e6, "10mbit": 10e6}[rate]; float64(sent)*8 > limit*el.Seconds()+32e3 {
			t.Errorf("%s: %d bytes in %v is over the link's rate", rate, sent, el)
		}
	}

	// The cut: a synthetic stream long enough for it; the run is stopped
	// with SIGINT (end of stream) once the cloud is back.
	l.shape(t, "10mbit")
	run := exec.Command("ip", "netns", "exec", l.edgeNS, cli, "run", "--input", "test", "--test-frames", "1000000",
		"--output", "none", "--nats", url, "--cloud-interval", "5", "--change-threshold", "0")
	out, _ := run.StderrPipe()
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { run.Process.Kill(); run.Wait() }()
	lines := watchLines(out)
	up := regexp.MustCompile(`cloud up rtt`)
	down := regexp.MustCompile(`cloud down`)
	frameRE := regexp.MustCompile(`^frames (\d+)`)
	_, i := lines.waitFor(t, 0, up, "cloud up before the cut", 2*time.Minute)
	l.setUp(t, false)
	cut := time.Now()
	// Timeouts (2 s each, three in a row) declare the cloud down: keep the
	// link cut until the edge says so, and at least 5 s.
	line, i := lines.waitFor(t, i, down, "edge-only (cloud down) while the link is cut", time.Minute)
	downAt := time.Since(cut)
	fr0, _ := strconv.Atoi(frameRE.FindStringSubmatch(line)[1])
	time.Sleep(max(0, 5*time.Second-time.Since(cut)))
	line, i = lines.waitFor(t, i, frameRE, "a status line while cut", time.Minute)
	fr1, _ := strconv.Atoi(frameRE.FindStringSubmatch(line)[1])
	if !down.MatchString(line) {
		t.Errorf("link still cut, but the status says: %s", line)
	}
	if fr1 <= fr0 {
		t.Errorf("the edge stalled while the link was cut: frame %d, then %d", fr0, fr1)
	}
	cutFor := time.Since(cut)
	l.setUp(t, true)
	restored := time.Now()
	// TCP retransmission back-off after a long outage holds the queued
	// request bytes for up to a few seconds: bound generously, log the figure.
	lines.waitFor(t, i, up, "cloud back after the link is restored", time.Minute)
	t.Logf("link cut %.1f s: cloud down %.1f s after the cut, frames %d → %d edge-only; cloud up %.1f s after the link came back",
		cutFor.Seconds(), downAt.Seconds(), fr0, fr1, time.Since(restored).Seconds())
	run.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- run.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Errorf("run did not end within a minute of SIGINT:\n%s", lines.text())
	}
}
