package preprocess

import (
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
)

// rgbImage is a plain w x h R,G,B image, the ground truth the tests encode
// into every frame format.
type rgbImage struct {
	w, h int
	pix  []uint8
}

func (im *rgbImage) at(x, y, c int) float64 { return float64(im.pix[(y*im.w+x)*3+c]) }

// noiseImage is independent random pixels: the harshest input for packed
// formats, where every channel must come from the right byte.
func noiseImage(rng *rand.Rand, w, h int) *rgbImage {
	im := &rgbImage{w, h, make([]uint8, w*h*3)}
	for i := range im.pix {
		im.pix[i] = uint8(rng.IntN(256))
	}
	return im
}

// smoothImage varies slowly so that 2x2 chroma subsampling loses little; YUV
// formats can only be compared against RGB on such content.
func smoothImage(rng *rand.Rand, w, h int) *rgbImage {
	im := &rgbImage{w, h, make([]uint8, w*h*3)}
	var ph [3][2]float64
	for c := range ph {
		ph[c] = [2]float64{rng.Float64() * 6, rng.Float64() * 6}
	}
	for y := range h {
		for x := range w {
			for c := range 3 {
				v := 128 + 90*math.Sin(float64(x)/17+ph[c][0])*math.Cos(float64(y)/23+ph[c][1])
				im.pix[(y*w+x)*3+c] = uint8(v)
			}
		}
	}
	return im
}

// junk fills a buffer with random bytes so that reading padding, the wrong
// plane or the wrong channel shows up as a large error.
func junk(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = uint8(rng.IntN(256))
	}
	return b
}

// encodePacked lays im out in a packed format with a leading offset and a row
// stride larger than needed.
func encodePacked(rng *rand.Rand, im *rgbImage, f frame.Format) frame.Frame {
	ps := f.PixelStride()
	ro, gof, bo := f.RGBOffsets()
	stride := im.w*ps + 7
	off := 13
	fr := frame.Frame{Format: f, Width: im.w, Height: im.h, Data: junk(rng, off+stride*im.h)}
	fr.Offset[0], fr.Stride[0] = off, stride
	for y := range im.h {
		for x := range im.w {
			p := off + y*stride + x*ps
			fr.Data[p+ro] = im.pix[(y*im.w+x)*3]
			fr.Data[p+gof] = im.pix[(y*im.w+x)*3+1]
			fr.Data[p+bo] = im.pix[(y*im.w+x)*3+2]
		}
	}
	return fr
}

// toYUV601 is the limited-range BT.601 forward transform, rounded to bytes.
func toYUV601(r, g, b float64) (y, u, v float64) {
	y = 16 + (65.481*r+128.553*g+24.966*b)/255
	u = 128 + (-37.797*r-74.203*g+112.0*b)/255
	v = 128 + (112.0*r-93.786*g-18.214*b)/255
	return
}

func clampByte(v float64) uint8 { return uint8(math.Round(min(max(v, 0), 255))) }

// yuvPlanes converts im to full-resolution Y and 2x2-averaged U, V.
func yuvPlanes(im *rgbImage) (yp, up, vp []uint8, cw, ch int) {
	cw, ch = (im.w+1)/2, (im.h+1)/2
	yp = make([]uint8, im.w*im.h)
	us := make([]float64, cw*ch)
	vs := make([]float64, cw*ch)
	ns := make([]float64, cw*ch)
	for y := range im.h {
		for x := range im.w {
			Y, U, V := toYUV601(im.at(x, y, 0), im.at(x, y, 1), im.at(x, y, 2))
			yp[y*im.w+x] = clampByte(Y)
			c := (y/2)*cw + x/2
			us[c] += U
			vs[c] += V
			ns[c]++
		}
	}
	up, vp = make([]uint8, cw*ch), make([]uint8, cw*ch)
	for i := range us {
		up[i], vp[i] = clampByte(us[i]/ns[i]), clampByte(vs[i]/ns[i])
	}
	return
}

