package tracker

import "math"

// Pyramidal Lucas–Kanade for a single point (Bouguet's formulation, as in
// OpenCV's calcOpticalFlowPyrLK): the template and its gradients come
// from the source image once per level, then Gauss–Newton steps move the
// window on the target image. All coordinates inside this file are pixel-centre
// coordinates of the level being processed (pixel i spans [i-0.5, i+0.5]).

// floorInt is floor for the small values seen here, without a float64 round trip.
func floorInt(v float32) int {
	i := int(v)
	if float32(i) > v {
		i--
	}
	return i
}

// u8f converts a grey level to float32 by table lookup: in the sampling loops
// a load is cheaper than an integer-to-float conversion (same values).
var u8f = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i)
	}
	return t
}()

// pixClamped reads g at (x, y) with edge replication.
func pixClamped(g *Gray, x, y int) float32 {
	x = min(max(x, 0), g.W-1)
	y = min(max(y, 0), g.H-1)
	return float32(g.Pix[y*g.W+x])
}

// samplePatch fills dst (n*n) with g sampled bilinearly on the grid whose
// top-left sample is (x, y). Every sample shares the same fractional offset, so
// the four weights are computed once. inside reports that the patch lay
// inside the image (no edge replication).
func samplePatch(g *Gray, x, y float32, n int, dst []float32) (inside bool) {
	ix, iy := floorInt(x), floorInt(y)
	fx, fy := x-float32(ix), y-float32(iy)
	w00 := (1 - fx) * (1 - fy)
	w01 := fx * (1 - fy)
	w10 := (1 - fx) * fy
	w11 := fx * fy
	dst = dst[:n*n]
	if ix >= 0 && iy >= 0 && ix+n < g.W && iy+n < g.H {
		// Interpolate vertically once per source column and slide along the
		// row: two byte loads per sample instead of four. Rows go in pairs,
		// which share their middle source row. The reslicing lets the
		// compiler drop the bounds checks in the loops.
		ax, bx := 1-fx, fx
		ay, by := 1-fy, fy
		W := g.W
		r := 0
		for ; r+2 <= n; r += 2 {
			o := (iy+r)*W + ix
			r0 := g.Pix[o : o+n+1]
			r1 := g.Pix[o+W : o+W+n+1]
			r2 := g.Pix[o+2*W : o+2*W+n+1]
			x0 := r0[1:]
			x1 := r1[1:]
			x1 = x1[:len(x0)]
			x2 := r2[1:]
			x2 = x2[:len(x0)]
			d0 := dst[r*n : r*n+n]
			d0 = d0[:len(x0)]
			d1 := dst[(r+1)*n : (r+1)*n+n]
			d1 = d1[:len(x0)]
			mid := u8f[r1[0]]
			vp0 := ay*u8f[r0[0]] + by*mid
			vp1 := ay*mid + by*u8f[r2[0]]
			for c, p := range x0 {
				mid := u8f[x1[c]]
				vn0 := ay*u8f[p] + by*mid
				vn1 := ay*mid + by*u8f[x2[c]]
				d0[c] = ax*vp0 + bx*vn0
				d1[c] = ax*vp1 + bx*vn1
				vp0, vp1 = vn0, vn1
			}
		}
		for ; r < n; r++ {
			o := (iy+r)*W + ix
			r0 := g.Pix[o : o+n+1]
			r1 := g.Pix[o+W : o+W+n+1]
			x0 := r0[1:]
			x1 := r1[1:]
			x1 = x1[:len(x0)]
			d := dst[r*n : r*n+n]
			d = d[:len(x0)]
			vp := ay*u8f[r0[0]] + by*u8f[r1[0]]
			for c, p := range x0 {
				vn := ay*u8f[p] + by*u8f[x1[c]]
				d[c] = ax*vp + bx*vn
				vp = vn
			}
		}
		return true
	}
	// Window over the border: replicate edge pixels (slow path, rare).
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			X, Y := ix+c, iy+r
			dst[r*n+c] = w00*pixClamped(g, X, Y) + w01*pixClamped(g, X+1, Y) +
				w10*pixClamped(g, X, Y+1) + w11*pixClamped(g, X+1, Y+1)
		}
	}
	return false
}

