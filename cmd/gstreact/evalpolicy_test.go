package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/eval"
)

func TestEvalPolicyFlags(t *testing.T) {
	parse := func(args ...string) (bool, bool, eval.AdaptiveOptions, error) {
		fs := flag.NewFlagSet("eval", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f := addEvalPolicyFlags(fs)
		if err := fs.Parse(args); err != nil {
			return false, false, eval.AdaptiveOptions{}, err
		}
		return f.parse()
	}
	if fixed, adaptive, _, err := parse(); err != nil || !fixed || adaptive {
		t.Fatalf("default: fixed %v adaptive %v %v, want fixed only", fixed, adaptive, err)
	}
	fixed, adaptive, a, err := parse("--policy", "fixed,adaptive", "--max-uplink-kbps", "300", "--max-edge-fps", "8")
	if err != nil || !fixed || !adaptive || a.Budgets.UplinkKbps != 300 || a.Budgets.EdgeFPS != 8 {
		t.Fatalf("both: %v %v %+v %v", fixed, adaptive, a, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--policy", "smart"}, `unknown policy "smart"`},
		{[]string{"--policy", "adaptive", "--max-edge-fps", "0.5"}, "max-interval 30"},
		{[]string{"--policy", "adaptive", "--max-uplink-kbps", "-1"}, "budgets must be >= 0"},
	} {
		if _, _, _, err := parse(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error with %q", c.args, err, c.want)
		}
	}
}