// encodeYUV lays im out as I420 (V plane stored before U, to prove offsets
// are honoured) or NV12, with padded strides.
func encodeYUV(rng *rand.Rand, im *rgbImage, f frame.Format) frame.Frame {
	yp, up, vp, cw, ch := yuvPlanes(im)
	fr := frame.Frame{Format: f, Width: im.w, Height: im.h}
	ys := im.w + 5
	if f == frame.I420 {
		cs := cw + 3
		fr.Stride = [3]int{ys, cs, cs}
		fr.Offset[0] = 11
		fr.Offset[2] = fr.Offset[0] + ys*im.h + 9 // V
		fr.Offset[1] = fr.Offset[2] + cs*ch + 17  // U
		fr.Data = junk(rng, fr.Offset[1]+cs*ch+4)
	} else {
		cs := 2*cw + 6
		fr.Stride = [3]int{ys, cs}
		fr.Offset[0] = 7
		fr.Offset[1] = fr.Offset[0] + ys*im.h + 5
		fr.Data = junk(rng, fr.Offset[1]+cs*ch+3)
	}
	for y := range im.h {
		copy(fr.Data[fr.Offset[0]+y*ys:], yp[y*im.w:(y+1)*im.w])
	}
	for y := range ch {
		for x := range cw {
			u, v := up[y*cw+x], vp[y*cw+x]
			if f == frame.I420 {
				fr.Data[fr.Offset[1]+y*fr.Stride[1]+x] = u
				fr.Data[fr.Offset[2]+y*fr.Stride[2]+x] = v
			} else {
				fr.Data[fr.Offset[1]+y*fr.Stride[1]+2*x] = u
				fr.Data[fr.Offset[1]+y*fr.Stride[1]+2*x+1] = v
			}
		}
	}
	if err := fr.Validate(); err != nil {
		panic(err)
	}
	return fr
}

func encode(rng *rand.Rand, im *rgbImage, f frame.Format) frame.Frame {
	if f.Packed() {
		return encodePacked(rng, im, f)
	}
	return encodeYUV(rng, im, f)
}

// refSize is the scaled size, computed the way YOLOX does (int(src*r)), with a
// nudge so that exact products do not fall to the integer below.
func refSize(w, h, dw, dh int) (nw, nh int, s float64) {
	s = min(float64(dw)/float64(w), float64(dh)/float64(h))
	return max(1, int(float64(w)*s+1e-6)), max(1, int(float64(h)*s+1e-6)), s
}

// coord maps output sample d of n onto a source axis of length srcN with
// half-pixel centres, clamped to the edge samples.
func coord(d, n, srcN int) (i0, i1 int, a float64) {
	return bilin((float64(d)+0.5)*float64(srcN)/float64(n)-0.5, srcN)
}

func bilin(f float64, srcN int) (i0, i1 int, a float64) {
	f = min(max(f, 0), float64(srcN-1))
	i0 = int(math.Floor(f))
	return i0, min(i0+1, srcN-1), f - float64(i0)
}

// refLetterbox is the obviously-correct float64 letterbox of an RGB image:
// out[c][y][x] with c = B,G,R.
func refLetterbox(im *rgbImage, dw, dh int) []float64 {
	nw, nh, _ := refSize(im.w, im.h, dw, dh)
	out := make([]float64, 3*dw*dh)
	for i := range out {
		out[i] = PadValue
	}
	for y := range nh {
		y0, y1, ay := coord(y, nh, im.h)
		for x := range nw {
			x0, x1, ax := coord(x, nw, im.w)
			for c := range 3 {
				v := (1-ay)*((1-ax)*im.at(x0, y0, c)+ax*im.at(x1, y0, c)) +
					ay*((1-ax)*im.at(x0, y1, c)+ax*im.at(x1, y1, c))
				out[(2-c)*dw*dh+y*dw+x] = v
			}
		}
	}
	return out
}

