// Package launch turns what a user types (--input, --output) into
// gst-launch-1.0 pipeline fragments. Pure string work, no GStreamer: it
// inspects files and folders only to pick the right source.
package launch

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
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
	InputV4L2 // a V4L2 capture device, /dev/video*
)

// Input is a resolved --input.
type Input struct {
	Kind InputKind
	Spec string
	Seq  Sequence
	// Frames is the known number of frames (image sequences), or 0.
	Frames int
}

// ResolveInput classifies spec: "test" (videotestsrc), a URI, a V4L2 device
// (/dev/video*), a folder of numbered images, or a media file.
func ResolveInput(spec string) (Input, error) {
	switch {
	case spec == "":
		return Input{}, fmt.Errorf("no --input given (a video file, an image folder, an rtsp:// URL, a /dev/video* camera, or \"test\")")
	case spec == "test":
		return Input{Kind: InputTest, Spec: spec}, nil
	case strings.Contains(spec, "://"):
		return Input{Kind: InputURI, Spec: spec}, nil
	case strings.HasPrefix(spec, "/dev/video"):
		st, err := os.Stat(spec)
		if err != nil {
			return Input{}, fmt.Errorf("input %s: no such V4L2 device (is the camera plugged in? ls /dev/video*): %w", spec, err)
		}
		if st.Mode()&os.ModeCharDevice == 0 {
			return Input{}, fmt.Errorf("input %s is not a character device, so not a V4L2 camera", spec)
		}
		return Input{Kind: InputV4L2, Spec: spec}, nil
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
	case InputV4L2:
		return fmt.Sprintf("v4l2src device=%s ! decodebin", Quote(in.Spec))
	default:
		return fmt.Sprintf("filesrc location=%s ! decodebin", Quote(in.Spec))
	}
}

// Reconnects says whether in is a live source that can drop and come back
// (an RTSP camera, a V4L2 device): gstreact run captures it in a pipeline of
// its own that it rebuilds after an outage.
func (in Input) Reconnects() bool {
	switch in.Kind {
	case InputV4L2:
		return true
	case InputURI:
		scheme, _, _ := strings.Cut(strings.ToLower(in.Spec), "://")
		switch scheme {
		case "rtsp", "rtsps", "rtspt", "rtspu", "rtsph":
			return true
		}
	}
	return false
}

// RTSPLatency is the jitter buffer of an RTSP input, in milliseconds.
const RTSPLatency = 200

// CaptureSink is the name of the appsink ending a capture description.
const CaptureSink = "capture"

// Capture is the description of the capture pipeline of a reconnecting
// input: the camera, decoded, converted to caps (e.g. the format and size of
// the first connection, so every reconnection feeds the same format; "" or
// "video/x-raw" for any), into an appsink named CaptureSink.
func (in Input) Capture(caps string) string {
	var src string
	switch in.Kind {
	case InputV4L2:
		src = in.Source(0)
	default:
		// Only the video stream of the camera (rtspsrc exposes one pad per stream).
		src = fmt.Sprintf("rtspsrc location=%s latency=%d ! application/x-rtp,media=video ! decodebin", Quote(in.Spec), RTSPLatency)
	}
	if caps == "" {
		caps = "video/x-raw"
	}
	return fmt.Sprintf("%s ! videoconvert ! videoscale ! capsfilter name=%s caps=%s ! appsink name=%s sync=false max-buffers=2 drop=true", src, CapturePin, Quote(caps), CaptureSink)
}

// CapturePin is the name of the capsfilter of a capture description, whose
// caps pin the format and size once the first frames are known.
const CapturePin = "pin"

// FeedSource is the analysis pipeline's source for a reconnecting input: an
// appsrc the capture pipeline feeds. It drops the oldest frames when the
// pipeline falls behind, as a live source would.
func FeedSource(name string) string {
	return fmt.Sprintf("appsrc name=%s is-live=true format=time do-timestamp=true max-buffers=4 leaky-type=downstream", name)
}

// Output is a resolved --output.
type Output struct {
	Spec string
	Sink string // pipeline fragment consuming raw video
	// File is the written file, if any.
	File string
	// RTSP is the served stream, if any: Sink then ends in an appsink named
	// RTSPSink carrying H.264 access units for the RTSP server.
	RTSP *RTSPOutput
	// Clocked names the sink that plays in real time (sync=true: the display,
	// the RTSP appsink), "" if none. An input that arrives in real time
	// already (a camera) turns its sync off: its frames are due as they come.
	Clocked string
}

// RTSPOutput is where an rtsp:// output is served.
type RTSPOutput struct {
	Host string // address to listen on (0.0.0.0: all interfaces)
	Port int    // 0: a free port
	Path string // mount path, starting with /
}

// Addr is host:port to listen on.
func (r RTSPOutput) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// RTSPSink is the name of the appsink an RTSP output's Sink ends in.
const RTSPSink = "rtspout"

// DefaultRTSPPort is the port of an rtsp:// output that names none.
const DefaultRTSPPort = 8554

// RTSPKeyInterval is the most frames between key frames of a served stream
// (a viewer also gets one at once when it starts playing).
const RTSPKeyInterval = 30

