//go:build amd64 && !purego

package preprocess

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gst-react/gst-react/internal/frame"
)

// randTaps is a tap table for n outputs over srcN samples (byte offsets in
// units of unit): either makeTaps' (right-edge and left-edge clamps
// included) or random taps, with exact (w1 = 0), one-sided (w0 = 0) and
// right-edge (i1 == i0) taps mixed in.
func randTaps(rng *rand.Rand, n, srcN, unit int) []tap {
	if rng.IntN(2) == 0 {
		ratio := float64(srcN) / float64(n) * (0.5 + rng.Float64())
		return makeTaps(nil, n, srcN, ratio, -rng.Float64(), unit)
	}
	xs := make([]tap, n)
	for d := range xs {
		i := rng.IntN(srcN)
		w1 := int32(rng.IntN(one + 1))
		switch rng.IntN(4) {
		case 0:
			w1 = 0
		case 1:
			w1 = one
		}
		i1 := min(i+1, srcN-1)
		if i1 == i {
			w1 = 0
		}
		xs[d] = tap{i0: int32(i * unit), i1: int32(i1 * unit), w0: one - w1, w1: w1}
	}
	return xs
}

func randRowTap(rng *rand.Rand, blend bool) tap {
	w1 := int32(rng.IntN(one + 1))
	switch rng.IntN(5) {
	case 0:
		w1 = one
	case 1:
		w1 = 1
	case 2:
		if !blend {
			w1 = 0
		}
	}
	if blend && w1 == 0 {
		w1 = 1
	}
	return tap{w0: one - w1, w1: w1}
}