// refLetterboxYUV samples the Y, U and V planes of im's YUV encoding directly
// (chroma co-sited horizontally, centred vertically) and converts with
// BT.601 limited range.
func refLetterboxYUV(im *rgbImage, dw, dh int) []float64 {
	yp, up, vp, cw, ch := yuvPlanes(im)
	nw, nh, _ := refSize(im.w, im.h, dw, dh)
	sample := func(p []uint8, w, h int, fx, fy float64) float64 {
		x0, x1, ax := bilin(fx, w)
		y0, y1, ay := bilin(fy, h)
		at := func(x, y int) float64 { return float64(p[y*w+x]) }
		return (1-ay)*((1-ax)*at(x0, y0)+ax*at(x1, y0)) + ay*((1-ax)*at(x0, y1)+ax*at(x1, y1))
	}
	out := make([]float64, 3*dw*dh)
	for i := range out {
		out[i] = PadValue
	}
	for y := range nh {
		uy := (float64(y) + 0.5) * float64(im.h) / float64(nh) // continuous source position
		for x := range nw {
			ux := (float64(x) + 0.5) * float64(im.w) / float64(nw)
			Y := sample(yp, im.w, im.h, ux-0.5, uy-0.5)
			U := sample(up, cw, ch, (ux-0.5)/2, uy/2-0.5) - 128
			V := sample(vp, cw, ch, (ux-0.5)/2, uy/2-0.5) - 128
			c := 1.164383 * (Y - 16)
			rgb := [3]float64{c + 1.596027*V, c - 0.391762*U - 0.812968*V, c + 2.017232*U}
			for k := range 3 {
				out[(2-k)*dw*dh+y*dw+x] = min(max(rgb[k], 0), 255)
			}
		}
	}
	return out
}

// diff reports the largest and mean absolute difference, failing on NaN so
// that unwritten outputs (dst is pre-filled with NaN) are caught.
func diff(t *testing.T, got []float32, want []float64) (maxD, meanD float64) {
	t.Helper()
	for i, g := range got {
		if math.IsNaN(float64(g)) {
			t.Fatalf("output %d was never written", i)
		}
		d := math.Abs(float64(g) - want[i])
		maxD = max(maxD, d)
		meanD += d
	}
	return maxD, meanD / float64(len(got))
}

func nanTensor(n int) []float32 {
	t := make([]float32, n)
	for i := range t {
		t[i] = float32(math.NaN())
	}
	return t
}

var geometries = []struct{ sw, sh, dw, dh int }{
	{321, 241, 128, 96},  // downscale, odd sizes, pad right
	{321, 97, 128, 128},  // wide: pad bottom
	{101, 301, 128, 128}, // tall: pad right
	{67, 45, 160, 160},   // upscale
	{64, 48, 64, 48},     // identity size
	{300, 300, 100, 100}, // 1/3: every tap lands on a sample
	{299, 300, 100, 100}, // rows exact, columns blended
	{300, 299, 100, 100}, // columns exact, rows blended
	{1, 1, 8, 8},         // degenerate
}

func TestLetterboxFormats(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, gm := range geometries {
		noise := noiseImage(rng, gm.sw, gm.sh)
		smooth := smoothImage(rng, gm.sw, gm.sh)
		for _, f := range frame.Formats() {
			t.Run(fmt.Sprintf("%s/%dx%d_to_%dx%d", f, gm.sw, gm.sh, gm.dw, gm.dh), func(t *testing.T) {
				lb := NewLetterbox(gm.dw, gm.dh)
				dst := nanTensor(lb.TensorLen())
				if f.Packed() {
					fr := encode(rng, noise, f)
					if _, err := lb.Run(&fr, dst); err != nil {
						t.Fatal(err)
					}
					if m, _ := diff(t, dst, refLetterbox(noise, gm.dw, gm.dh)); m > 0.05 {
						t.Fatalf("max abs diff %.4f vs reference", m)
					}
					return
				}
				fr := encode(rng, smooth, f)
				if _, err := lb.Run(&fr, dst); err != nil {
					t.Fatal(err)
				}
				// Exact to the YUV reference (only fixed-point rounding) ...
				if m, _ := diff(t, dst, refLetterboxYUV(smooth, gm.dw, gm.dh)); m > 0.05 {
					t.Fatalf("max abs diff %.4f vs YUV reference", m)
				}
				// ... and close to the RGB original: byte rounding of Y/U/V and
				// 2x2 chroma averaging are the only losses.
				m, mean := diff(t, dst, refLetterbox(smooth, gm.dw, gm.dh))
				if m > 12 || mean > 1.5 {
					t.Fatalf("vs RGB original: max %.2f mean %.3f", m, mean)
				}
			})
		}
	}
}

