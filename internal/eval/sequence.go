package eval

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gst-react/gst-react/internal/frame"
	"github.com/gst-react/gst-react/internal/mot"
)

// DefaultFPS is the frame rate assumed when seqinfo.ini gives none.
const DefaultFPS = 30

// SourceFrame is one image of a sequence.
type SourceFrame struct {
	Number int    // MOT frame number (1-based), from the file name
	Path   string // image file
}

// Sequence is a MOT-format sequence:
//
//	DIR/seqinfo.ini   [Sequence] name, frameRate, imDir, imExt (all optional)
//	DIR/img1/*.jpg    frames, named by their 1-based number (000001.jpg)
//	DIR/gt/gt.txt     frame,id,left,top,width,height,flag,class,visibility
//	                  (optional: without it only --reference cloud can score)
//
// Only the images present are used (the shared "mini" sequences keep the
// seqinfo.ini of the full sequence but only its first frames). A video file
// becomes a sequence too (LoadVideo): its frames are extracted once into the
// eval cache in this layout.
type Sequence struct {
	Name   string
	Dir    string
	FPS    float64
	Frames []SourceFrame // ascending frame number
	// GT is the ground truth; nil for unlabelled footage.
	GT *mot.GroundTruth
	// SeqLength is seqinfo.ini's seqLength (0 when absent), for messages.
	SeqLength int
	// Video is the video file the frames came from ("" for a MOT folder).
	Video string
}

// Labelled reports whether the sequence has ground truth (gt/gt.txt).
func (s *Sequence) Labelled() bool { return s.GT != nil }

// IsSequence reports whether dir looks like a MOT sequence (has img1/ or
// seqinfo.ini; gt/gt.txt is optional).
func IsSequence(dir string) bool {
	if st, err := os.Stat(filepath.Join(dir, "img1")); err == nil && st.IsDir() {
		return true
	}
	st, err := os.Stat(filepath.Join(dir, "seqinfo.ini"))
	return err == nil && !st.IsDir()
}

// videoExts are the file names a folder scan takes for videos. A file named
// directly on the command line is tried whatever its name.
var videoExts = []string{".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts",
	".mpg", ".mpeg", ".flv", ".wmv", ".ogv", ".3gp", ".y4m", ".mjpeg", ".mjpg", ".h264", ".264"}

// IsVideoName reports whether a folder scan takes the file for a video.
func IsVideoName(name string) bool {
	return slices.Contains(videoExts, strings.ToLower(filepath.Ext(name)))
}

