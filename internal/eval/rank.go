package eval

import (
	"math"
	"slices"
)

// Spearman is the Spearman rank correlation of x and y (equal lengths):
// Pearson's correlation of their ranks, ties taking the mean of the ranks
// they span. NaN when there are fewer than two pairs or either side is
// constant (no ranking to compare).
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 2 {
		return math.NaN()
	}
	return pearson(ranks(x), ranks(y))
}

// ranks gives each value its 1-based rank in ascending order; tied values
// share the mean of their ranks.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case v[a] < v[b]:
			return -1
		case v[a] > v[b]:
			return 1
		}
		return 0
	})
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		mean := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = mean
		}
		i = j + 1
	}
	return r
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// Agreement is how well two references rank the same configurations of one
// sequence by fused mAP@0.5.
type Agreement struct {
	Sequence string
	A, B     string // the references' labels (Result.Reference with classes)
	Points   int    // configurations ranked under both
	Spearman float64
}

// RankAgreement pairs the results of each sequence scored under two or more
// references (same k, m, latency and fusion settings) and gives the Spearman
// correlation of fused mAP@0.5 between each reference and the first one,
// per sequence, in the order the results came.
func RankAgreement(results []Result) []Agreement {
	type point struct {
		seq      string
		k, m     int
		lat      float64
		fp       FusionParams
		frames   int
		playback string
		tracker  string
	}
	label := func(r Result) string { return r.Reference + " " + r.Classes }
	var out []Agreement
	var seqs []string
	byRef := map[string][]string{} // sequence -> reference labels in order
	values := map[string]map[string]map[point]float64{}
	for _, r := range results {
		if !slices.Contains(seqs, r.Sequence) {
			seqs = append(seqs, r.Sequence)
			values[r.Sequence] = map[string]map[point]float64{}
		}
		l := label(r)
		if values[r.Sequence][l] == nil {
			values[r.Sequence][l] = map[point]float64{}
			byRef[r.Sequence] = append(byRef[r.Sequence], l)
		}
		values[r.Sequence][l][point{r.Sequence, r.K, r.M, r.LatencyMS, r.FusionParams, r.Frames, r.Playback, r.Tracker}] = r.Fused.MAP50
	}
	for _, s := range seqs {
		refs := byRef[s]
		for _, other := range refs[min(1, len(refs)):] {
			var x, y []float64
			for _, r := range results { // grid order
				if r.Sequence != s || label(r) != refs[0] {
					continue
				}
				pt := point{r.Sequence, r.K, r.M, r.LatencyMS, r.FusionParams, r.Frames, r.Playback, r.Tracker}
				if v, ok := values[s][other][pt]; ok {
					x, y = append(x, r.Fused.MAP50), append(y, v)
				}
			}
			out = append(out, Agreement{Sequence: s, A: refs[0], B: other, Points: len(x), Spearman: Spearman(x, y)})
		}
	}
	return out
}
