package tracker

import "math"

// fftPlan is an iterative radix-2 FFT of one power-of-two length: bit-reversal
// table and twiddles computed once, transforms in place, no allocation. The
// KCF tracker's templates are a few dozen pixels a side, so a plain complex
// transform of float32 pairs is all it needs.
type fftPlan struct {
	n    int
	rev  []int32
	fwd  []complex64 // exp(-2πik/n), k < n/2
	inv  []complex64 // exp(+2πik/n)
	norm float32     // 1/n
}

func newFFTPlan(n int) *fftPlan {
	if n < 2 || n&(n-1) != 0 {
		panic("tracker: FFT length must be a power of two >= 2")
	}
	p := &fftPlan{n: n, rev: make([]int32, n), fwd: make([]complex64, n/2), inv: make([]complex64, n/2), norm: 1 / float32(n)}
	bits := log2(n)
	for i := range n {
		r := 0
		for b := 0; b < bits; b++ {
			r |= (i >> b & 1) << (bits - 1 - b)
		}
		p.rev[i] = int32(r)
	}
	for k := range n / 2 {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		p.fwd[k] = complex(float32(c), float32(s))
		p.inv[k] = complex(float32(c), float32(-s))
	}
	return p
}

// transform replaces x (length n) by its DFT, or its inverse DFT (scaled by
// 1/n) when inverse is set.
func (p *fftPlan) transform(x []complex64, inverse bool) {
	n := p.n
	x = x[:n]
	for i, r := range p.rev {
		if int(r) > i {
			x[i], x[r] = x[r], x[i]
		}
	}
	tw := p.fwd
	if inverse {
		tw = p.inv
	}
	// The first stage needs no twiddles.
	for s := 0; s+1 < n; s += 2 {
		a, b := x[s], x[s+1]
		x[s], x[s+1] = a+b, a-b
	}
	for size := 4; size <= n; size <<= 1 {
		half, step := size>>1, n/size
		for start := 0; start < n; start += size {
			lo := x[start : start+half : start+half]
			hi := x[start+half : start+size : start+size]
			for k := range lo {
				w := tw[k*step]
				a, b := lo[k], hi[k]*w
				lo[k], hi[k] = a+b, a-b
			}
		}
	}
	if inverse {
		f := complex(p.norm, 0)
		for i := range x {
			x[i] *= f
		}
	}
}

// fft2 transforms the w x h row-major image x in place (forward, or inverse
// scaled by 1/(w·h)), using col (at least h long) as scratch for the columns.
func fft2(x []complex64, w, h int, pw, ph *fftPlan, col []complex64, inverse bool) {
	for y := 0; y < h; y++ {
		pw.transform(x[y*w:(y+1)*w], inverse)
	}
	col = col[:h]
	for c := 0; c < w; c++ {
		for y := range col {
			col[y] = x[y*w+c]
		}
		ph.transform(col, inverse)
		for y, v := range col {
			x[y*w+c] = v
		}
	}
}