// TestLetterboxYUVNoise checks the YUV paths on noise too, where only the
// YUV reference is meaningful.
func TestLetterboxYUVNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	im := noiseImage(rng, 321, 241)
	for _, f := range []frame.Format{frame.I420, frame.NV12} {
		lb := NewLetterbox(160, 128)
		dst := nanTensor(lb.TensorLen())
		fr := encode(rng, im, f)
		if _, err := lb.Run(&fr, dst); err != nil {
			t.Fatal(err)
		}
		if m, _ := diff(t, dst, refLetterboxYUV(im, 160, 128)); m > 0.05 {
			t.Fatalf("%s: max abs diff %.4f vs YUV reference", f, m)
		}
	}
}

// TestLetterboxRGBUnit checks the Ultralytics options: R,G,B plane order and
// values (padding included) divided by 255.
func TestLetterboxRGBUnit(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	im := smoothImage(rng, 203, 150)
	for _, f := range []frame.Format{frame.BGRx, frame.RGB, frame.I420, frame.NV12} {
		fr := encode(rng, im, f)
		lb := NewLetterbox(96, 96)
		base := nanTensor(lb.TensorLen())
		if _, err := lb.Run(&fr, base); err != nil {
			t.Fatal(err)
		}
		lb.Spec.RGB, lb.Spec.Scale = true, 1.0/255
		got := nanTensor(lb.TensorLen())
		if _, err := lb.Run(&fr, got); err != nil {
			t.Fatal(err)
		}
		n := 96 * 96
		want := make([]float64, 3*n)
		for c := range 3 {
			for i := range n {
				want[c*n+i] = float64(base[(2-c)*n+i]) / 255
			}
		}
		if m, _ := diff(t, got, want); m > 1e-5 {
			t.Errorf("%s: RGB+Unit differs from reordered BGR/255 by %g", f, m)
		}
		// And back: the padding must return to 114.
		lb.Spec.RGB, lb.Spec.Scale = false, 1
		if _, err := lb.Run(&fr, got); err != nil {
			t.Fatal(err)
		}
		if got[len(got)-1] != PadValue {
			t.Errorf("%s: padding %v after turning Unit off", f, got[len(got)-1])
		}
	}
}

func TestLetterboxPadding(t *testing.T) {
	lb := NewLetterbox(416, 416)
	dst := nanTensor(lb.TensorLen())
	// All-black frame: every non-padding value is 0, so padding stands out.
	fr := frame.Alloc(frame.BGRx, 1920, 1080)
	tr, err := lb.Run(&fr, dst)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Width != 416 || tr.Height != 234 {
		t.Fatalf("scaled size %dx%d, want 416x234", tr.Width, tr.Height)
	}
	for c := range 3 {
		for y := range 416 {
			for x := range 416 {
				v := dst[c*416*416+y*416+x]
				want := float32(0)
				if y >= 234 {
					want = PadValue
				}
				if v != want {
					t.Fatalf("c%d (%d,%d) = %v, want %v", c, x, y, v, want)
				}
			}
		}
	}
	// Tall frame: padding on the right.
	fr = frame.Alloc(frame.I420, 240, 480)
	for i := range fr.Data {
		fr.Data[i] = 128 // mid grey in YUV
	}
	tr, err = lb.Run(&fr, dst)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Width != 208 || tr.Height != 416 {
		t.Fatalf("scaled size %dx%d, want 208x416", tr.Width, tr.Height)
	}
	for y := range 416 {
		if v := dst[y*416+208]; v != PadValue {
			t.Fatalf("row %d first padding value %v", y, v)
		}
		if v := dst[y*416+207]; math.Abs(float64(v)-130.4) > 1 {
			t.Fatalf("row %d last image value %v, want ~130.4", y, v)
		}
	}
}

