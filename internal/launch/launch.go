// Package launch turns what a user types (--input, --output) into
// gst-launch-1.0 pipeline fragments. Pure string work, no GStreamer: it
// inspects files and folders only to pick the right source.
package launch

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Quote makes s safe as a gst-launch property value.
func Quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Sequence is a folder of numbered images (a MOT `img1/` folder).
type Sequence struct {
	Dir        string
	Pattern    string // printf pattern for multifilesrc, e.g. "%06d.jpg"
	Start, End int    // first and last index found
	FPSNum     int
	FPSDen     int
	Ext        string
}

// Frames is the number of images.
func (s Sequence) Frames() int { return s.End - s.Start + 1 }

// FindSequence inspects dir (an `img1/` folder or a MOT sequence folder that
// holds one) for consecutively numbered .jpg/.jpeg/.png images. The frame rate
// comes from the sequence's seqinfo.ini (frameRate=) when present, else 30.
func FindSequence(dir string) (Sequence, error) {
	if st, err := os.Stat(filepath.Join(dir, "img1")); err == nil && st.IsDir() {
		dir = filepath.Join(dir, "img1")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Sequence{}, fmt.Errorf("image sequence %s: %w", dir, err)
	}
	byExt := map[string][]int{}
	width := map[string]int{}
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if e.IsDir() || (ext != ".jpg" && ext != ".jpeg" && ext != ".png") {
			continue
		}
		stem := strings.TrimSuffix(name, filepath.Ext(name))
		n, err := strconv.Atoi(stem)
		if err != nil || n < 0 {
			continue
		}
		key := filepath.Ext(name)
		if w, ok := width[key]; ok && w != len(stem) {
			return Sequence{}, fmt.Errorf("image sequence %s mixes name widths (%d and %d digits); rename to one zero-padded width", dir, w, len(stem))
		}
		width[key] = len(stem)
		byExt[key] = append(byExt[key], n)
	}
	var best string
	for ext, ns := range byExt {
		if best == "" || len(ns) > len(byExt[best]) {
			best = ext
		}
	}
	if best == "" {
		return Sequence{}, fmt.Errorf("image sequence %s holds no numbered .jpg or .png images (want names like 000001.jpg)", dir)
	}
	ns := byExt[best]
	sort.Ints(ns)
	for i := 1; i < len(ns); i++ {
		if ns[i] != ns[i-1]+1 {
			return Sequence{}, fmt.Errorf("image sequence %s has a gap: image %d is followed by %d", dir, ns[i-1], ns[i])
		}
	}
	seq := Sequence{Dir: dir, Start: ns[0], End: ns[len(ns)-1], FPSNum: 30, FPSDen: 1, Ext: best}
	seq.Pattern = fmt.Sprintf("%%0%dd%s", width[best], best)
	if fps, ok := seqinfoFrameRate(filepath.Join(filepath.Dir(dir), "seqinfo.ini")); ok {
		seq.FPSNum = fps
	}
	return seq, nil
}

func seqinfoFrameRate(path string) (int, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "frameRate") {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 && n <= 1000 {
				return n, true
			}
		}
	}
	return 0, false
}

// InputKind classifies an --input.
type InputKind int

const (
	InputFile InputKind = iota
	InputSequence
	InputURI // rtsp://, http(s)://, file://
	InputTest
)

// Input is a resolved --input.
type Input struct {
	Kind InputKind
	Spec string
	Seq  Sequence
	// Frames is the known number of frames (image sequences), or 0.
	Frames int
}

// ResolveInput classifies spec: "test" (videotestsrc), a URI, a folder of
// numbered images, or a media file.
func ResolveInput(spec string) (Input, error) {
	switch {
	case spec == "":
		return Input{}, fmt.Errorf("no --input given (a video file, an image folder, an rtsp:// URL, or \"test\")")
	case spec == "test":
		return Input{Kind: InputTest, Spec: spec}, nil
	case strings.Contains(spec, "://"):
		return Input{Kind: InputURI, Spec: spec}, nil
	}
	st, err := os.Stat(spec)
	if err != nil {
		return Input{}, fmt.Errorf("input %s: %w", spec, err)
	}
	if st.IsDir() {
		seq, err := FindSequence(spec)
		if err != nil {
			return Input{}, err
		}
		return Input{Kind: InputSequence, Spec: spec, Seq: seq, Frames: seq.Frames()}, nil
	}
	return Input{Kind: InputFile, Spec: spec}, nil
}