// layouts lays a tap table out for the vector kernels each way it can:
// gather and window (windows2 for unit 2), whichever covers taps.
func layouts(xs []tap, rowLen, unit int) []*vtaps {
	var out []*vtaps
	g := new(vtaps)
	if g.gather(xs, rowLen, unit) > 0 {
		out = append(out, g)
	}
	if w := new(vtaps); unit == 1 && w.windows(xs, rowLen) > 0 {
		out = append(out, w)
	}
	if w := new(vtaps); unit == 2 && w.windows2(xs, rowLen) > 0 {
		out = append(out, w)
	}
	return out
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: output %d of %d is %v (%#x), pure Go gave %v (%#x)",
				what, i, len(want), got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// TestVecKernelsBits runs the AVX2 row kernels (through lumaRow and
// chromaRow, which hand the tail to the Go kernels) against the pure-Go
// sampleRow and convertRow on random rows, taps and weights, and requires
// the same float32 bits.
func TestVecKernelsBits(t *testing.T) {
	if !haveVec {
		t.Skip("no AVX2")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	vecRan := map[string]int{} // outputs from each kind of kernel
	for iter := range 3000 {
		srcN := 1 + rng.IntN(300)
		if iter%10 == 0 {
			srcN = 1 + rng.IntN(2000)
		}
		n := 1 + rng.IntN(120)
		if iter%10 == 1 {
			n = 400 + rng.IntN(40)
		}
		// Luma: unit 1, rows blended on two source rows.
		{
			xs := randTaps(rng, n, srcN, 1)
			r0, r1 := junk(rng, srcN), junk(rng, srcN)
			ty := randRowTap(rng, true)
			for _, vx := range layouts(xs, srcN, 1) {
				vecRan[fmt.Sprintf("luma window=%v", vx.window)] += vx.n
				want, got := nanTensor(n), nanTensor(n)
				sampleRow(want, r0, r1, xs, exact(xs), ty, 1, 0)
				lumaRow(got, r0, r1, xs, exact(xs), vx, ty)
				sameBits(t, fmt.Sprintf("luma %d->%d window=%v ty %v", srcN, n, vx.window, ty), got, want)
				// The kernel itself with a gain and bias.
				vs, bias := float32(rng.Float64()*2-1), float32(rng.Float64()*200-100)
				sampleRow(want, r0, r1, xs, exact(xs), ty, vs, bias)
				lumaRowVec(got[:vx.n], r0, r1, vx, ty, vs*norm, bias)
				sameBits(t, "luma gain/bias", got[:vx.n], want[:vx.n])
			}
		}
		// Chroma, I420 (unit 1) and NV12 (unit 2), rows weighted on one or two
		// source rows, random conversion, gains and biases (random bytes clip
		// often, so the clamps are exercised).
		for _, nv12 := range []bool{false, true} {
			unit := 1
			if nv12 {
				unit = 2
			}
			xs := randTaps(rng, n, srcN, unit)
			var u0, u1, v0, v1 []byte
			if nv12 {
				u0, u1 = junk(rng, 2*srcN), junk(rng, 2*srcN)
				v0, v1 = u0[1:], u1[1:]
			} else {
				u0, u1, v0, v1 = junk(rng, srcN), junk(rng, srcN), junk(rng, srcN), junk(rng, srcN)
			}
			var c yuvConv
			c.ky, c.rv, c.gu, c.gv, c.bu, c.kr, c.kg, c.kb = yuvCoeffs(YUVMatrix(rng.IntN(2)), 1)
			for k := range 3 {
				c.gain[k] = float32(rng.Float64()*2 - 0.5)
				c.bias[k] = float32(rng.Float64()*10 - 5)
			}
			if rng.IntN(4) == 0 {
				c.gain, c.bias = [3]float32{1, 1, 1}, [3]float32{}
			}
			cy := randRowTap(rng, false)
			y := make([]float32, n)
			for i := range y {
				y[i] = float32(rng.IntN(256))
			}
			wb, wg, wr := append([]float32(nil), y...), nanTensor(n), nanTensor(n)
			convertRow(wb, wg, wr, u0, u1, v0, v1, xs, cy, &c)
			for _, vx := range layouts(xs, srcN*unit, unit) {
				vecRan[fmt.Sprintf("chroma nv12=%v window=%v", nv12, vx.window)] += vx.n
				gb, gg, gr := append([]float32(nil), y...), nanTensor(n), nanTensor(n)
				chromaRow(gb, gg, gr, u0, u1, v0, v1, xs, vx, cy, &c, nv12)
				what := fmt.Sprintf("chroma nv12=%v %d->%d window=%v cy %v", nv12, srcN, n, vx.window, cy)
				sameBits(t, what+" B", gb, wb)
				sameBits(t, what+" G", gg, wg)
				sameBits(t, what+" R", gr, wr)
			}
		}
	}
	if len(vecRan) != 6 {
		t.Fatalf("not every kernel ran: %v", vecRan)
	}
	t.Logf("outputs per kernel: %v", vecRan)
}

// TestVecLetterboxBits letterboxes YUV frames with and without the vector
// kernels: every value must have the same bits.
func TestVecLetterboxBits(t *testing.T) {
	if !haveVec {
		t.Skip("no AVX2")
	}
	defer func(v bool) { haveVec = v }(haveVec)
	rng := rand.New(rand.NewPCG(5, 6))
	sizes := []struct{ sw, sh, dw, dh int }{
		{1920, 1080, 416, 416}, {1280, 720, 1280, 736}, {321, 241, 128, 96}, {67, 45, 160, 160}, {1, 1, 8, 8}, {33, 17, 416, 416},
	}
	for _, sz := range sizes {
		for _, f := range []frame.Format{frame.I420, frame.NV12} {
			im := noiseImage(rng, sz.sw, sz.sh)
			fr := encode(rng, im, f)
			var out [2][]float32
			for i, vec := range []bool{false, true} {
				haveVec = vec
				lb := NewLetterbox(sz.dw, sz.dh)
				lb.Matrix = BT709
				out[i] = nanTensor(lb.TensorLen())
				if _, err := lb.Run(&fr, out[i]); err != nil {
					t.Fatal(err)
				}
			}
			sameBits(t, fmt.Sprintf("%s %dx%d->%dx%d", f, sz.sw, sz.sh, sz.dw, sz.dh), out[1], out[0])
		}
	}
}

// BenchmarkVecKernels times one 1080p->416 row of each kernel against the
// pure-Go one.
func BenchmarkVecKernels(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	xs := makeTaps(nil, 416, 1920, 1920.0/416, -0.5, 1)
	cxs := makeTaps(nil, 416, 960, 960.0/416, -0.25, 1)
	r0, r1 := junk(rng, 1920), junk(rng, 1920)
	u0, u1, v0, v1 := junk(rng, 960), junk(rng, 960), junk(rng, 960), junk(rng, 960)
	var vx, vcx vtaps
	vx.build(xs, 1920, 1)
	vcx.build(cxs, 960, 1)
	ty := tap{w0: 5000, w1: one - 5000}
	var c yuvConv
	c.ky, c.rv, c.gu, c.gv, c.bu, c.kr, c.kg, c.kb = yuvCoeffs(BT709, 1)
	c.gain, c.bias = [3]float32{1, 1, 1}, [3]float32{}
	db, dg, dr := make([]float32, 416), make([]float32, 416), make([]float32, 416)
	defer func(v bool) { haveVec = v }(haveVec)
	can := haveVec
	for _, vec := range []bool{false, true} {
		if vec && !can {
			continue
		}
		haveVec = vec
		b.Run(fmt.Sprintf("luma/vec=%v", vec), func(b *testing.B) {
			for b.Loop() {
				lumaRow(db, r0, r1, xs, false, &vx, ty)
			}
		})
		b.Run(fmt.Sprintf("chromaI420/vec=%v", vec), func(b *testing.B) {
			for b.Loop() {
				chromaRow(db, dg, dr, u0, u1, v0, v1, cxs, &vcx, ty, &c, false)
			}
		})
	}
}

// TestVecClampNegZero: clampTo keeps -0, and so must the kernels' clamp
// (VMAXPS returns its second operand for -0 vs 0). With every coefficient
// and bias -0, each colour is -0 in the Go code.
func TestVecClampNegZero(t *testing.T) {
	if !haveVec {
		t.Skip("no AVX2")
	}
	nz := float32(math.Copysign(0, -1))
	c := yuvConv{ky: nz, rv: nz, gu: nz, gv: nz, bu: nz, kr: nz, kg: nz, kb: nz,
		gain: [3]float32{1, 1, 1}, bias: [3]float32{nz, nz, nz}}
	n := 64
	xs := makeTaps(nil, n, 100, 100.0/float64(n), -0.5, 1)
	rng := rand.New(rand.NewPCG(1, 2))
	u0, u1, v0, v1 := junk(rng, 100), junk(rng, 100), junk(rng, 100), junk(rng, 100)
	cy := tap{w0: one}
	wb, wg, wr := make([]float32, n), make([]float32, n), make([]float32, n)
	convertRow(wb, wg, wr, u0, u1, v0, v1, xs, cy, &c)
	if math.Float32bits(wg[0]) != math.Float32bits(nz) {
		t.Fatalf("the Go kernel gave %v, not -0", wg[0])
	}
	for _, vx := range layouts(xs, 100, 1) {
		gb, gg, gr := make([]float32, n), make([]float32, n), make([]float32, n)
		chromaRow(gb, gg, gr, u0, u1, v0, v1, xs, vx, cy, &c, false)
		sameBits(t, fmt.Sprintf("window=%v B", vx.window), gb, wb)
		sameBits(t, fmt.Sprintf("window=%v G", vx.window), gg, wg)
		sameBits(t, fmt.Sprintf("window=%v R", vx.window), gr, wr)
	}
}
