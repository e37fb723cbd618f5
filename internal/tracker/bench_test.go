package tracker

import (
	"testing"

	"github.com/gst-react/gst-react/internal/detection"
	"github.com/gst-react/gst-react/internal/frame"
)

// BenchmarkMedianFlowPerObject: one ~60x150 object on a 960x540 level 0 moving
// (2.3, -1.6) px, pyramids built beforehand (they are shared by all objects).
func BenchmarkMedianFlowPerObject(b *testing.B) {
	tex := noise{seed: 51}
	mk := func(dx, dy float64) *Pyramid {
		return pyr(render(960, 540, func(x, y float64) float64 { return tex.at(x-dx, y-dy) }), 3)
	}
	prev, cur := mk(0, 0), mk(2.3, -1.6)
	box := detection.Rect{X1: 400, Y1: 200, X2: 460, Y2: 350}
	for _, c := range []struct {
		name string
		cfg  Config
	}{{"default", Config{}}, {"followScale", Config{FollowScale: true}}, {"noNCC", Config{NoNCC: true}}} {
		b.Run(c.name, func(b *testing.B) {
			m := NewMedianFlow(c.cfg)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := m.Track(prev, cur, box); !ok {
					b.Fatal("lost")
				}
			}
		})
	}
}

// BenchmarkKCFPerObject: KCF on the same object and motion as
// BenchmarkMedianFlowPerObject (detect in the new frame, then learn it).
func BenchmarkKCFPerObject(b *testing.B) {
	tex := noise{seed: 51}
	mk := func(dx, dy float64) *Pyramid {
		return pyr(render(960, 540, func(x, y float64) float64 { return tex.at(x-dx, y-dy) }), 3)
	}
	prev, cur := mk(0, 0), mk(2.3, -1.6)
	box := detection.Rect{X1: 400, Y1: 200, X2: 460, Y2: 350}
	minVis := DefaultConfig().MinVisible
	k := NewKCF()
	var m KCFModel
	if !k.Init(&m, prev, box, minVis) {
		b.Fatal("init failed")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := k.Track(&m, cur, box, minVis); !ok {
			b.Fatal("lost")
		}
	}
}

// BenchmarkPyramid960x540: grey conversion and a 3-level pyramid per 1080p frame
// at Scale 2.
func BenchmarkPyramid960x540(b *testing.B) {
	for _, format := range []frame.Format{frame.BGRx, frame.I420} {
		b.Run(format.String(), func(b *testing.B) {
			f := frame.Alloc(format, 1920, 1080)
			for i := range f.Data {
				f.Data[i] = byte(i * 7)
			}
			var p Pyramid
			if err := p.Build(&f, 2, 3); err != nil { // first frame allocates
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(f.Data)))
			for b.Loop() {
				if err := p.Build(&f, 2, 3); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTracksStep10: what the element pays per frame without detections,
// with 10 objects: Median Flow for each plus the pyramid copy Tracks keeps.
func BenchmarkTracksStep10(b *testing.B) {
	tex := noise{seed: 52}
	mk := func(dx float64) *Pyramid {
		return pyr(render(960, 540, func(x, y float64) float64 { return tex.at(x-dx, y) }), 3)
	}
	ps := [2]*Pyramid{mk(0), mk(1.5)}
	var dets []detection.Detection
	for i := 0; i < 10; i++ {
		x := float32(40 + 90*i)
		dets = append(dets, det(x, 150, x+60, 300, 0))
	}
	tr := NewTracks(Config{})
	tr.Update(dets, ps[0])
	b.ReportAllocs()
	i := 1
	for b.Loop() {
		// The content moves back and forth 1.5 px, so the tracks live forever.
		if out := tr.Step(ps[i&1]); len(out) != 10 {
			b.Fatalf("%d tracks", len(out))
		}
		i++
	}
}