// mismatch samples the n*n window of g with top-left sample (x, y) and returns
// b = Σ ∇T·(T−J), the right-hand side of the LK normal equations. It fuses
// sampling and accumulation so the warped patch is never stored.
func mismatch(g *Gray, x, y float32, n int, t, gx, gy []float32) (bx, by float32) {
	ix, iy := floorInt(x), floorInt(y)
	fx, fy := x-float32(ix), y-float32(iy)
	w00 := (1 - fx) * (1 - fy)
	w01 := fx * (1 - fy)
	w10 := (1 - fx) * fy
	w11 := fx * fy
	t, gx, gy = t[:n*n], gx[:n*n], gy[:n*n]
	if ix >= 0 && iy >= 0 && ix+n < g.W && iy+n < g.H {
		ax, bx0 := 1-fx, fx
		ay, by0 := 1-fy, fy
		W := g.W
		// Rows in pairs, as in samplePatch; the second row of each pair has
		// sums of its own (bx1, by1), two dependency chains instead of one.
		var bx1, by1 float32
		r := 0
		for ; r+2 <= n; r += 2 {
			o := (iy+r)*W + ix
			r0 := g.Pix[o : o+n+1]
			r1 := g.Pix[o+W : o+W+n+1]
			r2 := g.Pix[o+2*W : o+2*W+n+1]
			x0 := r0[1:]
			x1 := r1[1:]
			x1 = x1[:len(x0)]
			x2 := r2[1:]
			x2 = x2[:len(x0)]
			t0 := t[r*n : r*n+n]
			t0 = t0[:len(x0)]
			t1 := t[(r+1)*n : (r+1)*n+n]
			t1 = t1[:len(x0)]
			gx0 := gx[r*n : r*n+n]
			gx0 = gx0[:len(x0)]
			gx1 := gx[(r+1)*n : (r+1)*n+n]
			gx1 = gx1[:len(x0)]
			gy0 := gy[r*n : r*n+n]
			gy0 = gy0[:len(x0)]
			gy1 := gy[(r+1)*n : (r+1)*n+n]
			gy1 = gy1[:len(x0)]
			mid := u8f[r1[0]]
			vp0 := ay*u8f[r0[0]] + by0*mid
			vp1 := ay*mid + by0*u8f[r2[0]]
			for c, p := range x0 {
				mid := u8f[x1[c]]
				vn0 := ay*u8f[p] + by0*mid
				vn1 := ay*mid + by0*u8f[x2[c]]
				d0 := t0[c] - (ax*vp0 + bx0*vn0)
				d1 := t1[c] - (ax*vp1 + bx0*vn1)
				vp0, vp1 = vn0, vn1
				bx += d0 * gx0[c]
				by += d0 * gy0[c]
				bx1 += d1 * gx1[c]
				by1 += d1 * gy1[c]
			}
		}
		for ; r < n; r++ {
			o := (iy+r)*W + ix
			r0 := g.Pix[o : o+n+1]
			r1 := g.Pix[o+W : o+W+n+1]
			x0 := r0[1:]
			x1 := r1[1:]
			x1 = x1[:len(x0)]
			tr := t[r*n : r*n+n]
			tr = tr[:len(x0)]
			xr := gx[r*n : r*n+n]
			xr = xr[:len(x0)]
			yr := gy[r*n : r*n+n]
			yr = yr[:len(x0)]
			vp := ay*u8f[r0[0]] + by0*u8f[r1[0]]
			for c, p := range x0 {
				vn := ay*u8f[p] + by0*u8f[x1[c]]
				d := tr[c] - (ax*vp + bx0*vn)
				vp = vn
				bx += d * xr[c]
				by += d * yr[c]
			}
		}
		return bx + bx1, by + by1
	}
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			X, Y := ix+c, iy+r
			j := w00*pixClamped(g, X, Y) + w01*pixClamped(g, X+1, Y) +
				w10*pixClamped(g, X, Y+1) + w11*pixClamped(g, X+1, Y+1)
			d := t[r*n+c] - j
			bx += d * gx[r*n+c]
			by += d * gy[r*n+c]
		}
	}
	return bx, by
}

// lkScratch holds one point's template; it belongs to a MedianFlow.
type lkScratch struct {
	win    int
	border []float32 // (win+2)^2 template with a 1-px ring for the gradients
	t      []float32 // win^2 template
	gx, gy []float32 // win^2 template gradients
	// inside0: after a track that reached level 0, t is the win^2 patch of
	// the source image's level 0 centred on the point, sampled inside the
	// image: bit for bit what samplePatch gives for Median Flow's NCC.
	inside0 bool
}

func newLKScratch(win int) lkScratch {
	n := win * win
	return lkScratch{
		win:    win,
		border: make([]float32, (win+2)*(win+2)),
		t:      make([]float32, n),
		gx:     make([]float32, n),
		gy:     make([]float32, n),
	}
}

