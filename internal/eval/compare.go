package eval

import (
	"fmt"
	"io"
)

// Comparison sets one adaptive row against the fixed rows of the same
// sequence, reference, latency and fusion setting that spend no more uplink
// and no more edge detector runs than it does (equal spend or less).
type Comparison struct {
	Adaptive Result
	// Dominated counts those fixed rows; Best is the most accurate of
	// them (fused mAP@0.5; valid when Dominated > 0).
	Dominated int
	Best      Result
	// Within reports whether the adaptive row kept its budgets.
	Within bool
}

// Gain is the adaptive row's fused mAP@0.5 minus Best's (0 without one).
func (c Comparison) Gain() float64 {
	if c.Dominated == 0 {
		return 0
	}
	return c.Adaptive.Fused.MAP50 - c.Best.Fused.MAP50
}

// CompareAdaptive pairs every adaptive row with the fixed rows it spends at
// least as much as; budgets are the adaptive policy's (0 = none).
func CompareAdaptive(results []Result, uplinkKbps, edgeFPS float64) []Comparison {
	var out []Comparison
	for _, a := range results {
		if a.Policy != PolicyAdaptive {
			continue
		}
		c := Comparison{Adaptive: a,
			Within: (uplinkKbps <= 0 || a.UplinkKbps <= uplinkKbps) && (edgeFPS <= 0 || a.EdgeDetectPerS <= edgeFPS)}
		for _, f := range results {
			if f.Policy == PolicyAdaptive || f.Sequence != a.Sequence || f.Reference != a.Reference || f.Classes != a.Classes ||
				f.LatencyMS != a.LatencyMS || f.FusionParams != a.FusionParams ||
				f.UplinkKbps > a.UplinkKbps || f.EdgeDetectPerS > a.EdgeDetectPerS {
				continue
			}
			if c.Dominated == 0 || f.Fused.MAP50 > c.Best.Fused.MAP50 {
				c.Best = f
			}
			c.Dominated++
		}
		out = append(out, c)
	}
	return out
}

// WriteComparisons writes one line per comparison, scores in percent.
func WriteComparisons(w io.Writer, cs []Comparison) error {
	for _, c := range cs {
		a := c.Adaptive
		within := "within budgets"
		if !c.Within {
			within = "OVER BUDGET"
		}
		line := fmt.Sprintf("%s %s latency %s: adaptive fused %.1f at %.3g edge runs/s, %.1f kbit/s (%s); ",
			a.Sequence, a.Reference, FormatLatency(a.LatencyMS), 100*a.Fused.MAP50, a.EdgeDetectPerS, a.UplinkKbps, within)
		if c.Dominated == 0 {
			line += "no fixed row spends as little\n"
		} else {
			line += fmt.Sprintf("best of the %d fixed rows spending no more: k=%d m=%d fused %.1f (%+.1f points)\n",
				c.Dominated, c.Best.K, c.Best.M, 100*c.Best.Fused.MAP50, 100*c.Gain())
		}
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
	}
	return nil
}
