package eval

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Choosing a configuration for a budget (`gstreact tune`): each grid point
// of a sweep is a candidate with an accuracy (fused mAP@0.5) and three
// costs; the chosen one is the most accurate inside the budget.

// Budget bounds what a configuration may spend; a zero field is no bound.
type Budget struct {
	MaxUplinkKbps float64
	MaxEdgeFPS    float64 // edge detector runs per second
	MaxCloudRPS   float64 // cloud requests per second
}

// Candidate is one configuration as tune reports it.
type Candidate struct {
	K         int     `json:"k"`
	M         int     `json:"m"`
	LatencyMS float64 `json:"latency_ms"`
	// ChangeThreshold is reactcloud's scene-change threshold the point was
	// replayed with (0: only every m-th frame is sent).
	ChangeThreshold   float64 `json:"change_threshold"`
	MAP50             float64 `json:"map50"` // fused, against the sweep's reference
	MAP5095           float64 `json:"map50_95"`
	UplinkKbps        float64 `json:"uplink_kbps"`
	EdgeDetectPerS    float64 `json:"edge_detect_per_s"`
	CloudRequestsPerS float64 `json:"cloud_requests_per_s"`
	// Pareto: no other candidate is at least as accurate and at most as
	// costly in all three costs, and better in one of the four.
	Pareto bool `json:"pareto"`
	// InBudget: every cost is within the budget.
	InBudget bool `json:"in_budget"`
}

// Fits reports whether c spends within b.
func (b Budget) Fits(c Candidate) bool {
	within := func(v, limit float64) bool { return limit <= 0 || v <= limit }
	return within(c.UplinkKbps, b.MaxUplinkKbps) && within(c.EdgeDetectPerS, b.MaxEdgeFPS) && within(c.CloudRequestsPerS, b.MaxCloudRPS)
}

// Candidates turns one sequence's sweep results (one reference, one fusion
// setting), replayed with the scene-change threshold given, into candidates.
func Candidates(results []Result, changeThreshold float64) []Candidate {
	out := make([]Candidate, len(results))
	for i, r := range results {
		out[i] = Candidate{K: r.K, M: r.M, LatencyMS: r.LatencyMS, ChangeThreshold: changeThreshold,
			MAP50: r.Fused.MAP50, MAP5095: r.Fused.MAP5095,
			UplinkKbps: r.UplinkKbps, EdgeDetectPerS: r.EdgeDetectPerS, CloudRequestsPerS: r.CloudRequestsPerS}
	}
	return out
}

// MarkFront sets each candidate's Pareto and InBudget. Of points equal in
// accuracy and every cost (a scene-change threshold that never fired), only
// the first is on the front.
func MarkFront(cs []Candidate, b Budget) {
	same := func(a, c Candidate) bool {
		return a.K == c.K && a.M == c.M && a.MAP50 == c.MAP50 && a.UplinkKbps == c.UplinkKbps &&
			a.EdgeDetectPerS == c.EdgeDetectPerS && a.CloudRequestsPerS == c.CloudRequestsPerS
	}
	for i := range cs {
		cs[i].InBudget = b.Fits(cs[i])
		cs[i].Pareto = !slices.ContainsFunc(cs, func(o Candidate) bool { return dominates(o, cs[i]) }) &&
			!slices.ContainsFunc(cs[:i], func(o Candidate) bool { return same(o, cs[i]) })
	}
}

// dominates: a is at least as good as b everywhere and better somewhere.
func dominates(a, b Candidate) bool {
	ge := a.MAP50 >= b.MAP50 && a.UplinkKbps <= b.UplinkKbps && a.EdgeDetectPerS <= b.EdgeDetectPerS && a.CloudRequestsPerS <= b.CloudRequestsPerS
	gt := a.MAP50 > b.MAP50 || a.UplinkKbps < b.UplinkKbps || a.EdgeDetectPerS < b.EdgeDetectPerS || a.CloudRequestsPerS < b.CloudRequestsPerS
	return ge && gt
}

// byPreference orders candidates best first: more accurate, then less
// uplink, fewer edge runs, fewer requests, then smaller k and m.
func byPreference(a, b Candidate) int {
	return cmp.Or(-cmp.Compare(a.MAP50, b.MAP50), cmp.Compare(a.UplinkKbps, b.UplinkKbps),
		cmp.Compare(a.EdgeDetectPerS, b.EdgeDetectPerS), cmp.Compare(a.CloudRequestsPerS, b.CloudRequestsPerS),
		cmp.Compare(a.K, b.K), cmp.Compare(a.M, b.M))
}

// SortCandidates orders candidates best first (see Choose).
func SortCandidates(cs []Candidate) { slices.SortStableFunc(cs, byPreference) }

// Choose returns the most accurate candidate inside the budget (ties: the
// cheaper one), or, when none fits, an error naming the cheapest candidate:
// the one whose largest cost relative to its bound is smallest.
func Choose(cs []Candidate, b Budget) (Candidate, error) {
	var in []Candidate
	for _, c := range cs {
		if b.Fits(c) {
			in = append(in, c)
		}
	}
	if len(in) > 0 {
		return slices.MinFunc(in, byPreference), nil
	}
	if len(cs) == 0 {
		return Candidate{}, fmt.Errorf("no configurations to choose from")
	}
	// Each cost relative to its bound: the cheapest point has the smallest
	// worst ratio, then the smallest sum.
	ratios := func(c Candidate) (worst, sum float64) {
		for _, r := range [][2]float64{{c.UplinkKbps, b.MaxUplinkKbps}, {c.EdgeDetectPerS, b.MaxEdgeFPS}, {c.CloudRequestsPerS, b.MaxCloudRPS}} {
			if r[1] > 0 {
				worst, sum = max(worst, r[0]/r[1]), sum+r[0]/r[1]
			}
		}
		return worst, sum
	}
	cheapest := slices.MinFunc(cs, func(a, c Candidate) int {
		wa, sa := ratios(a)
		wc, sc := ratios(c)
		return cmp.Or(cmp.Compare(wa, wc), cmp.Compare(sa, sc), byPreference(a, c))
	})
	return Candidate{}, fmt.Errorf("no configuration fits the budget (%s); the cheapest is k=%d m=%d change-threshold %g: %.1f kbit/s uplink, %.3g edge runs/s, %.3g cloud requests/s (fused mAP@0.5 %.1f%%): raise the budget or add larger --k/--m",
		b, cheapest.K, cheapest.M, cheapest.ChangeThreshold, cheapest.UplinkKbps, cheapest.EdgeDetectPerS, cheapest.CloudRequestsPerS, 100*cheapest.MAP50)
}

func (b Budget) String() string {
	lim := func(v float64, unit string) string {
		if v <= 0 {
			return "no limit"
		}
		return fmt.Sprintf("%s %s", trimFloat(v), unit)
	}
	return fmt.Sprintf("uplink %s, edge %s, cloud %s", lim(b.MaxUplinkKbps, "kbit/s"), lim(b.MaxEdgeFPS, "runs/s"), lim(b.MaxCloudRPS, "requests/s"))
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%g", v)
}
