package bench

import (
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"sort"

	"github.com/gst-react/gst-react/internal/frame"
)

// Sequences of the shared assets the bench plays.
const (
	mainSeq  = "MOT17-04-FRCNN-mini" // 8 frames, 1920x1080, with ground truth
	otherSeq = "MOT17-02-FRCNN-mini" // another scene, for scene cuts
)

// FindAssets returns the shared assets folder: $GSTREACT_ASSETS, else the
// first shared/assets found walking up from the working directory and from
// the executable's folder (the checkout sits beside shared/).
func FindAssets() (string, error) {
	if d := os.Getenv("GSTREACT_ASSETS"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "video", mainSeq)); err != nil {
			return "", fmt.Errorf("GSTREACT_ASSETS=%s has no video/%s: %w", d, mainSeq, err)
		}
		return d, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, s := range starts {
		for d := s; ; d = filepath.Dir(d) {
			cand := filepath.Join(d, "shared", "assets")
			if _, err := os.Stat(filepath.Join(cand, "video", mainSeq)); err == nil {
				return cand, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", errors.New("shared assets (shared/assets/video/" + mainSeq + ") not found beside the checkout; set GSTREACT_ASSETS")
}

// seqImages lists a sequence's img1/*.jpg in order.
func seqImages(assets, seq string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(assets, "video", seq, "img1", "*.jpg"))
	if err != nil {
		return nil, err
	}
	if len(files) < 2 {
		return nil, fmt.Errorf("%s: want at least 2 frames in img1, found %d", seq, len(files))
	}
	sort.Strings(files)
	return files, nil
}

// pingPong maps stream frame i to an index into n frames played forward and
// back (0 1 .. n-1 n-2 .. 1 0 1 ..), so a short clip makes a long stream
// without a jump.
func pingPong(i, n int) int {
	if n < 2 {
		return 0
	}
	p := i % (2*n - 2)
	if p < n {
		return p
	}
	return 2*n - 2 - p
}

// linkStream makes dir/000000.jpg .. dir/<n-1>.jpg symlinks to files played
// forward and back, for multifilesrc.
func linkStream(dir string, files []string, n int) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for i := range n {
		abs, err := filepath.Abs(files[pingPong(i, len(files))])
		if err != nil {
			return "", err
		}
		if err := os.Symlink(abs, filepath.Join(dir, fmt.Sprintf("%06d.jpg", i))); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, "%06d.jpg"), nil
}

func decodeJPEG(path string) (*image.YCbCr, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	img, err := jpeg.Decode(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	yc, ok := img.(*image.YCbCr)
	if !ok || yc.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return nil, fmt.Errorf("%s: want a 4:2:0 YCbCr JPEG, got %T", path, img)
	}
	return yc, nil
}

// loadI420 decodes a 4:2:0 JPEG into an I420 frame (GStreamer's layout), the
// format jpegdec hands the elements.
func loadI420(path string) (frame.Frame, error) {
	yc, err := decodeJPEG(path)
	if err != nil {
		return frame.Frame{}, err
	}
	b := yc.Bounds()
	w, h := b.Dx(), b.Dy()
	f := frame.Alloc(frame.I420, w, h)
	cw, ch := (w+1)/2, (h+1)/2
	for y := range h {
		copy(f.Data[f.Offset[0]+y*f.Stride[0]:][:w], yc.Y[y*yc.YStride:][:w])
	}
	for y := range ch {
		copy(f.Data[f.Offset[1]+y*f.Stride[1]:][:cw], yc.Cb[y*yc.CStride:][:cw])
		copy(f.Data[f.Offset[2]+y*f.Stride[2]:][:cw], yc.Cr[y*yc.CStride:][:cw])
	}
	return f, nil
}

// writeHalfJPEGs writes each 4:2:0 JPEG at half size (2x2 average) into dir
// with the same base name, for pipelines that should not pay a 1080p decode.
func writeHalfJPEGs(dir string, files []string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, p := range files {
		yc, err := decodeJPEG(p)
		if err != nil {
			return nil, err
		}
		b := yc.Bounds()
		w, h := b.Dx()/2, b.Dy()/2
		half := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
		halve(half.Y, half.YStride, yc.Y, yc.YStride, w, h)
		cw, ch := (w+1)/2, (h+1)/2
		halve(half.Cb, half.CStride, yc.Cb, yc.CStride, cw, ch)
		halve(half.Cr, half.CStride, yc.Cr, yc.CStride, cw, ch)
		q := filepath.Join(dir, filepath.Base(p))
		fh, err := os.Create(q)
		if err != nil {
			return nil, err
		}
		err = jpeg.Encode(fh, half, &jpeg.Options{Quality: 90})
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

func halve(dst []byte, dstStride int, src []byte, srcStride, w, h int) {
	for y := range h {
		r0, r1 := src[2*y*srcStride:], src[(2*y+1)*srcStride:]
		d := dst[y*dstStride:]
		for x := range w {
			d[x] = byte((int(r0[2*x]) + int(r0[2*x+1]) + int(r1[2*x]) + int(r1[2*x+1]) + 2) / 4)
		}
	}
}