// Source is the pipeline fragment producing decoded raw video for in.
// numBuffers limits videotestsrc (0 = 300 frames).
func (in Input) Source(numBuffers int) string {
	switch in.Kind {
	case InputTest:
		if numBuffers <= 0 {
			numBuffers = 300
		}
		return fmt.Sprintf("videotestsrc num-buffers=%d pattern=ball ! video/x-raw,width=640,height=480,framerate=30/1", numBuffers)
	case InputSequence:
		s := in.Seq
		caps := "image/jpeg"
		dec := "jpegdec"
		if strings.EqualFold(s.Ext, ".png") {
			caps, dec = "image/png", "pngdec"
		}
		return fmt.Sprintf("multifilesrc location=%s start-index=%d stop-index=%d caps=\"%s,framerate=%d/%d\" ! %s",
			Quote(filepath.Join(s.Dir, s.Pattern)), s.Start, s.End, caps, s.FPSNum, s.FPSDen, dec)
	case InputURI:
		return fmt.Sprintf("uridecodebin uri=%s", Quote(in.Spec))
	default:
		return fmt.Sprintf("filesrc location=%s ! decodebin", Quote(in.Spec))
	}
}

// Output is a resolved --output.
type Output struct {
	Spec string
	Sink string // pipeline fragment consuming raw video
	// File is the written file, if any.
	File string
}

// EncoderOptions pick the H.264 encoder.
type EncoderOptions struct {
	Encoder string // x264enc (default) or openh264enc
	Bitrate int    // kbit/s; 0 = encoder default
}

// ResolveOutput maps spec to a sink fragment: "" or "none" → fakesink,
// "display" → autovideosink, *.mp4 / *.mkv → H.264 file.
func ResolveOutput(spec string, enc EncoderOptions) (Output, error) {
	switch strings.ToLower(spec) {
	case "", "none", "null":
		return Output{Spec: spec, Sink: "fakesink sync=false"}, nil
	case "display", "screen":
		return Output{Spec: spec, Sink: "videoconvert ! autovideosink"}, nil
	}
	if strings.Contains(spec, "://") {
		return Output{}, fmt.Errorf("output %s: streaming output is not supported yet; write a .mp4 or .mkv file, or use \"display\"", spec)
	}
	ext := strings.ToLower(filepath.Ext(spec))
	var mux string
	switch ext {
	case ".mp4", ".mov":
		mux = "mp4mux"
	case ".mkv":
		mux = "matroskamux"
	default:
		return Output{}, fmt.Errorf("output %s: unknown file type %q (use .mp4 or .mkv, \"display\", or \"none\")", spec, ext)
	}
	if dir := filepath.Dir(spec); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return Output{}, fmt.Errorf("output %s: folder %s does not exist", spec, dir)
		}
	}
	encoder, err := enc.fragment()
	if err != nil {
		return Output{}, err
	}
	sink := fmt.Sprintf("videoconvert ! video/x-raw,format=I420 ! %s ! h264parse ! %s ! filesink location=%s", encoder, mux, Quote(spec))
	return Output{Spec: spec, Sink: sink, File: spec}, nil
}

func (e EncoderOptions) fragment() (string, error) {
	if e.Bitrate < 0 || e.Bitrate > 100000 {
		return "", fmt.Errorf("bitrate %d kbit/s is out of range 0..100000", e.Bitrate)
	}
	switch e.Encoder {
	case "", "x264enc", "x264":
		s := "x264enc speed-preset=veryfast tune=zerolatency"
		if e.Bitrate > 0 {
			s += fmt.Sprintf(" bitrate=%d", e.Bitrate)
		}
		return s, nil
	case "openh264enc", "openh264":
		s := "openh264enc"
		if e.Bitrate > 0 {
			s += fmt.Sprintf(" bitrate=%d", e.Bitrate*1000)
		}
		return s, nil
	}
	return "", fmt.Errorf("unknown encoder %q (use x264enc or openh264enc)", e.Encoder)
}