// With ReusePadding the padding is written once per tensor, geometry and
// Spec, and every run's output is still the whole input a fresh Letterbox
// makes. Scribbling on the padding (what the contract forbids) shows which
// runs skip it.
func TestLetterboxReusePadding(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	frameOf := func(w, h int) frame.Frame {
		fr := frame.Alloc(frame.I420, w, h)
		copy(fr.Data, junk(rng, len(fr.Data)))
		return fr
	}
	lb := NewLetterbox(416, 416)
	lb.ReusePadding = true
	dst := nanTensor(lb.TensorLen())
	const n = 416 * 416
	padAt := n - 1 // the last value of the B plane: padding for any 16:9 frame
	check := func(what string, fr frame.Frame, wantPadRewritten bool) {
		t.Helper()
		dst[padAt] = -1
		if _, err := lb.Run(&fr, dst); err != nil {
			t.Fatal(err)
		}
		if rewritten := dst[padAt] != -1; rewritten != wantPadRewritten {
			t.Fatalf("%s: padding rewritten %v, want %v", what, rewritten, wantPadRewritten)
		}
		fresh := NewLetterbox(416, 416)
		fresh.Spec = lb.Spec
		want := nanTensor(fresh.TensorLen())
		if _, err := fresh.Run(&fr, want); err != nil {
			t.Fatal(err)
		}
		if !wantPadRewritten {
			dst[padAt] = want[padAt] // undo the scribble the run left alone
		}
		for i := range want {
			if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: value %d is %v, a fresh letterbox gives %v", what, i, dst[i], want[i])
			}
		}
	}
	check("first run", frameOf(1920, 1080), true)
	check("next frame", frameOf(1920, 1080), false)
	check("another geometry", frameOf(1280, 720), true)
	check("same again", frameOf(1280, 720), false)
	lb.Spec.Pad = 0
	check("new Spec", frameOf(1280, 720), true)
	other := nanTensor(lb.TensorLen())
	dst, other = other, dst
	check("another tensor", frameOf(1280, 720), true)
	lb.ReusePadding = false
	check("ReusePadding off", frameOf(1280, 720), true)
}

func TestLetterboxErrors(t *testing.T) {
	lb := NewLetterbox(64, 64)
	good := frame.Alloc(frame.RGB, 32, 32)
	if _, err := lb.Run(&good, make([]float32, 3*64*64-1)); err == nil {
		t.Error("short dst accepted")
	}
	if _, err := lb.Run(&good, make([]float32, 3*64*64+1)); err == nil {
		t.Error("long dst accepted")
	}
	dst := make([]float32, lb.TensorLen())
	bad := []frame.Frame{
		{Format: frame.RGB, Width: 32, Height: 32, Data: make([]byte, 10), Stride: [3]int{96}},
		{Format: frame.FormatUnknown, Width: 32, Height: 32, Data: make([]byte, 4096)},
		{Format: frame.RGB, Width: 0, Height: 32, Data: make([]byte, 4096), Stride: [3]int{96}},
		{Format: frame.RGB, Width: 32, Height: 32, Data: make([]byte, 4096), Stride: [3]int{95}},
		{Format: frame.RGB, Width: 2, Height: 2, Data: make([]byte, 4096), Stride: [3]int{6}, Offset: [3]int{-6}},
	}
	for i, fr := range bad {
		if _, err := lb.Run(&fr, dst); err == nil {
			t.Errorf("bad frame %d accepted", i)
		}
	}
	if _, err := NewLetterbox(0, 64).Run(&good, nil); err == nil {
		t.Error("zero-size letterbox accepted")
	}
	if _, err := lb.Run(&good, dst); err != nil {
		t.Errorf("good frame after errors: %v", err)
	}
}

