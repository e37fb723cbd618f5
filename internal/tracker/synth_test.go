package tracker

import (
	"math"
	"math/rand/v2"
)

// noise is a smooth random texture (two octaves of quintic value noise) that can
// be sampled at any real position, so shifted and scaled copies are exact.
type noise struct {
	seed uint64
}

func (n noise) lattice(i, j int, oct uint64) float64 {
	h := uint64(int64(i))*0x9E3779B97F4A7C15 ^ uint64(int64(j))*0xC2B2AE3D27D4EB4F ^ (n.seed+oct)*0x165667B19E3779F9
	h ^= h >> 31
	h *= 0xD6E8FEB86659FD93
	h ^= h >> 32
	return float64(h>>11) / float64(1<<53)
}

func fade(t float64) float64 { return t * t * t * (t*(t*6-15) + 10) }

func (n noise) octave(x, y, cell float64, oct uint64) float64 {
	gx, gy := x/cell, y/cell
	i, j := math.Floor(gx), math.Floor(gy)
	u, v := fade(gx-i), fade(gy-j)
	ii, jj := int(i), int(j)
	a := n.lattice(ii, jj, oct)
	b := n.lattice(ii+1, jj, oct)
	c := n.lattice(ii, jj+1, oct)
	d := n.lattice(ii+1, jj+1, oct)
	return (a*(1-u)+b*u)*(1-v) + (c*(1-u)+d*u)*v
}

// at is the texture value in [0,255] at edge coordinates (x, y).
func (n noise) at(x, y float64) float64 {
	v := 0.35*n.octave(x, y, 24, 2) + 0.4*n.octave(x, y, 9, 0) + 0.25*n.octave(x, y, 4, 1)
	return 20 + 215*v
}

// render makes a w×h grey image; pixel (i,j) is f at its centre (i+0.5, j+0.5).
func render(w, h int, f func(x, y float64) float64) *Gray {
	g := &Gray{}
	g.resize(w, h)
	for j := 0; j < h; j++ {
		for i := 0; i < w; i++ {
			v := f(float64(i)+0.5, float64(j)+0.5)
			g.Pix[j*w+i] = uint8(min(max(math.Round(v), 0), 255))
		}
	}
	return g
}

func pyr(g *Gray, levels int) *Pyramid {
	p := &Pyramid{}
	p.SetGray(g, 1, levels)
	return p
}

// whiteNoise is an unrelated image: independent uniform pixels.
func whiteNoise(w, h int, seed uint64) *Gray {
	r := rand.New(rand.NewPCG(seed, 7))
	g := &Gray{}
	g.resize(w, h)
	for i := range g.Pix {
		g.Pix[i] = uint8(r.IntN(256))
	}
	return g
}
