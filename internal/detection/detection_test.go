package detection

import "testing"

func TestIoU(t *testing.T) {
	cases := []struct {
		a, b Rect
		want float32
	}{
		{Rect{0, 0, 10, 10}, Rect{0, 0, 10, 10}, 1},
		{Rect{0, 0, 10, 10}, Rect{10, 10, 20, 20}, 0},
		{Rect{0, 0, 10, 10}, Rect{5, 0, 15, 10}, 50.0 / 150.0},
		{Rect{0, 0, 0, 10}, Rect{0, 0, 10, 10}, 0},
	}
	for _, c := range cases {
		if got := IoU(c.a, c.b); got < c.want-1e-6 || got > c.want+1e-6 {
			t.Errorf("IoU(%v,%v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestSourceRoundTrip(t *testing.T) {
	for _, s := range []Source{SourceEdge, SourceTracked, SourceCloud} {
		got, err := ParseSource(s.String())
		if err != nil || got != s {
			t.Fatalf("ParseSource(%q) = %v, %v", s.String(), got, err)
		}
	}
	if _, err := ParseSource("satellite"); err == nil {
		t.Fatal("ParseSource accepted an unknown name")
	}
}
