// Package assign solves the linear assignment problem: pair the rows and the
// columns of a cost matrix one-to-one so that the total cost is minimal. gst-react
// uses it to match edge/tracked boxes to cloud boxes by maximum total IoU.
//
// The solver is the shortest-augmenting-path form of the Hungarian
// (Kuhn–Munkres) method with row and column potentials, as in Jonker–Volgenant:
// O(n²·m) for an n×m matrix with n ≤ m. A wide or tall (rectangular) matrix is
// solved in the orientation with fewer rows, so the cost is cubic in the smaller
// side only.
//
// Matrices are flat, row-major slices: element (r, c) of a rows×cols matrix is
// m[r*cols+c]. Results are appended to a caller-supplied []Pair and come out in
// ascending Row order, so a caller that passes dst[:0] and keeps one Solver per
// goroutine allocates nothing once its buffers have grown to the largest size seen.
// A Solver is not safe for concurrent use.
package assign

import (
	"errors"
	"fmt"
	"math"
)

// Pair is one assigned (row, column) cell.
type Pair struct {
	Row, Col int
}

var (
	// ErrShape: rows or cols is negative, or the slice is shorter than rows*cols.
	ErrShape = errors.New("assign: bad matrix shape")
	// ErrNotFinite: a cost passed to Minimize is NaN or ±Inf. A full assignment
	// has no way to avoid a cell, so such a cell cannot be given a meaning; the
	// caller decides (a large finite cost, or MaximizeIoU, which forbids cells).
	ErrNotFinite = errors.New("assign: cost is NaN or infinite")
	// ErrThreshold: the MaximizeIoU threshold is NaN or not positive.
	ErrThreshold = errors.New("assign: IoU threshold must be > 0")
)

// Solver holds the work buffers of the assignment algorithm so that repeated
// calls do not allocate. The zero Solver is ready to use.
type Solver struct {
	c    []float64 // working cost matrix, n×m with n ≤ m, row-major
	u    []float64 // row potentials, 1-based (index 0 unused but written)
	v    []float64 // column potentials, 1-based; v[0] belongs to the virtual column
	minv []float64 // per column: smallest reduced cost reaching it in this search
	p    []int     // p[j]: 1-based row assigned to column j, 0 = free; p[0] = row being added
	way  []int     // way[j]: previous column on the alternating path to j
	used []bool    // column j is in the search tree

	match []int // per original row: assigned column or -1

	// MaximizeIoU: connected components of the admissible bipartite graph.
	parent []int // union-find over rows then columns
	head   []int // per root: first node of its component list
	next   []int // per node: next node in its component list
	crows  []int // rows of the component being solved
	ccols  []int // columns of the component being solved
}

// Minimize returns a minimum-total-cost assignment of the rows×cols matrix cost
// (row-major), appended to dst in ascending Row order.
//
// The assignment is complete on the smaller side: it has exactly min(rows, cols)
// pairs, every row is assigned when rows ≤ cols and every column otherwise.
// Costs may be negative; all must be finite (NaN or ±Inf gives ErrNotFinite and
// dst unchanged). Keep magnitudes far below math.MaxFloat64/(rows+cols) so that
// sums of costs and potentials cannot overflow. An empty matrix (rows or cols 0)
// yields no pairs.
func (s *Solver) Minimize(cost []float64, rows, cols int, dst []Pair) ([]Pair, error) {
	return minimize(s, cost, rows, cols, dst)
}

// Minimize32 is Minimize for a float32 matrix. The work is done in float64.
func (s *Solver) Minimize32(cost []float32, rows, cols int, dst []Pair) ([]Pair, error) {
	return minimize(s, cost, rows, cols, dst)
}

func checkShape(n, rows, cols int) error {
	if rows < 0 || cols < 0 || (cols > 0 && rows > math.MaxInt/cols) || n < rows*cols {
		return fmt.Errorf("%w: %d×%d matrix needs %d elements, got %d", ErrShape, rows, cols, max(rows, 0)*max(cols, 0), n)
	}
	return nil
}

