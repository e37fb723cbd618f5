package reactcloud

import (
	"strings"
	"time"

	"github.com/go-gst/go-glib/glib"

	"github.com/gst-react/gst-react/elements/shell"
	"github.com/gst-react/gst-react/internal/offload"
	"github.com/gst-react/gst-react/internal/policy"
)

func defaultSettings() settings {
	s := settings{server: DefaultServer, cfg: offload.DefaultConfig(), policy: policy.Fixed.String()}
	s.cfg.Policy = policy.Config{MaxInterval: policy.DefaultMaxInterval, OffloadEvery: policy.DefaultOffloadEvery,
		Budgets: policy.Budgets{Window: policy.DefaultWindow}}
	return s
}

// policyProps are the adaptive policy's properties (issue 15): which policy,
// its budgets and floors.
var policyProps = []shell.Prop[settings]{
	shell.P(glib.NewStringParam("policy", "Policy",
		"fixed: every interval-th frame and scene changes to the cloud, reactdetect on its own interval (REACT). "+
			"adaptive: reactcloud decides per frame, from lost or failing tracks, new objects, unsure edge boxes, scene changes and the cloud's round trip and timeouts, "+
			"which frames go to the cloud and on which frames reactdetect upstream runs (it is told with GstReactPolicy events), within the max-* budgets; "+
			"its base detection interval comes from max-edge-fps, its base offload interval from interval when set, else from the budgets (reactdetect's interval is not used)",
		shell.Ptr(policy.Fixed.String()), shell.ReadWriteReady),
		func(s *settings) any { return s.policy }, func(s *settings, v any) { s.policy = v.(string) }),
	shell.P(glib.NewFloat64Param("max-uplink-kbps", "Uplink budget (kbit/s)",
		"policy=adaptive: request bytes sent to the cloud, in kbit/s over any budget-window; 0 = no limit",
		0, 1e9, 0, shell.ReadWriteReady),
		func(s *settings) any { return s.cfg.Policy.Budgets.UplinkKbps },
		func(s *settings, v any) { s.cfg.Policy.Budgets.UplinkKbps = v.(float64) }),
	shell.P(glib.NewFloat64Param("max-edge-fps", "Edge detector budget (runs/s)",
		"policy=adaptive: reactdetect runs per second over any budget-window; 0 = no limit",
		0, 1000, 0, shell.ReadWriteReady),
		func(s *settings) any { return s.cfg.Policy.Budgets.EdgeFPS },
		func(s *settings, v any) { s.cfg.Policy.Budgets.EdgeFPS = v.(float64) }),
	shell.P(glib.NewFloat64Param("max-cloud-rps", "Cloud request budget (requests/s)",
		"policy=adaptive: cloud requests per second over any budget-window; 0 = no limit",
		0, 1000, 0, shell.ReadWriteReady),
		func(s *settings) any { return s.cfg.Policy.Budgets.CloudRPS },
		func(s *settings, v any) { s.cfg.Policy.Budgets.CloudRPS = v.(float64) }),
	shell.P(glib.NewUintParam("budget-window", "Budget window (ms)",
		"policy=adaptive: the budgets hold over every window this long (in frames at the stream's frame rate)",
		1, 3600000, uint(policy.DefaultWindow/time.Millisecond), shell.ReadWriteReady),
		func(s *settings) any { return uint(s.cfg.Policy.Budgets.Window / time.Millisecond) },
		func(s *settings, v any) { s.cfg.Policy.Budgets.Window = time.Duration(v.(uint)) * time.Millisecond }),
	shell.P(glib.NewUintParam("max-interval", "Maximum detection interval",
		"policy=adaptive: reactdetect runs at least every this many frames (a floor; the edge budget still wins)",
		1, 100000, policy.DefaultMaxInterval, shell.ReadWriteReady),
		func(s *settings) any { return uint(s.cfg.Policy.MaxInterval) },
		func(s *settings, v any) { s.cfg.Policy.MaxInterval = int(v.(uint)) }),
	shell.P(glib.NewUintParam("offload-every", "Offload floor (ms)",
		"policy=adaptive: a frame goes to the cloud at least this often while it is up, and a down cloud is probed this often",
		1, 3600000, uint(policy.DefaultOffloadEvery/time.Millisecond), shell.ReadWriteReady),
		func(s *settings) any { return uint(s.cfg.Policy.OffloadEvery / time.Millisecond) },
		func(s *settings, v any) { s.cfg.Policy.OffloadEvery = time.Duration(v.(uint)) * time.Millisecond }),
}

// reconcilePolicy applies the interval to the policy in use and says, one
// warning each, which settings it cannot honour: with policy=adaptive a set
// interval is the base offload interval (interval=0, scene changes only,
// has no adaptive meaning); with policy=fixed the adaptive settings are
// not used.
func (s *settings) reconcilePolicy() []string {
	var warn []string
	if s.cfg.Policy.Mode == policy.Adaptive {
		if s.intervalSet && s.cfg.Interval > 0 {
			s.cfg.Policy.M = s.cfg.Interval
		} else if s.intervalSet {
			warn = append(warn, "interval=0 (only scene changes) is not used with policy=adaptive: its base offload interval comes from the budgets, and offload-every is its floor")
		}
		return warn
	}
	d := defaultSettings().cfg.Policy
	p := s.cfg.Policy
	var unused []string
	for _, u := range []struct {
		name string
		set  bool
	}{
		{"max-uplink-kbps", p.Budgets.UplinkKbps > 0}, {"max-edge-fps", p.Budgets.EdgeFPS > 0},
		{"max-cloud-rps", p.Budgets.CloudRPS > 0}, {"budget-window", p.Budgets.Window != d.Budgets.Window},
		{"max-interval", p.MaxInterval != d.MaxInterval}, {"offload-every", p.OffloadEvery != d.OffloadEvery},
	} {
		if u.set {
			unused = append(unused, u.name)
		}
	}
	if len(unused) > 0 {
		warn = append(warn, strings.Join(unused, ", ")+" apply only with policy=adaptive: not used with policy=fixed (every interval-th frame and scene changes go to the cloud)")
	}
	return warn
}

// reasonName is a reason for status messages: "" for none.
func reasonName(r policy.Reason) string {
	if r == policy.ReasonNone {
		return ""
	}
	return r.String()
}
