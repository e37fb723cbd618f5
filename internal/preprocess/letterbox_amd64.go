//go:build amd64 && !purego

package preprocess

import "golang.org/x/sys/cpu"

// haveVec says the AVX2 row kernels in letterbox_amd64.s can run (they use
// FMA3 too, which every AVX2 CPU from Haswell and Zen on has). It is a
// variable so that tests can compare them against the pure-Go kernels.
var haveVec = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// The kernels compute sampleRow's two-axis blend and convertRow for
// len(dst) (or len(db)) outputs, a multiple of 8 (see vtaps for the two
// layouts): per lane the tap's two samples from both rows, widened to 16
// bits and blended horizontally with VPMADDWD (exact in int32), then
// vertically with one fused multiply-add of exact float32 terms (a tap's
// weights sum to one, see BLEND), which rounds the exact sum once, as the Go
// code's int to float32 conversion does. Every other float32 step is a
// separate multiply and add in the Go code's order, so the results are the
// same bits.

// The kernels' norm constant is 2**-28 (letterbox_amd64.s, normF32): this
// fails to compile if wBits changes.
var _ [wBits - 14]struct{}
var _ [14 - wBits]struct{}

//go:noescape
func lumaRowAVX2(dst []float32, r0, r1 []byte, idx, w []int32, wy0, wy1 float64, k, bias float32)

//go:noescape
func chromaRowAVX2(db, dg, dr []float32, u0, u1, v0, v1 []byte, idx, w []int32, wy0, wy1 float64, c *yuvConv)

//go:noescape
func chromaRowNV12AVX2(db, dg, dr []float32, u0, u1 []byte, idx, w []int32, wy0, wy1 float64, c *yuvConv)

//go:noescape
func lumaRowWinAVX2(dst []float32, r0, r1 []byte, ctrl, w, base []int32, wy0, wy1 float64, k, bias float32)

//go:noescape
func chromaRowWinAVX2(db, dg, dr []float32, u0, u1, v0, v1 []byte, ctrl, w, base []int32, wy0, wy1 float64, c *yuvConv)

//go:noescape
func chromaRowNV12WinAVX2(db, dg, dr []float32, u0, u1 []byte, ctrl, w, base []int32, wy0, wy1 float64, c *yuvConv)

// lumaRowVec runs the luma kernel on the first len(dst) taps of v (a
// multiple of 8, at most v.n); the rows must be v.rowLen long (the taps were
// checked against that length).
func lumaRowVec(dst []float32, r0, r1 []byte, v *vtaps, ty tap, k, bias float32) {
	n := len(dst)
	if v.window {
		lumaRowWinAVX2(dst, r0[:v.rowLen], r1[:v.rowLen], v.idx[:n], v.w[:n], v.base[:n/4], float64(ty.w0), float64(ty.w1), k, bias)
		return
	}
	lumaRowAVX2(dst, r0[:v.rowLen], r1[:v.rowLen], v.idx[:n], v.w[:n], float64(ty.w0), float64(ty.w1), k, bias)
}

func chromaRowVec(db, dg, dr []float32, u0, u1, v0, v1 []byte, v *vtaps, cy tap, c *yuvConv) {
	n := len(db)
	m := v.rowLen
	if v.window {
		chromaRowWinAVX2(db, dg[:n], dr[:n], u0[:m], u1[:m], v0[:m], v1[:m], v.idx[:n], v.w[:n], v.base[:n/4], float64(cy.w0), float64(cy.w1), c)
		return
	}
	chromaRowAVX2(db, dg[:n], dr[:n], u0[:m], u1[:m], v0[:m], v1[:m], v.idx[:n], v.w[:n], float64(cy.w0), float64(cy.w1), c)
}

// chromaRowVecNV12 is chromaRowVec for NV12: u0 and u1 are the interleaved
// U,V rows, whose taps (unit 2) address U; V is the byte after.
func chromaRowVecNV12(db, dg, dr []float32, u0, u1 []byte, v *vtaps, cy tap, c *yuvConv) {
	n := len(db)
	m := v.rowLen
	if v.window {
		chromaRowNV12WinAVX2(db, dg[:n], dr[:n], u0[:m], u1[:m], v.idx[:4*n], v.w[:n], v.base[:n/4], float64(cy.w0), float64(cy.w1), c)
		return
	}
	chromaRowNV12AVX2(db, dg[:n], dr[:n], u0[:m], u1[:m], v.idx[:n], v.w[:n], float64(cy.w0), float64(cy.w1), c)
}

// prefetchRow asks the CPU to bring the first n bytes of row into the caches.
func prefetchRow(row []byte, n int) { prefetchLines(&row[0], min(n, len(row))) }

//go:noescape
func prefetchLines(p *byte, n int)
