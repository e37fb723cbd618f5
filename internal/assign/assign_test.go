package assign

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// bruteForce enumerates every partial injective assignment of a rows×cols
// matrix and returns the best total under keep (which pairs are allowed) and
// full (whether only assignments with min(rows, cols) pairs count). minimize
// selects the direction of "best".
func bruteForce(w []float64, rows, cols int, allowed func(r, c int) bool, full, minimize bool) (best float64, found bool) {
	usedCol := make([]bool, cols)
	want := min(rows, cols)
	var rec func(r, n int, total float64)
	rec = func(r, n int, total float64) {
		if r == rows {
			if full && n != want {
				return
			}
			if !found || (minimize && total < best) || (!minimize && total > best) {
				best, found = total, true
			}
			return
		}
		rec(r+1, n, total) // row r unassigned
		for c := range cols {
			if !usedCol[c] && allowed(r, c) {
				usedCol[c] = true
				rec(r+1, n+1, total+w[r*cols+c])
				usedCol[c] = false
			}
		}
	}
	rec(0, 0, 0)
	return best, found
}

// checkPairs verifies that pairs are in range, one-to-one and in ascending Row order.
func checkPairs(t *testing.T, pairs []Pair, rows, cols int) {
	t.Helper()
	seenCol := make(map[int]bool)
	for i, p := range pairs {
		if p.Row < 0 || p.Row >= rows || p.Col < 0 || p.Col >= cols {
			t.Fatalf("pair %v out of range %d×%d", p, rows, cols)
		}
		if i > 0 && pairs[i-1].Row >= p.Row {
			t.Fatalf("pairs not in strictly ascending row order: %v", pairs)
		}
		if seenCol[p.Col] {
			t.Fatalf("column %d assigned twice: %v", p.Col, pairs)
		}
		seenCol[p.Col] = true
	}
}

func randomCost(rng *rand.Rand, rows, cols int) []float64 {
	m := make([]float64, rows*cols)
	kind := rng.IntN(4)
	for i := range m {
		switch kind {
		case 0: // continuous, mixed sign
			m[i] = rng.Float64()*200 - 100
		case 1: // small integers: many ties
			m[i] = float64(rng.IntN(4))
		case 2: // mostly zero
			if rng.IntN(3) == 0 {
				m[i] = rng.Float64()
			}
		case 3: // large magnitudes
			m[i] = (rng.Float64() - 0.5) * 1e9
		}
	}
	return m
}

func TestMinimizeBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s Solver // shared: exercises buffer reuse across shapes
	var pairs []Pair
	for iter := range 3000 {
		rows, cols := rng.IntN(7), rng.IntN(7)
		cost := randomCost(rng, rows, cols)
		var err error
		if iter%2 == 0 {
			pairs, err = s.Minimize(cost, rows, cols, pairs[:0])
		} else {
			c32 := make([]float32, len(cost))
			for i, x := range cost {
				c32[i] = float32(x)
				cost[i] = float64(c32[i]) // compare against what the solver saw
			}
			pairs, err = s.Minimize32(c32, rows, cols, pairs[:0])
		}
		if err != nil {
			t.Fatal(err)
		}
		checkPairs(t, pairs, rows, cols)
		if len(pairs) != min(rows, cols) {
			t.Fatalf("%d×%d: got %d pairs, want %d", rows, cols, len(pairs), min(rows, cols))
		}
		got := 0.0
		for _, p := range pairs {
			got += cost[p.Row*cols+p.Col]
		}
		want, _ := bruteForce(cost, rows, cols, func(int, int) bool { return true }, true, true)
		if math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
			t.Fatalf("%d×%d cost %v: total %v, brute force %v (pairs %v)", rows, cols, cost, got, want, pairs)
		}
	}
}

func randomIoU(rng *rand.Rand, rows, cols int, threshold float32) []float32 {
	m := make([]float32, rows*cols)
	for i := range m {
		switch rng.IntN(8) {
		case 0, 1, 2:
			m[i] = 0
		case 3:
			m[i] = threshold // exactly at the threshold: admissible
		case 4:
			m[i] = threshold * 0.999 // just below: forbidden
		case 5:
			if rng.IntN(4) == 0 {
				m[i] = float32(math.NaN())
			} else {
				m[i] = float32(rng.IntN(3)) / 4 // ties
			}
		default:
			m[i] = rng.Float32()
		}
	}
	return m
}

func TestMaximizeIoUBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var s Solver
	var pairs []Pair
	for range 4000 {
		rows, cols := rng.IntN(7), rng.IntN(7)
		threshold := []float32{0.5, 0.3, 0.1, 1e-6}[rng.IntN(4)]
		iou := randomIoU(rng, rows, cols, threshold)
		var err error
		pairs, err = s.MaximizeIoU(iou, rows, cols, threshold, pairs[:0])
		if err != nil {
			t.Fatal(err)
		}
		checkPairs(t, pairs, rows, cols)
		got := 0.0
		for _, p := range pairs {
			w := iou[p.Row*cols+p.Col]
			if !(w >= threshold) {
				t.Fatalf("returned pair %v has IoU %v < threshold %v", p, w, threshold)
			}
			got += float64(w)
		}
		w64 := make([]float64, len(iou))
		for i, x := range iou {
			w64[i] = float64(x)
		}
		allowed := func(r, c int) bool { return iou[r*cols+c] >= threshold }
		want, _ := bruteForce(w64, rows, cols, allowed, false, false)
		if math.Abs(got-want) > 1e-9 {
			t.Fatalf("%d×%d thr %v iou %v: total %v, brute force %v (pairs %v)", rows, cols, threshold, iou, got, want, pairs)
		}
	}
}

// Larger matrices with many overlapping clusters: component splitting must agree
// with solving the whole matrix at once.
func TestMaximizeIoUComponentsMatchWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var s Solver
	for range 200 {
		rows, cols := 1+rng.IntN(40), 1+rng.IntN(40)
		iou := make([]float32, rows*cols)
		for i := range iou {
			if rng.IntN(10) == 0 {
				iou[i] = rng.Float32()
			}
		}
		const thr = 0.3
		pairs, err := s.MaximizeIoU(iou, rows, cols, thr, nil)
		if err != nil {
			t.Fatal(err)
		}
		checkPairs(t, pairs, rows, cols)
		got := 0.0
		for _, p := range pairs {
			got += float64(iou[p.Row*cols+p.Col])
		}
		// Reference: one Minimize over the whole matrix with the same 0/-IoU costs.
		cost := make([]float64, len(iou))
		for i, w := range iou {
			if w >= thr {
				cost[i] = -float64(w)
			}
		}
		var ref Solver
		all, err := ref.Minimize(cost, rows, cols, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := 0.0
		for _, p := range all {
			want -= cost[p.Row*cols+p.Col]
		}
		if math.Abs(got-want) > 1e-6 {
			t.Fatalf("%d×%d: components total %v, whole-matrix total %v", rows, cols, got, want)
		}
	}
}

// Forbidding below-threshold pairs must not lose admissible value: here the best
// unconstrained assignment uses a below-threshold cell, the best admissible one
// does not, and the solver must find the latter rather than fewer pairs.
func TestMaximizeIoUThresholdDoesNotHurt(t *testing.T) {
	iou := []float32{
		0.9, 0.6,
		0.6, 0.1,
	}
	var s Solver
	pairs, err := s.MaximizeIoU(iou, 2, 2, 0.5, nil)
	if err != nil {
		t.Fatal(err)
	}
	// {(0,0)} = 0.9 vs {(0,1),(1,0)} = 1.2: the latter is the admissible optimum.
	if len(pairs) != 2 || pairs[0] != (Pair{0, 1}) || pairs[1] != (Pair{1, 0}) {
		t.Fatalf("got %v, want [(0,1) (1,0)]", pairs)
	}
}