// TestLetterboxReplan switches size and format on one Letterbox: the cached
// tables must follow the source.
func TestLetterboxReplan(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	lb := NewLetterbox(96, 96)
	dst := nanTensor(lb.TensorLen())
	for _, step := range []struct {
		w, h int
		f    frame.Format
	}{{200, 100, frame.RGB}, {200, 100, frame.BGRA}, {90, 150, frame.BGRA}, {200, 100, frame.RGB}} {
		im := noiseImage(rng, step.w, step.h)
		fr := encode(rng, im, step.f)
		if _, err := lb.Run(&fr, dst); err != nil {
			t.Fatal(err)
		}
		if m, _ := diff(t, dst, refLetterbox(im, 96, 96)); m > 0.05 {
			t.Fatalf("%v: max abs diff %.4f", step, m)
		}
	}
}

func TestLetterboxAllocs(t *testing.T) {
	lb := NewLetterbox(416, 416)
	dst := make([]float32, lb.TensorLen())
	for _, f := range []frame.Format{frame.BGRx, frame.RGB, frame.I420, frame.NV12} {
		fr := frame.Alloc(f, 640, 360)
		if _, err := lb.Run(&fr, dst); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(5, func() { lb.Run(&fr, dst) }); n != 0 {
			t.Errorf("%s: %v allocs per Run", f, n)
		}
	}
}

// TestConvertRowBits: convertRow gives the bits that resampling U and V
// into their rows with sampleRow and converting after did, for taps that
// blend, that land exactly (1:1) and that clamp at the edges, and for rows
// weighted on one or two source rows.
func TestConvertRowBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, m := range []YUVMatrix{BT601, BT709} {
		for _, size := range [][3]int{{960, 416, 25}, {640, 1280, 25}, {416, 416, 25}, {416, 416, 50}, {100, 37, 50}} {
			srcN, n := size[0], size[1]
			xs := makeTaps(nil, n, srcN, float64(srcN)/float64(n), -float64(size[2])/100, 1)
			row := func() []byte { return junk(rng, srcN+1) }
			u0, u1, v0, v1 := row(), row(), row(), row()
			for _, cy := range []tap{{w0: one}, {w0: one - 5000, w1: 5000}, {w0: 1, w1: one - 1}} {
				var c yuvConv
				c.ky, c.rv, c.gu, c.gv, c.bu, c.kr, c.kg, c.kb = yuvCoeffs(m, 1)
				c.gain, c.bias = [3]float32{1.0 / 255, 1, 0.5}, [3]float32{0, -0.5, 3}
				y := make([]float32, n)
				for i := range y {
					y[i] = float32(rng.IntN(256))
				}
				// Before convertRow: each plane into its row, then converted.
				wb, wg, wr := append([]float32(nil), y...), make([]float32, n), make([]float32, n)
				sampleRow(wg, u0, u1, xs, exact(xs), cy, 1, 0)
				if size[2] == 50 && size[0] == size[1] && !exact(xs) {
					t.Fatal("1:1 taps should land exactly")
				}
				sampleRow(wr, v0, v1, xs, exact(xs), cy, 1, 0)
				for i, yv := range wb {
					uv, vv := wg[i], wr[i]
					yy := float32(c.ky * yv) // conversions: no fused multiply-add (see sampleRow)
					wb[i] = float32(clampTo(yy+float32(c.bu*uv)+c.kb, 255)*c.gain[0]) + c.bias[0]
					wg[i] = float32(clampTo(yy+float32(c.gu*uv)+float32(c.gv*vv)+c.kg, 255)*c.gain[1]) + c.bias[1]
					wr[i] = float32(clampTo(yy+float32(c.rv*vv)+c.kr, 255)*c.gain[2]) + c.bias[2]
				}
				gb, gg, gr := append([]float32(nil), y...), make([]float32, n), make([]float32, n)
				convertRow(gb, gg, gr, u0, u1, v0, v1, xs, cy, &c)
				for i := range n {
					for ch, p := range [3][2]float32{{gb[i], wb[i]}, {gg[i], wg[i]}, {gr[i], wr[i]}} {
						if math.Float32bits(p[0]) != math.Float32bits(p[1]) {
							t.Fatalf("%v, %d→%d, row weights %d/%d: sample %d colour %d is %v, separate passes gave %v",
								m, srcN, n, cy.w0, cy.w1, i, ch, p[0], p[1])
						}
					}
				}
			}
		}
	}
}