func minimize[T float32 | float64](s *Solver, cost []T, rows, cols int, dst []Pair) ([]Pair, error) {
	if err := checkShape(len(cost), rows, cols); err != nil {
		return dst, err
	}
	if rows == 0 || cols == 0 {
		return dst, nil
	}
	// Solve in the orientation with n ≤ m: the algorithm adds one row per phase
	// and needs a free column for each.
	transposed := rows > cols
	n, m := rows, cols
	if transposed {
		n, m = cols, rows
	}
	s.grow(n, m)
	c := s.c[:n*m]
	for r := range rows {
		line := cost[r*cols : r*cols+cols]
		for k, x := range line {
			f := float64(x)
			if f-f != 0 { // NaN or ±Inf
				return dst, fmt.Errorf("%w: element (%d, %d) is %v", ErrNotFinite, r, k, f)
			}
			if transposed {
				c[k*m+r] = f
			} else {
				c[r*m+k] = f
			}
		}
	}
	s.solve(n, m)

	if transposed {
		// Columns of the working matrix are the original rows: already in order.
		for j := 1; j <= m; j++ {
			if i := s.p[j]; i != 0 {
				dst = append(dst, Pair{Row: j - 1, Col: i - 1})
			}
		}
		return dst, nil
	}
	match := s.match[:rows]
	for j := 1; j <= m; j++ {
		if i := s.p[j]; i != 0 {
			match[i-1] = j - 1
		}
	}
	for r, k := range match { // n ≤ m: every row is assigned
		dst = append(dst, Pair{Row: r, Col: k})
	}
	return dst, nil
}

// grow makes sure the buffers fit an n×m problem (n ≤ m) and match has room for
// max(n, m) rows.
func (s *Solver) grow(n, m int) {
	if cap(s.c) < n*m {
		s.c = make([]float64, n*m)
	}
	s.c = s.c[:n*m]
	if cap(s.u) < n+1 {
		s.u = make([]float64, n+1)
	}
	if cap(s.v) < m+1 {
		s.v = make([]float64, m+1)
		s.minv = make([]float64, m+1)
		s.p = make([]int, m+1)
		s.way = make([]int, m+1)
		s.used = make([]bool, m+1)
	}
	if cap(s.match) < m {
		s.match = make([]int, m)
	}
}