// ParseRTSPOutput reads rtsp://HOST[:PORT][/PATH].
func ParseRTSPOutput(spec string) (RTSPOutput, error) {
	u, err := url.Parse(spec)
	if err != nil || !strings.EqualFold(u.Scheme, "rtsp") {
		return RTSPOutput{}, fmt.Errorf("output %s: not an rtsp://HOST:PORT/PATH URL", spec)
	}
	if u.User != nil || u.RawQuery != "" {
		return RTSPOutput{}, fmt.Errorf("output %s: user names and queries are not supported; serve rtsp://HOST:PORT/PATH", spec)
	}
	r := RTSPOutput{Host: u.Hostname(), Port: DefaultRTSPPort, Path: u.Path}
	if r.Host == "" {
		r.Host = "0.0.0.0"
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return RTSPOutput{}, fmt.Errorf("output %s: bad port %q", spec, p)
		}
		r.Port = n
	}
	if r.Path == "" || r.Path == "/" {
		r.Path = "/stream"
	}
	return r, nil
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
		return Output{Spec: spec, Sink: "videoconvert ! autovideosink name=display", Clocked: "display"}, nil
	}
	if strings.HasPrefix(strings.ToLower(spec), "rtsp://") {
		r, err := ParseRTSPOutput(spec)
		if err != nil {
			return Output{}, err
		}
		encoder, err := enc.fragment(RTSPKeyInterval)
		if err != nil {
			return Output{}, err
		}
		// sync=true: a file or test input is served in real time, not as
		// fast as it decodes.
		sink := fmt.Sprintf("videoconvert ! video/x-raw,format=I420 ! %s ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=%s sync=true max-buffers=8 enable-last-sample=false", encoder, RTSPSink)
		return Output{Spec: spec, Sink: sink, RTSP: &r, Clocked: RTSPSink}, nil
	}
	if strings.Contains(spec, "://") {
		return Output{}, fmt.Errorf("output %s: only rtsp:// is served; otherwise write a .mp4 or .mkv file, or use \"display\"", spec)
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
	encoder, err := enc.fragment(0)
	if err != nil {
		return Output{}, err
	}
	sink := fmt.Sprintf("videoconvert ! video/x-raw,format=I420 ! %s ! h264parse ! %s ! filesink location=%s", encoder, mux, Quote(spec))
	return Output{Spec: spec, Sink: sink, File: spec}, nil
}

// fragment is the encoder element; keyInt > 0 bounds the key frame interval.
func (e EncoderOptions) fragment(keyInt int) (string, error) {
	if e.Bitrate < 0 || e.Bitrate > 100000 {
		return "", fmt.Errorf("bitrate %d kbit/s is out of range 0..100000", e.Bitrate)
	}
	switch e.Encoder {
	case "", "x264enc", "x264":
		s := "x264enc speed-preset=veryfast tune=zerolatency"
		if e.Bitrate > 0 {
			s += fmt.Sprintf(" bitrate=%d", e.Bitrate)
		}
		if keyInt > 0 {
			s += fmt.Sprintf(" key-int-max=%d", keyInt)
		}
		return s, nil
	case "openh264enc", "openh264":
		s := "openh264enc"
		if e.Bitrate > 0 {
			s += fmt.Sprintf(" bitrate=%d", e.Bitrate*1000)
		}
		if keyInt > 0 {
			s += fmt.Sprintf(" gop-size=%d", keyInt)
		}
		return s, nil
	}
	return "", fmt.Errorf("unknown encoder %q (use x264enc or openh264enc)", e.Encoder)
}

// ExpandOutputs gives each of the streams (by id) its output:
//   - no output: none for all;
//   - one output per stream: as given;
//   - one output for several streams: a pattern with %d (stream index) or
//     {id} (stream id) is filled in; otherwise an rtsp:// output gets the id
//     as a last path element (rtsp://h:8554/live → /live/cam0, /live/cam1),
//     a file gets it before the extension (out.mp4 → out-cam0.mp4), and
//     "display" or "none" is used as it is.
//
// Each in a pattern is also filled in when there is one output per stream.
func ExpandOutputs(outputs, ids []string) ([]string, error) {
	n := len(ids)
	out := make([]string, n)
	switch {
	case len(outputs) == 0:
		return out, nil
	case len(outputs) == n:
		for i := range out {
			out[i] = fill(outputs[i], i, ids[i])
		}
	case len(outputs) == 1:
		spec := outputs[0]
		for i := range out {
			switch {
			case n == 1 || spec != fill(spec, i, ids[i]):
				out[i] = fill(spec, i, ids[i])
			case isNoFile(spec):
				out[i] = spec
			case strings.HasPrefix(strings.ToLower(spec), "rtsp://"):
				out[i] = strings.TrimSuffix(spec, "/") + "/" + ids[i]
			default:
				ext := filepath.Ext(spec)
				out[i] = strings.TrimSuffix(spec, ext) + "-" + ids[i] + ext
			}
		}
	default:
		return nil, fmt.Errorf("%d outputs for %d inputs: give one --output per --input, or one (a pattern with %%d or {id}, or a name the stream id is added to)", len(outputs), n)
	}
	seen := map[string]bool{}
	for _, o := range out {
		if isNoFile(o) {
			continue
		}
		if seen[o] {
			return nil, fmt.Errorf("two streams would write the same output %s", o)
		}
		seen[o] = true
	}
	return out, nil
}

func fill(spec string, i int, id string) string {
	return strings.ReplaceAll(strings.ReplaceAll(spec, "%d", strconv.Itoa(i)), "{id}", id)
}

func isNoFile(spec string) bool {
	switch strings.ToLower(spec) {
	case "", "none", "null", "display", "screen":
		return true
	}
	return false
}