func TestTransform(t *testing.T) {
	cases := []struct {
		sw, sh, dw, dh int
		scale          float64
		w, h           int
	}{
		{1920, 1080, 416, 416, 416.0 / 1920, 416, 234},
		{1920, 1080, 640, 640, 640.0 / 1920, 640, 360},
		{1280, 720, 1280, 736, 1, 1280, 720},
		{1080, 1920, 416, 416, 416.0 / 1920, 234, 416},
		{640, 480, 1280, 1280, 2, 1280, 960},
	}
	for _, c := range cases {
		tr := NewTransform(c.sw, c.sh, c.dw, c.dh)
		if math.Abs(float64(tr.Scale)-c.scale) > 1e-7 || tr.Width != c.w || tr.Height != c.h {
			t.Errorf("NewTransform(%d,%d,%d,%d) = %+v, want scale %v %dx%d", c.sw, c.sh, c.dw, c.dh, tr, c.scale, c.w, c.h)
		}
		// Round trip: frame → model → frame.
		r := detection.Rect{X1: 10.5, Y1: 20.25, X2: float32(c.sw) - 3, Y2: float32(c.sh) - 7}
		back := tr.ToFrame(tr.ToModel(r), c.sw, c.sh)
		for _, d := range []float32{back.X1 - r.X1, back.Y1 - r.Y1, back.X2 - r.X2, back.Y2 - r.Y2} {
			if math.Abs(float64(d)) > 1e-3 {
				t.Errorf("round trip %v → %v", r, back)
			}
		}
	}
	tr := NewTransform(1920, 1080, 416, 416)
	// A model box reaching into the padding is clamped to the frame.
	got := tr.ToFrame(detection.Rect{X1: -5, Y1: 200, X2: 104, Y2: 300}, 1920, 1080)
	want := detection.Rect{X1: 0, Y1: 200 / tr.Scale, X2: 480, Y2: 1080}
	if math.Abs(float64(got.X1-want.X1)) > 1e-3 || math.Abs(float64(got.Y1-want.Y1)) > 1e-3 ||
		math.Abs(float64(got.X2-want.X2)) > 1e-3 || got.Y2 != want.Y2 {
		t.Errorf("ToFrame clamp = %v, want %v", got, want)
	}
	// The zero Transform is the identity.
	if got := (Transform{}).ToFrame(detection.Rect{X1: 1, Y1: 2, X2: 3, Y2: 4}, 10, 10); got != (detection.Rect{X1: 1, Y1: 2, X2: 3, Y2: 4}) {
		t.Errorf("zero Transform ToFrame = %v", got)
	}
}

