package tracker

import (
	"fmt"
	"strings"
)

// Method is the single-object tracker that Tracks moves boxes with.
type Method uint8

const (
	// MethodDefault (the zero value) is DefaultMethod.
	MethodDefault Method = iota
	// MethodMedianFlow: Median Flow (MedianFlow), pyramidal Lucas–Kanade on a
	// grid of points with forward–backward filtering.
	MethodMedianFlow
	// MethodKCF: a kernelized correlation filter (KCF) on a grey template.
	MethodKCF
)

// DefaultMethod is the tracker a zero Config.Method selects. Median Flow:
// with `gstreact eval --tracker medianflow,kcf` on TUD-Stadtmitte and
// OxfordTownCentre played once (k 2, 5, 10; m 10, 30, 60; latency 0, 300 ms,
// 1 s; Median Flow with its 7-px windows, boxes clipped to the frame) KCF's
// fused is a tie (mean mAP@0.5 80.4 -> 80.6 and 86.9 -> 86.5), its edge-only
// too or worse (79.4 -> 79.5, 80.6 -> 80.2), its fast-forward loses TUD's
// close walkers more often (cloud-only 49.0 -> 43.9; Oxford 68.7 -> 69.4),
// and it costs twice as much per object (README, Accuracy).
const DefaultMethod = MethodMedianFlow

var methodNames = [...]string{MethodDefault: "default", MethodMedianFlow: "medianflow", MethodKCF: "kcf"}

// MethodNames lists the names ParseMethod accepts, for flags and properties.
const MethodNames = "medianflow or kcf"

func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("Method(%d)", uint8(m))
}

// Resolve returns the method m stands for: DefaultMethod for MethodDefault.
func (m Method) Resolve() Method {
	if m == MethodDefault {
		return DefaultMethod
	}
	return m
}

// ParseMethod reads a tracker name: medianflow or kcf (case-insensitive;
// "median-flow" is accepted too).
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "medianflow", "median-flow", "median_flow":
		return MethodMedianFlow, nil
	case "kcf":
		return MethodKCF, nil
	}
	return MethodDefault, fmt.Errorf("unknown tracker %q (want %s)", s, MethodNames)
}