func TestEdgeCases(t *testing.T) {
	var s Solver
	for _, sh := range [][2]int{{0, 0}, {0, 5}, {5, 0}} {
		rows, cols := sh[0], sh[1]
		pairs, err := s.Minimize(make([]float64, rows*cols), rows, cols, nil)
		if err != nil || len(pairs) != 0 {
			t.Fatalf("Minimize %d×%d: %v, %v", rows, cols, pairs, err)
		}
		pairs, err = s.MaximizeIoU(make([]float32, rows*cols), rows, cols, 0.5, nil)
		if err != nil || len(pairs) != 0 {
			t.Fatalf("MaximizeIoU %d×%d: %v, %v", rows, cols, pairs, err)
		}
	}

	// All zeros: any complete assignment is optimal; it must still be complete.
	pairs, err := s.Minimize(make([]float64, 12), 3, 4, nil)
	if err != nil || len(pairs) != 3 {
		t.Fatalf("zeros 3×4: %v, %v", pairs, err)
	}
	pairs, err = s.Minimize(make([]float64, 12), 4, 3, nil)
	if err != nil || len(pairs) != 3 {
		t.Fatalf("zeros 4×3: %v, %v", pairs, err)
	}
	checkPairs(t, pairs, 4, 3)
	// All-zero IoU: nothing reaches the threshold.
	pairs, err = s.MaximizeIoU(make([]float32, 12), 3, 4, 0.5, nil)
	if err != nil || len(pairs) != 0 {
		t.Fatalf("zero IoU: %v, %v", pairs, err)
	}

	// Non-finite costs are rejected and dst is returned unchanged.
	dst := []Pair{{7, 7}}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		got, err := s.Minimize([]float64{1, bad, 3, 4}, 2, 2, dst)
		if !errors.Is(err, ErrNotFinite) || len(got) != 1 {
			t.Fatalf("Minimize with %v: %v, %v", bad, got, err)
		}
	}
	if _, err := s.Minimize32([]float32{float32(math.NaN())}, 1, 1, nil); !errors.Is(err, ErrNotFinite) {
		t.Fatalf("Minimize32 NaN: %v", err)
	}

	// NaN/Inf IoU entries are forbidden, not errors.
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	pairs, err = s.MaximizeIoU([]float32{nan, 0.7, inf, nan}, 2, 2, 0.5, nil)
	if err != nil || len(pairs) != 1 || pairs[0] != (Pair{0, 1}) {
		t.Fatalf("NaN IoU: %v, %v", pairs, err)
	}

	// Bad thresholds and shapes.
	for _, thr := range []float32{0, -1, float32(math.NaN())} {
		if _, err := s.MaximizeIoU([]float32{1}, 1, 1, thr, nil); !errors.Is(err, ErrThreshold) {
			t.Fatalf("threshold %v: %v", thr, err)
		}
	}
	if _, err := s.Minimize([]float64{1, 2, 3}, 2, 2, nil); !errors.Is(err, ErrShape) {
		t.Fatalf("short slice: %v", err)
	}
	if _, err := s.Minimize(nil, -1, 2, nil); !errors.Is(err, ErrShape) {
		t.Fatalf("negative rows: %v", err)
	}
	if _, err := s.MaximizeIoU(nil, 2, 2, 0.5, nil); !errors.Is(err, ErrShape) {
		t.Fatalf("MaximizeIoU short slice: %v", err)
	}
}

func TestKnownSquare(t *testing.T) {
	cost := []float64{
		4, 1, 3,
		2, 0, 5,
		3, 2, 2,
	}
	var s Solver
	pairs, err := s.Minimize(cost, 3, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Pair{{0, 1}, {1, 0}, {2, 2}} // 1 + 2 + 2 = 5
	for i := range want {
		if pairs[i] != want[i] {
			t.Fatalf("got %v, want %v", pairs, want)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 60
	cost := randomCost(rng, n, n+5)
	iou := randomIoU(rng, n+5, n, 0.5)
	var s Solver
	dst := make([]Pair, 0, n+5)
	// Warm up at the largest shapes.
	s.Minimize(cost, n, n+5, dst[:0])
	s.Minimize(cost, n+5, n, dst[:0])
	s.MaximizeIoU(iou, n+5, n, 0.5, dst[:0])
	allocs := testing.AllocsPerRun(50, func() {
		s.Minimize(cost, n, n+5, dst[:0])
		s.Minimize(cost[:20*25], 20, 25, dst[:0])
		s.Minimize(cost, n+5, n, dst[:0])
		s.MaximizeIoU(iou, n+5, n, 0.5, dst[:0])
		s.MaximizeIoU(iou[:10*10], 10, 10, 0.5, dst[:0])
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per run, want 0", allocs)
	}
}

func BenchmarkMinimize(b *testing.B) {
	for _, n := range []int{10, 50, 200} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(uint64(n), 1))
			cost := make([]float64, n*n)
			for i := range cost {
				cost[i] = rng.Float64()
			}
			var s Solver
			dst := make([]Pair, 0, n)
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = s.Minimize(cost, n, n, dst[:0])
			}
		})
	}
}

// BenchmarkMaximizeIoUDense is the worst case for MaximizeIoU: every pair is
// admissible, so the whole matrix is one component.
func BenchmarkMaximizeIoUDense(b *testing.B) {
	for _, n := range []int{10, 50, 200} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(uint64(n), 2))
			iou := make([]float32, n*n)
			for i := range iou {
				iou[i] = 0.5 + rng.Float32()/2
			}
			var s Solver
			dst := make([]Pair, 0, n)
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = s.MaximizeIoU(iou, n, n, 0.5, dst[:0])
			}
		})
	}
}
