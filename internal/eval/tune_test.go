package eval_test

import (
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/eval"
)

func cand(k, m int, map50, kbps, edge, rps float64) eval.Candidate {
	return eval.Candidate{K: k, M: m, MAP50: map50, UplinkKbps: kbps, EdgeDetectPerS: edge, CloudRequestsPerS: rps}
}

func TestChooseWithinBudget(t *testing.T) {
	cs := []eval.Candidate{
		cand(1, 10, 0.90, 900, 30, 3),   // most accurate, over both budgets
		cand(5, 10, 0.85, 900, 6, 3),    // over the uplink budget
		cand(5, 30, 0.80, 300, 6, 1),    // the best that fits
		cand(10, 30, 0.80, 300, 3, 1),   // as accurate, cheaper: wins the tie
		cand(10, 60, 0.70, 150, 3, 0.5), // fits, less accurate
		cand(20, 60, 0.65, 150, 3, 0.5), // dominated by (10, 60)
	}
	b := eval.Budget{MaxUplinkKbps: 400, MaxEdgeFPS: 6}
	eval.MarkFront(cs, b)
	got, err := eval.Choose(cs, b)
	if err != nil || got.K != 10 || got.M != 30 {
		t.Fatalf("chose %+v, %v; want k=10 m=30", got, err)
	}
	for _, c := range cs {
		if c.InBudget && c.MAP50 > got.MAP50 {
			t.Fatalf("%+v is in the budget and beats the chosen one", c)
		}
	}
	front := map[[2]int]bool{}
	for _, c := range cs {
		front[[2]int{c.K, c.M}] = c.Pareto
	}
	if !front[[2]int{1, 10}] || front[[2]int{5, 30}] || front[[2]int{20, 60}] || !front[[2]int{10, 60}] {
		t.Fatalf("Pareto front %v", front)
	}
	eval.SortCandidates(cs)
	if cs[0].K != 1 || cs[len(cs)-1].K != 20 {
		t.Fatalf("not best first: %+v", cs)
	}

	_, err = eval.Choose(cs, eval.Budget{MaxUplinkKbps: 100, MaxEdgeFPS: 1})
	if err == nil || !strings.Contains(err.Error(), "cheapest is k=10 m=60") {
		t.Fatalf("a budget nothing fits: %v, want the cheapest point named", err)
	}
	if got, err := eval.Choose(cs, eval.Budget{}); err != nil || got.K != 1 {
		t.Fatalf("no budget: %+v, %v; want the most accurate", got, err)
	}
}
