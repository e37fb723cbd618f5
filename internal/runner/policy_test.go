package runner_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/policy"
	"github.com/gst-react/gst-react/internal/runner"
)

// gstreact run with policy=adaptive shows the effective k and m and why
// (issue 15) in its Prometheus metrics and its status line. The run goes on
// until reactcloud's status (posted every second) has reasons for both a
// detection and an offload, read off /metrics, and is then stopped: an
// event, at any speed (a minute bounds a hang).
func TestRunAdaptiveStatusLineAndMetrics(t *testing.T) {
	if err := runner.Init(); err != nil {
		t.Fatal(err)
	}
	testStart := time.Now()
	run := startRun(t, runner.Options{
		Input: "test", TestFrames: 1 << 20, Output: "none", Threshold: -1, NMSThreshold: -1, Threads: 1,
		Policy: "adaptive", MaxEdgeFPS: 10, MaxUplinkKbps: 5000,
		MetricsAddr: "127.0.0.1:0", ProgressEvery: 100 * time.Millisecond,
	}, nil)
	metricsURL := run.ev.wait(t, runner.EventMetrics, testStart, 30*time.Second).Detail

	reasons := map[string]bool{}
	for r := policy.ReasonNone + 1; r <= policy.ReasonCloudDown; r++ {
		reasons[r.String()] = true
	}
	reason := regexp.MustCompile(`(?m)^gstreact_run_policy_reason\{stream="stream0",decision="(detect|offload|held)",reason="([a-z-]+)"\} 1$`)
	var page string
	shown := func() bool {
		resp, err := http.Get(metricsURL)
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(b)
		got := map[string]bool{}
		for _, m := range reason.FindAllStringSubmatch(page, -1) {
			got[m[1]] = reasons[m[2]]
		}
		return got["detect"] && got["offload"] &&
			metric(page, "gstreact_run_policy_effective_k", "stream0") > 0 && metric(page, "gstreact_run_policy_effective_m", "stream0") > 0
	}
	if !waitFor(time.Minute, shown) {
		t.Fatalf("the metrics never showed the adaptive k, m and reasons:\n%s\nprogress:\n%s", page, run.progress.String())
	}
	if metric(page, "gstreact_run_cloud_queue_wait_milliseconds", "stream0") < 0 {
		t.Errorf("metrics lack the worker's queue wait:\n%s", page)
	}
	for _, l := range strings.Split(page, "\n") {
		if (strings.Contains(l, "policy_") || strings.Contains(l, "queue_wait")) && !strings.HasPrefix(l, "#") {
			t.Log(l)
		}
	}
	if _, err := run.stop(t, 30*time.Second); err != nil {
		t.Fatalf("run: %v", err)
	}
	// The status line: "… adaptive k 4.3 m 30 (interval/interval)", maybe
	// then "held: backoff"; the last one has what the metrics showed, or newer.
	line := regexp.MustCompile(`adaptive k ([0-9.]+) m ([0-9.]+) \(([a-z-]+)/([a-z-]+)\)( held: ([a-z-]+))?`)
	out := run.progress.String()
	all := line.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		t.Fatalf("no status line shows the adaptive policy:\n%s", out)
	}
	m := all[len(all)-1]
	if m[1] == "0.0" || m[2] == "0" || !reasons[m[3]] || !reasons[m[4]] || (m[6] != "" && !reasons[m[6]]) {
		t.Fatalf("the last status line shows %q: want the effective k and m and known reasons:\n%s", m[0], out)
	}
	t.Logf("last status line: …%s; took %.1f s", m[0], time.Since(testStart).Seconds())
}
