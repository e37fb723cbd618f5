//go:build !amd64 || purego

package preprocess

// haveVec is false: only amd64 has vector row kernels, so the pure-Go
// sampleRow and convertRow do all the work.
const haveVec = false

func lumaRowVec(dst []float32, r0, r1 []byte, v *vtaps, ty tap, k, bias float32) {
	panic("preprocess: no vector kernels on this architecture")
}

func chromaRowVec(db, dg, dr []float32, u0, u1, v0, v1 []byte, v *vtaps, cy tap, c *yuvConv) {
	panic("preprocess: no vector kernels on this architecture")
}

func chromaRowVecNV12(db, dg, dr []float32, u0, u1 []byte, v *vtaps, cy tap, c *yuvConv) {
	panic("preprocess: no vector kernels on this architecture")
}

// prefetchRow does nothing: Go has no prefetch outside assembly (the amd64
// one takes 10% off a letterbox whose frame is out of the caches).
func prefetchRow(row []byte, n int) {}
