package tracker

import (
	"math/rand/v2"
	"testing"

	"github.com/gst-react/gst-react/internal/frame"
)

func TestGrayFromPacked(t *testing.T) {
	const w, h = 37, 23 // odd sizes: padded strides and dropped remainders
	r := rand.New(rand.NewPCG(1, 2))
	rgb := make([][3]uint32, w*h)
	for i := range rgb {
		rgb[i] = [3]uint32{r.Uint32N(256), r.Uint32N(256), r.Uint32N(256)}
	}
	formats := []frame.Format{frame.RGB, frame.BGR, frame.RGBx, frame.BGRx, frame.XRGB, frame.XBGR, frame.RGBA, frame.BGRA, frame.ARGB, frame.ABGR}
	for _, format := range formats {
		f := frame.Alloc(format, w, h)
		ps := format.PixelStride()
		ro, gO, bo := format.RGBOffsets()
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := f.Data[y*f.Stride[0]+x*ps:]
				for k := 0; k < ps; k++ {
					p[k] = 0xAB // pad/alpha must not leak into luma
				}
				c := rgb[y*w+x]
				p[ro], p[gO], p[bo] = byte(c[0]), byte(c[1]), byte(c[2])
			}
		}
		for _, s := range []int{1, 2, 3, 4} {
			var g Gray
			if err := g.From(&f, s); err != nil {
				t.Fatalf("%s/%d: %v", format, s, err)
			}
			if g.W != w/s || g.H != h/s {
				t.Fatalf("%s/%d: size %dx%d", format, s, g.W, g.H)
			}
			for y := 0; y < g.H; y++ {
				for x := 0; x < g.W; x++ {
					var sr, sg, sb uint32
					for dy := 0; dy < s; dy++ {
						for dx := 0; dx < s; dx++ {
							c := rgb[(y*s+dy)*w+x*s+dx]
							sr, sg, sb = sr+c[0], sg+c[1], sb+c[2]
						}
					}
					n := uint32(256 * s * s)
					want := uint8((77*sr + 150*sg + 29*sb + n/2) / n)
					if got := g.Pix[y*g.W+x]; got != want {
						t.Fatalf("%s scale %d (%d,%d): got %d want %d", format, s, x, y, got, want)
					}
				}
			}
		}
	}
}

func TestGrayFromPlanar(t *testing.T) {
	const w, h = 38, 22
	r := rand.New(rand.NewPCG(3, 4))
	for _, format := range []frame.Format{frame.I420, frame.NV12} {
		f := frame.Alloc(format, w, h)
		for i := range f.Data {
			f.Data[i] = byte(r.IntN(256)) // chroma random too: it must be ignored
		}
		for _, s := range []int{1, 2, 3, 4} {
			var g Gray
			if err := g.From(&f, s); err != nil {
				t.Fatal(err)
			}
			for y := 0; y < g.H; y++ {
				for x := 0; x < g.W; x++ {
					var a uint32
					for dy := 0; dy < s; dy++ {
						for dx := 0; dx < s; dx++ {
							a += uint32(f.Data[f.Offset[0]+(y*s+dy)*f.Stride[0]+x*s+dx])
						}
					}
					n := uint32(s * s)
					if got, want := g.Pix[y*g.W+x], uint8((a+n/2)/n); got != want {
						t.Fatalf("%s scale %d (%d,%d): got %d want %d", format, s, x, y, got, want)
					}
				}
			}
		}
	}
}

func TestGrayFromErrors(t *testing.T) {
	var g Gray
	f := frame.Alloc(frame.BGRx, 8, 8)
	f.Data = f.Data[:10]
	if err := g.From(&f, 1); err == nil {
		t.Error("short buffer accepted")
	}
	f = frame.Alloc(frame.BGRx, 3, 3)
	if err := g.From(&f, 4); err == nil {
		t.Error("frame smaller than the scale accepted")
	}
}

func TestPyramidBuildReuses(t *testing.T) {
	f := frame.Alloc(frame.I420, 1920, 1080)
	var p Pyramid
	if err := p.Build(&f, 2, 3); err != nil {
		t.Fatal(err)
	}
	if len(p.Levels) != 3 || p.Levels[0].W != 960 || p.Levels[2].W != 240 || p.Levels[2].H != 135 {
		t.Fatalf("levels: %d, %dx%d", len(p.Levels), p.Levels[2].W, p.Levels[2].H)
	}
	allocs := testing.AllocsPerRun(5, func() {
		if err := p.Build(&f, 2, 3); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Build allocates %v times per frame", allocs)
	}
	var q Pyramid
	q.CopyFrom(&p)
	if allocs := testing.AllocsPerRun(5, func() { q.CopyFrom(&p) }); allocs != 0 {
		t.Errorf("CopyFrom allocates %v times", allocs)
	}
	// A tiny image stops early instead of building empty levels.
	small := frame.Alloc(frame.I420, 40, 40)
	if err := p.Build(&small, 1, 5); err != nil {
		t.Fatal(err)
	}
	if len(p.Levels) != 2 {
		t.Errorf("40x40 pyramid has %d levels, want 2 (20x20; 10x10 is below the minimum)", len(p.Levels))
	}
}

func TestHalveMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][2]int{{37, 23}, {64, 64}, {17, 9}, {2, 2}, {50, 3}} {
		src := &Gray{}
		src.resize(sz[0], sz[1])
		for i := range src.Pix {
			src.Pix[i] = uint8(r.IntN(256))
		}
		if sz == [2]int{64, 64} {
			for i := range src.Pix {
				src.Pix[i] = 255 // extreme values: no lane overflow
			}
		}
		var dst Gray
		halve(&dst, src)
		if dst.W != sz[0]/2 || dst.H != sz[1]/2 {
			t.Fatalf("%v: size %dx%d", sz, dst.W, dst.H)
		}
		for y := 0; y < dst.H; y++ {
			for x := 0; x < dst.W; x++ {
				p := func(i, j int) uint32 { return uint32(src.Pix[j*src.W+i]) }
				want := uint8((p(2*x, 2*y) + p(2*x+1, 2*y) + p(2*x, 2*y+1) + p(2*x+1, 2*y+1) + 2) / 4)
				if got := dst.Pix[y*dst.W+x]; got != want {
					t.Fatalf("%v (%d,%d): got %d want %d", sz, x, y, got, want)
				}
			}
		}
	}
}