// TestLetterboxPhoto letterboxes a real MOT17 frame from RGB and from I420:
// on natural content the two paths must agree closely.
func TestLetterboxPhoto(t *testing.T) {
	f, err := os.Open("../../../shared/assets/video/MOT17-04-FRCNN-mini/img1/000001.jpg")
	if err != nil {
		t.Skipf("test photo not available: %v", err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	im := &rgbImage{b.Dx(), b.Dy(), make([]uint8, b.Dx()*b.Dy()*3)}
	for y := range im.h {
		for x := range im.w {
			r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			p := (y*im.w + x) * 3
			im.pix[p], im.pix[p+1], im.pix[p+2] = uint8(r>>8), uint8(g>>8), uint8(bb>>8)
		}
	}
	if _, ok := img.(*image.YCbCr); !ok {
		t.Logf("photo decoded as %T", img)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	lb := NewLetterbox(416, 416)
	fromRGB := make([]float32, lb.TensorLen())
	fromYUV := make([]float32, lb.TensorLen())
	rgbFrame := encode(rng, im, frame.RGB)
	yuvFrame := encode(rng, im, frame.I420)
	if _, err := lb.Run(&rgbFrame, fromRGB); err != nil {
		t.Fatal(err)
	}
	if _, err := lb.Run(&yuvFrame, fromYUV); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, len(fromRGB))
	for i, v := range fromRGB {
		want[i] = float64(v)
	}
	maxD, mean := diff(t, fromYUV, want)
	t.Logf("%dx%d photo, RGB vs I420 letterbox: mean abs diff %.3f, max %.2f", im.w, im.h, mean, maxD)
	if mean > 2 {
		t.Fatalf("RGB and I420 paths differ by %.3f on average", mean)
	}
}

// naturalFrame is a benchmark frame with camera-like content: smooth, with a
// little noise, and colours inside the YUV gamut. Random bytes would make
// the YUV paths clip on most pixels, which real video never does.
func naturalFrame(f frame.Format, w, h int) frame.Frame {
	fr := frame.Alloc(f, w, h)
	rng := rand.New(rand.NewPCG(1, 1))
	wave := func(x, y, k int) uint8 {
		v := 128 + 70*math.Sin(float64(x)/(37+float64(k)*11))*math.Cos(float64(y)/(29+float64(k)*7))
		return uint8(int(v) + rng.IntN(9) - 4)
	}
	if f.Packed() {
		ps := f.PixelStride()
		for y := range h {
			for x := range w {
				for k := range ps {
					fr.Data[y*fr.Stride[0]+x*ps+k] = wave(x, y, k)
				}
			}
		}
		return fr
	}
	for y := range h {
		for x := range w {
			fr.Data[fr.Offset[0]+y*fr.Stride[0]+x] = 16 + wave(x, y, 0)*219/255
		}
	}
	cw, ch := (w+1)/2, (h+1)/2
	for y := range ch {
		for x := range cw {
			u, v := 128+(wave(x, y, 1)-128)/3, 128+(wave(x, y, 2)-128)/3
			if f == frame.I420 {
				fr.Data[fr.Offset[1]+y*fr.Stride[1]+x] = u
				fr.Data[fr.Offset[2]+y*fr.Stride[2]+x] = v
			} else {
				fr.Data[fr.Offset[1]+y*fr.Stride[1]+2*x] = u
				fr.Data[fr.Offset[1]+y*fr.Stride[1]+2*x+1] = v
			}
		}
	}
	return fr
}

func BenchmarkLetterbox(b *testing.B) {
	for _, f := range frame.Formats() {
		b.Run(f.String(), func(b *testing.B) {
			fr := naturalFrame(f, 1920, 1080)
			lb := NewLetterbox(416, 416)
			dst := make([]float32, lb.TensorLen())
			if _, err := lb.Run(&fr, dst); err != nil { // build the plan outside the timed loop
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := lb.Run(&fr, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLetterboxCloud is the cloud-side size: 1280x720 into 1280x736.
func BenchmarkLetterboxCloud(b *testing.B) {
	for _, f := range []frame.Format{frame.BGRx, frame.I420} {
		b.Run(f.String(), func(b *testing.B) {
			fr := naturalFrame(f, 1280, 720)
			lb := NewLetterbox(1280, 736)
			dst := make([]float32, lb.TensorLen())
			if _, err := lb.Run(&fr, dst); err != nil { // build the plan outside the timed loop
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := lb.Run(&fr, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLetterboxColdCaches is the edge's letterbox as reactdetect runs it:
// between two frames the inference pushes frame and tensor out of the caches
// (here: 16 MB touched between runs, outside the timing), with and without
// ReusePadding. us/letterbox is the letterbox alone.
func BenchmarkLetterboxColdCaches(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	fr := frame.Alloc(frame.I420, 1920, 1080)
	copy(fr.Data, junk(rng, len(fr.Data)))
	for _, reuse := range []bool{false, true} {
		name := "pad-every-run"
		if reuse {
			name = "reuse-padding"
		}
		b.Run(name, func(b *testing.B) {
			lb := NewLetterbox(416, 416)
			lb.ReusePadding = reuse
			dst := make([]float32, lb.TensorLen())
			evict := make([]byte, 16<<20)
			var total time.Duration
			for range b.N {
				for j := 0; j < len(evict); j += 64 {
					evict[j]++
				}
				t0 := time.Now()
				if _, err := lb.Run(&fr, dst); err != nil {
					b.Fatal(err)
				}
				total += time.Since(t0)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "us/letterbox")
		})
	}
}
