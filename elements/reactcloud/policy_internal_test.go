package reactcloud

import (
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/policy"
)

// With policy=adaptive a set interval is the policy's base offload interval
// (unset or 0: from the budgets, and 0 says it is not used); with
// policy=fixed the adaptive settings are named as not used.
func TestReconcilePolicy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(s *settings)
		wantM int
		warn  []string
	}{
		{"adaptive, interval unset", func(s *settings) { s.cfg.Policy.Mode = policy.Adaptive }, 0, nil},
		{"adaptive, interval=12", func(s *settings) {
			s.cfg.Policy.Mode = policy.Adaptive
			s.cfg.Interval, s.intervalSet = 12, true
		}, 12, nil},
		{"adaptive, interval=0", func(s *settings) {
			s.cfg.Policy.Mode = policy.Adaptive
			s.cfg.Interval, s.intervalSet = 0, true
		}, 0, []string{"interval=0", "not used with policy=adaptive"}},
		{"fixed, defaults", func(s *settings) { s.cfg.Interval, s.intervalSet = 12, true }, 0, nil},
		{"fixed, budgets", func(s *settings) {
			s.cfg.Policy.Budgets.EdgeFPS, s.cfg.Policy.Budgets.UplinkKbps = 6, 300
			s.cfg.Policy.OffloadEvery = time.Second
		}, 0, []string{"max-uplink-kbps, max-edge-fps, offload-every apply only with policy=adaptive"}},
	} {
		s := defaultSettings()
		tc.set(&s)
		warn := s.reconcilePolicy()
		if s.cfg.Policy.M != tc.wantM || len(warn) != min(1, len(tc.warn)) {
			t.Errorf("%s: base m %d, warnings %q; want m %d and %q", tc.name, s.cfg.Policy.M, warn, tc.wantM, tc.warn)
			continue
		}
		for _, w := range tc.warn {
			if !strings.Contains(warn[0], w) {
				t.Errorf("%s: warning %q lacks %q", tc.name, warn[0], w)
			}
		}
	}
}