// FindSequences expands paths: a sequence folder or a file (taken for a
// video) stands for itself, any other folder for the sequences and video
// files directly inside it (in name order). Duplicates are dropped; the order
// is otherwise kept. A returned path is a video when it is not a folder.
func FindSequences(paths []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("sequence %s: %w", p, err)
		}
		if !st.IsDir() {
			if !st.Mode().IsRegular() {
				return nil, fmt.Errorf("sequence %s is neither a folder nor a video file", p)
			}
			add(p)
			continue
		}
		if IsSequence(p) {
			add(p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range ents { // ReadDir sorts by name
			sub := filepath.Join(p, e.Name())
			st, err := os.Stat(sub) // follows symlinks, unlike e.Type()
			if err != nil {
				continue
			}
			if (st.IsDir() && IsSequence(sub)) || (st.Mode().IsRegular() && IsVideoName(e.Name())) {
				add(sub)
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%s holds no sequence: want a MOT sequence (img1/*.jpg, optionally gt/gt.txt) in it or in its subfolders, or video files (%s) in it",
				p, strings.Join(videoExts[:6], ", "))
		}
	}
	return out, nil
}

// LoadSequence reads a sequence's seqinfo.ini, image list and ground truth.
func LoadSequence(dir string) (*Sequence, error) {
	s := &Sequence{Dir: dir, Name: filepath.Base(filepath.Clean(dir)), FPS: DefaultFPS}
	imDir, imExt := "img1", ""
	if ini, err := readINI(filepath.Join(dir, "seqinfo.ini")); err == nil {
		if v := ini["framerate"]; v != "" {
			fps, err := strconv.ParseFloat(v, 64)
			if err != nil || !(fps > 0 && fps <= 1000) {
				return nil, fmt.Errorf("%s/seqinfo.ini: frameRate %q is not a frame rate in (0, 1000]", dir, v)
			}
			s.FPS = fps
		}
		if v := ini["imdir"]; v != "" {
			imDir = v
		}
		if v := ini["imext"]; v != "" {
			imExt = strings.ToLower(v)
		}
		if v := ini["seqlength"]; v != "" {
			s.SeqLength, _ = strconv.Atoi(v)
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(dir, imDir))
	if err != nil {
		return nil, fmt.Errorf("sequence %s: %w", dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if e.IsDir() || (imExt != "" && ext != imExt) || (imExt == "" && ext != ".jpg" && ext != ".jpeg" && ext != ".png") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(name, filepath.Ext(name)))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("sequence %s: image %s is not named by its 1-based frame number (e.g. 000001.jpg)", dir, name)
		}
		s.Frames = append(s.Frames, SourceFrame{Number: n, Path: filepath.Join(dir, imDir, name)})
	}
	if len(s.Frames) == 0 {
		return nil, fmt.Errorf("sequence %s: no images in %s", dir, filepath.Join(dir, imDir))
	}
	slices.SortFunc(s.Frames, func(a, b SourceFrame) int { return a.Number - b.Number })
	for i := 1; i < len(s.Frames); i++ {
		if s.Frames[i].Number == s.Frames[i-1].Number {
			return nil, fmt.Errorf("sequence %s: two images for frame %d", dir, s.Frames[i].Number)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "gt", "gt.txt")); os.IsNotExist(err) {
		return s, nil // unlabelled: only the cloud reference can score it
	}
	s.GT, err = mot.LoadGT(dir)
	if err != nil {
		return nil, fmt.Errorf("sequence %s: %w", dir, err)
	}
	return s, nil
}

// LimitDuration keeps only the frames of the first d of the sequence
// (ceil(d × fps) frames, at least one); d <= 0 keeps them all.
func (s *Sequence) LimitDuration(d time.Duration) {
	if d <= 0 {
		return
	}
	n := max(1, int(math.Ceil(d.Seconds()*s.FPS-1e-9)))
	if n < len(s.Frames) {
		s.Frames = s.Frames[:n]
	}
}

// readINI reads key=value lines (keys lower-cased, sections ignored).
func readINI(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '[' || line[0] == ';' || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return out, sc.Err()
}

// PingPong returns, for each of the n replayed frames, the index of the source
// frame shown (0-based into a sequence of `frames` images). When the sequence
// is at least n frames long, or n <= 0, it is played once as is. Otherwise it
// is played forward and backward, 1..F, F-1..2, 1..F, … (each end shown once
// per turn), so motion stays continuous and every replayed frame is a real
// frame with its own ground truth. A single frame is repeated.
func PingPong(frames, n int) []int {
	if n <= frames || frames <= 1 {
		if frames <= 1 {
			n = max(n, frames)
		} else {
			n = frames
		}
		out := make([]int, n)
		if frames > 1 {
			for i := range out {
				out[i] = i
			}
		}
		return out
	}
	period := 2 * (frames - 1)
	out := make([]int, n)
	for i := range out {
		p := i % period
		if p >= frames {
			p = period - p
		}
		out[i] = p
	}
	return out
}

// LoopNote describes how a sequence is replayed, for the output and the docs.
func LoopNote(s *Sequence, order []int) string {
	f := len(s.Frames)
	if len(order) <= f {
		return fmt.Sprintf("%s: %d frames at %g fps, played once", s.Name, len(order), s.FPS)
	}
	first, last := s.Frames[0].Number, s.Frames[f-1].Number
	return fmt.Sprintf("%s: %d frames (%d..%d) at %g fps, extended by ping-pong playback (%d..%d..%d..%d..) to %d frames; every replayed frame keeps its own ground truth",
		s.Name, f, first, last, s.FPS, first, last, s.Frames[min(1, f-1)].Number, first, len(order))
}

// DecodeImage reads a JPEG or PNG file into a BGRx frame. Decoding is pure Go
// (integer IDCT and colour conversion), so every machine gets the same pixels.
func DecodeImage(path string) (frame.Frame, error) {
	fh, err := os.Open(path)
	if err != nil {
		return frame.Frame{}, err
	}
	defer fh.Close()
	var img image.Image
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		img, err = png.Decode(bufio.NewReader(fh))
	default:
		img, err = jpeg.Decode(bufio.NewReader(fh))
	}
	if err != nil {
		return frame.Frame{}, fmt.Errorf("%s: %w", path, err)
	}
	return ToFrame(img), nil
}

// ToFrame converts an image to a BGRx frame.
func ToFrame(img image.Image) frame.Frame {
	b := img.Bounds()
	f := frame.Alloc(frame.BGRx, b.Dx(), b.Dy())
	switch m := img.(type) {
	case *image.YCbCr:
		for y := 0; y < b.Dy(); y++ {
			row := f.Data[y*f.Stride[0]:]
			for x := 0; x < b.Dx(); x++ {
				yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = bl, g, r, 255
			}
		}
	case *image.Gray:
		for y := 0; y < b.Dy(); y++ {
			row := f.Data[y*f.Stride[0]:]
			src := m.Pix[y*m.Stride:]
			for x := 0; x < b.Dx(); x++ {
				v := src[x]
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = v, v, v, 255
			}
		}
	default:
		for y := 0; y < b.Dy(); y++ {
			row := f.Data[y*f.Stride[0]:]
			for x := 0; x < b.Dx(); x++ {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = c.B, c.G, c.R, 255
			}
		}
	}
	return f
}
