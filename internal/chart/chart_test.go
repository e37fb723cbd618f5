package chart

import (
	"bytes"
	"image/png"
	"math"
	"testing"
)

func TestLineChartDrawsSeriesAndMarker(t *testing.T) {
	lc := LineChart{
		Title: "t", XLabel: "edges", YLabel: "ms", X: []float64{1, 2, 4, 8}, LogX: true,
		Series:  []Series{{Name: "p50", Y: []float64{100, 120, math.NaN(), 400}}, {Name: "p95", Y: []float64{150, 200, 300, 900}}},
		Markers: []Marker{{Name: "SLO 500 ms", Y: 500}},
		Note:    "note",
	}
	var a, b bytes.Buffer
	if err := lc.WritePNG(&a, 640, 400); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if s := img.Bounds().Size(); s.X != 640 || s.Y != 400 {
		t.Fatalf("size %v, want 640x400", s)
	}
	// The first series' colour is drawn somewhere.
	found := false
	for y := 0; y < 400 && !found; y++ {
		for x := 0; x < 640; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == Palette[0].R && uint8(g>>8) == Palette[0].G && uint8(bl>>8) == Palette[0].B {
				found = true
				break
			}
		}
	}
	if !found {
		t.Fatal("no pixel of the first series' colour")
	}
	if err := lc.WritePNG(&b, 640, 400); err != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("second drawing differs (err %v): want deterministic output", err)
	}
	bad := lc
	bad.Series = []Series{{Name: "short", Y: []float64{1}}}
	if err := bad.WritePNG(&b, 640, 400); err == nil {
		t.Fatal("a series shorter than X drew without error")
	}
}

func TestNiceStep(t *testing.T) {
	for _, c := range []struct {
		span float64
		n    int
		want float64
	}{{100, 8, 20}, {1000, 8, 200}, {7, 8, 1}, {0.3, 8, 0.05}, {2200, 8, 500}, {0, 8, 1}} {
		if got := NiceStep(c.span, c.n); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("NiceStep(%v, %d) = %v, want %v", c.span, c.n, got, c.want)
		}
	}
}