// solve assigns every row of the n×m working matrix s.c (n ≤ m) to a distinct
// column at minimum total cost; the result is in s.p[1..m].
//
// Rows are added one at a time; each addition is a Dijkstra-like search for the
// cheapest augmenting path in reduced costs c[i][j]-u[i]-v[j] ≥ 0, after which the
// potentials are raised so that reduced costs stay non-negative and the matched
// cells stay tight. That invariant is what makes the final assignment optimal.
func (s *Solver) solve(n, m int) {
	c := s.c[:n*m]
	u, v := s.u[:n+1], s.v[:m+1]
	minv, p, way, used := s.minv[:m+1], s.p[:m+1], s.way[:m+1], s.used[:m+1]
	clear(u)
	clear(v)
	clear(p)
	clear(way)
	inf := math.Inf(1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = inf
			used[j] = false
		}
		for {
			used[j0] = true
			i0 := p[j0]
			row := c[(i0-1)*m : i0*m]
			ui := u[i0]
			delta, j1 := inf, 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				if cur := row[j-1] - ui - v[j]; cur < minv[j] {
					minv[j] = cur
					way[j] = j0
				}
				if minv[j] < delta {
					delta = minv[j]
					j1 = j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 { // flip the augmenting path
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
}

// MaximizeIoU returns the pairs of a rows×cols IoU matrix (row-major) that
// maximise the total IoU over all one-to-one partial assignments whose every pair
// has IoU ≥ threshold, appended to dst in ascending Row order. Rows and columns
// that have no admissible partner, or lose out, are simply left unassigned.
//
// threshold must be > 0 (a pair with no overlap is never a match); otherwise
// ErrThreshold. NaN and ±Inf entries are inadmissible (a degenerate box must not
// fail a whole frame), and so is anything below threshold. Values above 1 are
// accepted as weights.
//
// Why this is exact rather than a big-M approximation: every admissible pair gets
// cost -IoU < 0 and every inadmissible pair cost 0, which is exactly what leaving
// that row and column unassigned contributes. Any complete assignment therefore has
// cost −(total IoU of its admissible pairs), and any admissible partial assignment
// can be completed with cells of cost ≤ 0 without raising its cost. So the minimum
// complete cost is −(the best admissible total), and dropping the zero-cost cells
// from the optimal complete assignment leaves an optimal admissible one. (A large
// cost for forbidden cells would instead make the solver maximise the number of
// admissible pairs first, which is a different objective.)
//
// The admissible pairs usually form many small clusters of overlapping boxes, so
// the matrix is split into connected components of the admissible graph and each
// is solved on its own; components are independent, so this changes nothing but
// the running time.
func (s *Solver) MaximizeIoU(iou []float32, rows, cols int, threshold float32, dst []Pair) ([]Pair, error) {
	if err := checkShape(len(iou), rows, cols); err != nil {
		return dst, err
	}
	if !(threshold > 0) {
		return dst, fmt.Errorf("%w, got %v", ErrThreshold, threshold)
	}
	if rows == 0 || cols == 0 {
		return dst, nil
	}
	admissible := func(w float32) bool { return w >= threshold && w <= math.MaxFloat32 }

	nodes := rows + cols
	s.growGraph(nodes, max(rows, cols))
	parent := s.parent[:nodes]
	for i := range parent {
		parent[i] = i
	}
	edges := false
	for r := range rows {
		line := iou[r*cols : r*cols+cols]
		for k, w := range line {
			if admissible(w) {
				s.union(r, rows+k)
				edges = true
			}
		}
	}
	if !edges {
		return dst, nil
	}

	// Thread each component into a list in ascending node order: rows first
	// (nodes 0..rows-1), then columns. Roots are the smallest node, hence a row.
	head, next := s.head[:nodes], s.next[:nodes]
	for i := range head {
		head[i] = -1
	}
	for x := nodes - 1; x >= 0; x-- {
		r := s.find(x)
		next[x] = head[r]
		head[r] = x
	}
	match := s.match[:rows]
	for i := range match {
		match[i] = -1
	}
	for root := range rows {
		if head[root] != root || next[root] < 0 {
			continue // not a root, or a row with no admissible pair
		}
		crows, ccols := s.crows[:0], s.ccols[:0]
		for x := root; x >= 0; x = next[x] {
			if x < rows {
				crows = append(crows, x)
			} else {
				ccols = append(ccols, x-rows)
			}
		}
		s.crows, s.ccols = crows, ccols
		s.solveComponent(iou, cols, crows, ccols, admissible, match)
	}
	for r, k := range match {
		if k >= 0 {
			dst = append(dst, Pair{Row: r, Col: k})
		}
	}
	return dst, nil
}

// solveComponent assigns one connected component and records the admissible
// pairs in match (indexed by original row).
func (s *Solver) solveComponent(iou []float32, cols int, crows, ccols []int, admissible func(float32) bool, match []int) {
	nr, nc := len(crows), len(ccols)
	at := func(a, b int) float32 { return iou[crows[a]*cols+ccols[b]] }
	switch {
	case nr == 1: // one row: its best admissible column
		best, bw := -1, float32(0)
		for b := range nc {
			if w := at(0, b); admissible(w) && (best < 0 || w > bw) {
				best, bw = b, w
			}
		}
		match[crows[0]] = ccols[best]
		return
	case nc == 1: // one column: its best admissible row
		best, bw := -1, float32(0)
		for a := range nr {
			if w := at(a, 0); admissible(w) && (best < 0 || w > bw) {
				best, bw = a, w
			}
		}
		match[crows[best]] = ccols[0]
		return
	}
	transposed := nr > nc
	n, m := nr, nc
	if transposed {
		n, m = nc, nr
	}
	s.grow(n, m)
	c := s.c[:n*m]
	for a := range nr {
		for b := range nc {
			w := at(a, b)
			x := 0.0
			if admissible(w) {
				x = -float64(w)
			}
			if transposed {
				c[b*m+a] = x
			} else {
				c[a*m+b] = x
			}
		}
	}
	s.solve(n, m)
	for j := 1; j <= m; j++ {
		i := s.p[j]
		if i == 0 {
			continue
		}
		a, b := i-1, j-1
		if transposed {
			a, b = j-1, i-1
		}
		if admissible(at(a, b)) {
			match[crows[a]] = ccols[b]
		}
	}
}

// Reserve sizes the buffers for problems of up to n rows and n columns
// (MaximizeIoU's graph and its per-component solves), so that a caller on a
// per-frame path does not allocate the first time a frame has more boxes
// than any before.
func (s *Solver) Reserve(n int) {
	s.grow(n, n)
	s.growGraph(2*n, n)
}

func (s *Solver) growGraph(nodes, side int) {
	if cap(s.parent) < nodes {
		s.parent = make([]int, nodes)
		s.head = make([]int, nodes)
		s.next = make([]int, nodes)
	}
	s.parent, s.head, s.next = s.parent[:nodes], s.head[:nodes], s.next[:nodes]
	if cap(s.match) < side {
		s.match = make([]int, side)
	}
	if cap(s.crows) < side {
		s.crows = make([]int, 0, side)
		s.ccols = make([]int, 0, side)
	}
}

// find returns the root of x, halving the path as it goes.
func (s *Solver) find(x int) int {
	p := s.parent
	for p[x] != x {
		p[x] = p[p[x]]
		x = p[x]
	}
	return x
}

// union joins the sets of a and b under the smaller root, so a component's root
// is its smallest node.
func (s *Solver) union(a, b int) {
	ra, rb := s.find(a), s.find(b)
	if ra == rb {
		return
	}
	if ra > rb {
		ra, rb = rb, ra
	}
	s.parent[rb] = ra
}