// gradients splits s.border into the template and its central-difference
// derivatives (grey levels per pixel) and returns the structure tensor.
// Central differences rather than OpenCV's Scharr: on the MOT17-04 frames they
// gave the same IoU with slightly fewer iterations, at a third of the cost
// (the 2x2-averaged pyramid is smooth enough already).
func (s *lkScratch) gradients() (a11, a12, a22 float32) {
	w := s.win
	n := w + 2
	b := s.border
	for y := 0; y < w; y++ {
		up := b[y*n+1 : y*n+1+w]
		mid := b[(y+1)*n : (y+1)*n+n]
		dn := b[(y+2)*n+1 : (y+2)*n+1+w]
		left := mid[:w]
		ctr := mid[1 : w+1]
		right := mid[2:]
		t := s.t[y*w : y*w+w]
		gx := s.gx[y*w : y*w+w]
		gy := s.gy[y*w : y*w+w]
		up, dn, left, ctr, right = up[:len(t)], dn[:len(t)], left[:len(t)], ctr[:len(t)], right[:len(t)]
		gx, gy = gx[:len(t)], gy[:len(t)]
		for x := range t {
			dx := (right[x] - left[x]) * 0.5
			dy := (dn[x] - up[x]) * 0.5
			t[x] = ctr[x]
			gx[x] = dx
			gy[x] = dy
			a11 += dx * dx
			a12 += dx * dy
			a22 += dy * dy
		}
	}
	return a11, a12, a22
}

// lkParams are the per-point LK settings taken from Config.
type lkParams struct {
	levels   int
	iters    int
	eps2     float32 // squared step below which iteration stops
	minEigen float32 // per-pixel min eigenvalue of the structure tensor
}

// track follows the point (x, y), given in level-0 edge coordinates, from
// pyramid a to pyramid b. It returns the new position in the same coordinates,
// or ok=false when the point is textureless at level 0 or leaves the image.
func (s *lkScratch) track(a, b *Pyramid, p *lkParams, x, y float32) (nx, ny float32, ok bool) {
	w := s.win
	half := float32(w / 2)
	area := float32(w * w)
	var gx, gy float32 // displacement guess at the current level
	for l := p.levels - 1; l >= 0; l-- {
		k := 1 / float32(int(1)<<l)
		px, py := x*k-0.5, y*k-0.5
		A, B := &a.Levels[l], &b.Levels[l]
		s.inside0 = samplePatch(A, px-half-1, py-half-1, w+2, s.border)
		a11, a12, a22 := s.gradients()
		det := a11*a22 - a12*a12
		d := a11 - a22
		minEig := (a11 + a22 - float32(math.Sqrt(float64(d*d+4*a12*a12)))) / (2 * area)
		if minEig < p.minEigen || det < 1e-6 {
			if l == 0 {
				return 0, 0, false
			}
			// Too flat at this scale: trust the coarser guess and refine below.
			gx, gy = 2*gx, 2*gy
			continue
		}
		inv := 1 / det
		cx, cy := px+gx, py+gy
		var pdx, pdy float32
		fw, fh := float32(B.W), float32(B.H)
		for it := 0; it < p.iters; it++ {
			if cx < -half || cy < -half || cx > fw+half || cy > fh+half {
				return 0, 0, false
			}
			bx, by := mismatch(B, cx-half, cy-half, w, s.t, s.gx, s.gy)
			dx := (a22*bx - a12*by) * inv
			dy := (a11*by - a12*bx) * inv
			if it > 0 && abs32(dx+pdx) < 0.01 && abs32(dy+pdy) < 0.01 {
				// Oscillating between two positions: settle in the middle.
				cx += dx / 2
				cy += dy / 2
				break
			}
			cx += dx
			cy += dy
			if dx*dx+dy*dy < p.eps2 {
				break
			}
			pdx, pdy = dx, dy
		}
		if l > 0 {
			gx, gy = 2*(cx-px), 2*(cy-py)
			continue
		}
		nx, ny = cx+0.5, cy+0.5
		if nx < 0 || ny < 0 || nx > fw || ny > fh {
			return 0, 0, false
		}
		return nx, ny, true
	}
	return 0, 0, false
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// ncc is the normalised cross-correlation of two equally sized patches, 0 when
// either is flat (a flat patch confirms nothing).
func ncc(a, b []float32) float32 {
	n := float32(len(a))
	var sa, sb float32
	for i := range a {
		sa += a[i]
		sb += b[i]
	}
	ma, mb := sa/n, sb/n
	var cab, caa, cbb float32
	b = b[:len(a)]
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		cab += da * db
		caa += da * da
		cbb += db * db
	}
	if caa < 1e-3 || cbb < 1e-3 {
		return 0
	}
	return cab / float32(math.Sqrt(float64(caa)*float64(cbb)))
}
