package preprocess

import (
	"math"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/frame"
)

func TestParseSpec(t *testing.T) {
	nano := "resize=centred,pad=0,channels=bgr,scale=1,mean=103.53/116.28/123.675,std=57.375/57.12/58.395"
	s, err := ParseSpec(nano, DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	if s.Resize != ResizeCentred || s.Pad != 0 || s.RGB || s.Mean[2] != 123.675 || s.Std[0] != 57.375 {
		t.Fatalf("ParseSpec = %+v", s)
	}
	if back, err := ParseSpec(s.String(), DefaultSpec()); err != nil || back != s {
		t.Errorf("String %q does not parse back: %+v, %v", s.String(), back, err)
	}
	// An override names only what differs.
	s, err = ParseSpec("channels=rgb, scale=1/255", DefaultSpec())
	if err != nil || !s.RGB || math.Abs(float64(s.Scale)-1.0/255) > 1e-9 || s.Pad != PadValue || s.Resize != ResizeLetterbox {
		t.Errorf("partial override = %+v, %v", s, err)
	}
	if s.String() != "resize=letterbox,pad=114,channels=rgb,scale=1/255,mean=0/0/0,std=1/1/1" {
		t.Errorf("String = %q", s.String())
	}
	if s, _ := ParseSpec("", DefaultSpec()); s != DefaultSpec() {
		t.Errorf("empty override changed the spec: %+v", s)
	}
	for _, bad := range []string{"resize=crop", "pad=300", "channels=gbr", "scale=0", "std=0", "mean=1/2", "colour=red", "rgb"} {
		if _, err := ParseSpec(bad, DefaultSpec()); err == nil {
			t.Errorf("ParseSpec(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), "preprocessing") {
			t.Errorf("ParseSpec(%q) error %q does not say what it is about", bad, err)
		}
	}
}

// A white 1920x1080 frame into 416x416 under each resize mode: image cells
// hold (255*scale-mean)/std and padding (pad*scale-mean)/std, per plane.
func TestLetterboxModes(t *testing.T) {
	spec, err := ParseSpec("pad=0,mean=100/110/120,std=50/55/60", DefaultSpec())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []frame.Format{frame.BGRx, frame.RGB, frame.I420} {
		fr := frame.Alloc(f, 1920, 1080)
		for i := range fr.Data {
			fr.Data[i] = 255
		}
		if f == frame.I420 { // white in limited-range YUV
			n := 1920 * 1080
			for i := range fr.Data {
				fr.Data[i] = 128
			}
			for i := range n {
				fr.Data[i] = 235
			}
		}
		for _, mode := range []Resize{ResizeLetterbox, ResizeCentred, ResizeStretch} {
			lb := NewLetterbox(416, 416)
			lb.Spec = spec
			lb.Spec.Resize = mode
			dst := nanTensor(lb.TensorLen())
			tr, err := lb.Run(&fr, dst)
			if err != nil {
				t.Fatal(err)
			}
			top, rows := 0, 234
			switch mode {
			case ResizeCentred:
				top = 91
			case ResizeStretch:
				rows = 416
			}
			if tr.OffY != top || tr.Height != rows {
				t.Fatalf("%s %s: transform %+v", f, mode, tr)
			}
			for c := range 3 {
				img := (255 - spec.Mean[c]) / spec.Std[c]
				pad := -spec.Mean[c] / spec.Std[c]
				for y := range 416 {
					want := pad
					if y >= top && y < top+rows {
						want = img
					}
					for _, x := range []int{0, 207, 415} {
						if v := dst[c*416*416+y*416+x]; math.Abs(float64(v-want)) > 0.02 {
							t.Fatalf("%s %s: plane %d (%d,%d) = %v, want %v", f, mode, c, x, y, v, want)
						}
					}
				}
			}
		}
	}
	// A tall frame centred: padding left and right.
	lb := NewLetterbox(416, 416)
	lb.Spec.Resize = ResizeCentred
	fr := frame.Alloc(frame.BGRx, 240, 480)
	dst := nanTensor(lb.TensorLen())
	tr, err := lb.Run(&fr, dst)
	if err != nil {
		t.Fatal(err)
	}
	if tr.OffX != 104 || tr.Width != 208 {
		t.Fatalf("transform %+v", tr)
	}
	for y := range 416 {
		if dst[y*416+103] != PadValue || dst[y*416+104] != 0 || dst[y*416+311] != 0 || dst[y*416+312] != PadValue {
			t.Fatalf("row %d: %v %v %v %v", y, dst[y*416+103], dst[y*416+104], dst[y*416+311], dst[y*416+312])
		}
	}
	// An invalid Spec is an error, not a tensor of NaNs.
	lb.Spec.Std[1] = 0
	if _, err := lb.Run(&fr, dst); err == nil {
		t.Error("Run accepted std 0")
	}
}
