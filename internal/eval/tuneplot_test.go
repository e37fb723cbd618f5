package eval_test

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/gst-react/gst-react/internal/eval"
)

func TestWriteTunePlot(t *testing.T) {
	cs := []eval.Candidate{
		{K: 5, M: 30, MAP50: 0.6, UplinkKbps: 300, EdgeDetectPerS: 6, CloudRequestsPerS: 1},
		{K: 1, M: 10, MAP50: 0.7, UplinkKbps: 900, EdgeDetectPerS: 30, CloudRequestsPerS: 3},
		{K: 10, M: 60, MAP50: 0.4, UplinkKbps: 150, EdgeDetectPerS: 3, CloudRequestsPerS: 0.5},
		{K: 10, M: 30, MAP50: 0.3, UplinkKbps: 300, EdgeDetectPerS: 3, CloudRequestsPerS: 1},
	}
	b := eval.Budget{MaxUplinkKbps: 400}
	eval.MarkFront(cs, b)
	chosen, err := eval.Choose(cs, b)
	if err != nil {
		t.Fatal(err)
	}
	var out, again bytes.Buffer
	if err := eval.WriteTunePlot(&out, cs, &chosen, b, "test"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if sz := img.Bounds().Size(); sz.X != eval.TunePlotWidth || sz.Y != eval.TunePlotHeight {
		t.Fatalf("size %v", sz)
	}
	// The chosen point is drawn in red somewhere on the chart.
	red := 0
	for y := 0; y < eval.TunePlotHeight-60; y++ {
		for x := 0; x < eval.TunePlotWidth; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 == 0xd6 && g>>8 == 0x27 && bl>>8 == 0x28 {
				red++
			}
		}
	}
	if red < 100 {
		t.Fatalf("chosen marker: %d red pixels", red)
	}
	// Deterministic, and a budget nothing fits still plots.
	if err := eval.WriteTunePlot(&again, cs, &chosen, b, "test"); err != nil || !bytes.Equal(out.Bytes(), again.Bytes()) {
		t.Fatalf("second plot differs: %v", err)
	}
	if err := eval.WriteTunePlot(&again, cs, nil, eval.Budget{MaxUplinkKbps: 10}, "none fits"); err != nil {
		t.Fatal(err)
	}
	if err := eval.WriteTunePlot(&again, nil, nil, b, "empty"); err == nil {
		t.Fatal("empty plot accepted")
	}
}
