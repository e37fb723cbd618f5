package preprocess

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Resize is how a frame is fitted into the model input.
type Resize uint8

const (
	// ResizeLetterbox keeps the aspect ratio and puts the frame at the
	// top-left, padding right and bottom (YOLOX).
	ResizeLetterbox Resize = iota
	// ResizeCentred keeps the aspect ratio and centres the frame, padding
	// both sides (Ultralytics, NanoDet).
	ResizeCentred
	// ResizeStretch scales each axis to the input size, no padding (PicoDet,
	// RT-DETR).
	ResizeStretch
)

var resizeNames = [...]string{"letterbox", "centred", "stretch"}

func (r Resize) String() string {
	if int(r) < len(resizeNames) {
		return resizeNames[r]
	}
	return fmt.Sprintf("resize(%d)", r)
}

// Spec is a model's preprocessing as data. A pixel value v (0..255, the
// padding included) of model channel c becomes (v*Scale - Mean[c]) / Std[c].
type Spec struct {
	Resize Resize
	// Pad is the padding's pixel value, 0..255, before Scale/Mean/Std.
	Pad float32
	// RGB orders the planes R,G,B; false is B,G,R (OpenCV-trained models).
	RGB bool
	// Scale multiplies pixel values first: 1 keeps 0..255, 1/255 gives 0..1.
	Scale float32
	// Mean and Std are per model channel, in the model's channel order (as
	// each family's docs list them); Std must not be 0.
	Mean, Std [3]float32
}

// DefaultSpec is the YOLOX reference preprocessing: top-left letterbox, pad
// 114, B,G,R, values 0..255.
func DefaultSpec() Spec {
	return Spec{Resize: ResizeLetterbox, Pad: PadValue, Scale: 1, Std: [3]float32{1, 1, 1}}
}

// Validate reports a Spec that cannot be applied.
func (s Spec) Validate() error {
	if s.Resize > ResizeStretch {
		return fmt.Errorf("preprocessing: unknown resize mode %d", s.Resize)
	}
	if !(s.Pad >= 0 && s.Pad <= 255) {
		return fmt.Errorf("preprocessing: pad %v must be a pixel value in 0..255", s.Pad)
	}
	if !(s.Scale > 0) || math.IsInf(float64(s.Scale), 0) {
		return fmt.Errorf("preprocessing: scale %v must be positive", s.Scale)
	}
	for c := range 3 {
		if !(s.Std[c] != 0) || math.IsInf(float64(s.Std[c]), 0) || math.IsNaN(float64(s.Mean[c])) {
			return fmt.Errorf("preprocessing: mean %v / std %v: std must be finite and non-zero", s.Mean, s.Std)
		}
	}
	return nil
}

// affine is the per-plane v*a + b that applies Scale, Mean and Std in one
// multiply-add.
func (s Spec) affine() (a, b [3]float32) {
	for c := range 3 {
		a[c] = s.Scale / s.Std[c]
		b[c] = -s.Mean[c] / s.Std[c]
	}
	return a, b
}

// String is the form ParseSpec reads.
func (s Spec) String() string {
	ch := "bgr"
	if s.RGB {
		ch = "rgb"
	}
	return fmt.Sprintf("resize=%s,pad=%s,channels=%s,scale=%s,mean=%s,std=%s",
		s.Resize, num(s.Pad), ch, scaleString(s.Scale), triple(s.Mean), triple(s.Std))
}

func num(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }

func scaleString(v float32) string {
	if v != 1 && math.Abs(float64(v)-1.0/255) < 1e-9 {
		return "1/255"
	}
	return num(v)
}

func triple(v [3]float32) string { return num(v[0]) + "/" + num(v[1]) + "/" + num(v[2]) }

// SpecKeys documents what ParseSpec accepts, for help texts and errors.
const SpecKeys = "resize=letterbox|centred|stretch, pad=0..255, channels=rgb|bgr, scale=1|1/255|N, mean=A/B/C, std=A/B/C (mean/std in the model's channel order, applied as (v*scale-mean)/std)"

// ParseSpec applies comma-separated key=value overrides to base, e.g.
// "resize=centred,pad=0,channels=bgr,mean=103.53/116.28/123.675,std=57.375/57.12/58.395".
// An empty string returns base unchanged. Keys not given keep base's values,
// so an override only names what differs from what the model declares.
func ParseSpec(s string, base Spec) (Spec, error) {
	out := base
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return base, fmt.Errorf("preprocessing %q: %q is not key=value (keys: %s)", s, kv, SpecKeys)
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		var err error
		switch k {
		case "resize":
			switch strings.ToLower(v) {
			case "letterbox", "topleft", "top-left":
				out.Resize = ResizeLetterbox
			case "centred", "centered", "center", "centre":
				out.Resize = ResizeCentred
			case "stretch", "plain":
				out.Resize = ResizeStretch
			default:
				err = fmt.Errorf("resize %q: want letterbox, centred or stretch", v)
			}
		case "pad":
			out.Pad, err = parseFloat(v)
		case "channels":
			switch strings.ToLower(v) {
			case "rgb":
				out.RGB = true
			case "bgr":
				out.RGB = false
			default:
				err = fmt.Errorf("channels %q: want rgb or bgr", v)
			}
		case "scale":
			out.Scale, err = parseFraction(v)
		case "mean":
			out.Mean, err = parseTriple(v)
		case "std":
			out.Std, err = parseTriple(v)
		default:
			err = fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return base, fmt.Errorf("preprocessing %q: %v (keys: %s)", s, err, SpecKeys)
		}
	}
	if err := out.Validate(); err != nil {
		return base, err
	}
	return out, nil
}

func parseFloat(v string) (float32, error) {
	f, err := strconv.ParseFloat(v, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", v)
	}
	return float32(f), nil
}

// parseFraction takes "0.5" or "1/255".
func parseFraction(v string) (float32, error) {
	if n, d, ok := strings.Cut(v, "/"); ok {
		a, err1 := strconv.ParseFloat(n, 64)
		b, err2 := strconv.ParseFloat(d, 64)
		if err1 != nil || err2 != nil || b == 0 {
			return 0, fmt.Errorf("%q is not a number or fraction", v)
		}
		return float32(a / b), nil
	}
	return parseFloat(v)
}

// parseTriple takes one number for all channels or three separated by "/".
func parseTriple(v string) ([3]float32, error) {
	parts := strings.Split(v, "/")
	var out [3]float32
	switch len(parts) {
	case 1, 3:
	default:
		return out, fmt.Errorf("%q: want one number or three separated by /", v)
	}
	for i := range 3 {
		f, err := parseFloat(parts[min(i, len(parts)-1)])
		if err != nil {
			return out, err
		}
		out[i] = f
	}
	return out, nil
}
