package launch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindSequenceMOT(t *testing.T) {
	root := t.TempDir()
	img := filepath.Join(root, "img1")
	os.Mkdir(img, 0o755)
	touch(t, img, "000001.jpg", "000002.jpg", "000003.jpg", "notes.txt")
	os.WriteFile(filepath.Join(root, "seqinfo.ini"), []byte("[Sequence]\nname=X\nframeRate=25\n"), 0o644)
	for _, dir := range []string{root, img} {
		seq, err := FindSequence(dir)
		if err != nil {
			t.Fatal(err)
		}
		if seq.Pattern != "%06d.jpg" || seq.Start != 1 || seq.End != 3 || seq.FPSNum != 25 || seq.Dir != img {
			t.Fatalf("FindSequence(%s) = %+v", dir, seq)
		}
	}
}

func TestFindSequenceErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := FindSequence(empty); err == nil || !strings.Contains(err.Error(), "no numbered") {
		t.Fatalf("empty folder: %v", err)
	}
	gap := t.TempDir()
	touch(t, gap, "001.png", "002.png", "004.png")
	if _, err := FindSequence(gap); err == nil || !strings.Contains(err.Error(), "gap") {
		t.Fatalf("gap: %v", err)
	}
	mixed := t.TempDir()
	touch(t, mixed, "1.jpg", "0002.jpg")
	if _, err := FindSequence(mixed); err == nil || !strings.Contains(err.Error(), "widths") {
		t.Fatalf("mixed widths: %v", err)
	}
}

func TestSharedSequence(t *testing.T) {
	dir := "../../../shared/assets/video/MOT17-04-FRCNN-mini"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("shared assets not present")
	}
	in, err := ResolveInput(dir)
	if err != nil {
		t.Fatal(err)
	}
	if in.Kind != InputSequence || in.Frames != 8 || in.Seq.FPSNum != 30 {
		t.Fatalf("got %+v", in)
	}
	if src := in.Source(0); !strings.Contains(src, "multifilesrc") || !strings.Contains(src, "jpegdec") {
		t.Fatalf("source %q", src)
	}
}

func TestResolveInput(t *testing.T) {
	if _, err := ResolveInput(""); err == nil {
		t.Fatal("empty input accepted")
	}
	if _, err := ResolveInput("/no/such/file.mp4"); err == nil || !strings.Contains(err.Error(), "/no/such/file.mp4") {
		t.Fatalf("missing file: %v", err)
	}
	in, _ := ResolveInput("rtsp://127.0.0.1:8554/cam")
	if in.Kind != InputURI || !strings.HasPrefix(in.Source(0), "uridecodebin") {
		t.Fatalf("uri: %+v", in)
	}
	f := filepath.Join(t.TempDir(), `we"ird.mp4`)
	touch(t, filepath.Dir(f), filepath.Base(f))
	in, err := ResolveInput(f)
	if err != nil || in.Kind != InputFile || !strings.Contains(in.Source(0), `we\"ird.mp4`) {
		t.Fatalf("file: %+v %v", in, err)
	}
}

func TestResolveOutput(t *testing.T) {
	dir := t.TempDir()
	o, err := ResolveOutput(filepath.Join(dir, "out.mp4"), EncoderOptions{Bitrate: 2000})
	if err != nil || !strings.Contains(o.Sink, "x264enc") || !strings.Contains(o.Sink, "bitrate=2000") || !strings.Contains(o.Sink, "mp4mux") {
		t.Fatalf("mp4: %+v %v", o, err)
	}
	if o, _ := ResolveOutput("", EncoderOptions{}); !strings.HasPrefix(o.Sink, "fakesink") {
		t.Fatalf("none: %+v", o)
	}
	for _, bad := range []string{filepath.Join(dir, "out.avi"), "/no/such/dir/out.mp4"} {
		if _, err := ResolveOutput(bad, EncoderOptions{}); err == nil {
			t.Fatalf("%s accepted", bad)
		}
	}
	if _, err := ResolveOutput(filepath.Join(dir, "o.mp4"), EncoderOptions{Encoder: "magic"}); err == nil {
		t.Fatal("unknown encoder accepted")
	}
}

func TestLiveInputs(t *testing.T) {
	v := Input{Kind: InputV4L2, Spec: "/dev/video0"}
	if src := v.Source(0); src != `v4l2src device="/dev/video0" ! decodebin` {
		t.Fatalf("v4l2 source %q", src)
	}
	if !v.Reconnects() || !strings.HasPrefix(v.Capture(""), `v4l2src device="/dev/video0" ! decodebin ! videoconvert ! videoscale ! capsfilter name=pin caps="video/x-raw" ! appsink name=capture`) {
		t.Fatalf("v4l2 capture %q", v.Capture(""))
	}
	if _, err := ResolveInput("/dev/video99"); err == nil || !strings.Contains(err.Error(), "V4L2") {
		t.Fatalf("missing device: %v", err)
	}
	if in, _ := ResolveInput("/dev/null"); in.Kind == InputV4L2 {
		t.Fatal("/dev/null taken for a camera")
	}
	if in, err := ResolveInput("/dev/video0"); err == nil && in.Kind != InputV4L2 {
		t.Fatalf("/dev/video0: %+v", in)
	}
	r, _ := ResolveInput("rtsp://10.0.0.5:554/stream1")
	c := r.Capture("video/x-raw,format=I420,width=640,height=360")
	if !r.Reconnects() || !strings.Contains(c, `rtspsrc location="rtsp://10.0.0.5:554/stream1" latency=200 ! application/x-rtp,media=video ! decodebin`) ||
		!strings.Contains(c, `capsfilter name=pin caps="video/x-raw,format=I420,width=640,height=360" ! appsink name=capture`) {
		t.Fatalf("rtsp capture %q", c)
	}
	for spec, want := range map[string]bool{"http://x/a.mp4": false, "file:///a.mp4": false, "RTSPS://cam/x": true} {
		if in, _ := ResolveInput(spec); in.Reconnects() != want {
			t.Errorf("%s reconnects %v", spec, !want)
		}
	}
	if f := FeedSource("src"); !strings.HasPrefix(f, "appsrc name=src is-live=true format=time") || !strings.Contains(f, "leaky-type=downstream") {
		t.Fatalf("feed %q", f)
	}
}

func TestRTSPOutput(t *testing.T) {
	o, err := ResolveOutput("rtsp://0.0.0.0:8555/live/cam", EncoderOptions{Bitrate: 800})
	if err != nil || o.RTSP == nil || *o.RTSP != (RTSPOutput{Host: "0.0.0.0", Port: 8555, Path: "/live/cam"}) || o.File != "" {
		t.Fatalf("rtsp: %+v %v", o, err)
	}
	for _, want := range []string{"x264enc", "bitrate=800", "key-int-max=30", "stream-format=byte-stream,alignment=au", "appsink name=" + RTSPSink} {
		if !strings.Contains(o.Sink, want) {
			t.Errorf("sink lacks %q: %s", want, o.Sink)
		}
	}
	if o.Clocked != RTSPSink {
		t.Errorf("clocked %q", o.Clocked)
	}
	o, _ = ResolveOutput("rtsp://cam.local", EncoderOptions{Encoder: "openh264enc"})
	if o.RTSP.Port != DefaultRTSPPort || o.RTSP.Path != "/stream" || o.RTSP.Addr() != "cam.local:8554" || !strings.Contains(o.Sink, "openh264enc gop-size=30") {
		t.Fatalf("defaults: %+v %s", o.RTSP, o.Sink)
	}
	for _, bad := range []string{"rtsp://h:99999/x", "rtsp://u:p@h/x", "http://h/x", "srt://h:1"} {
		if _, err := ResolveOutput(bad, EncoderOptions{}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := ResolveOutput("rtsp://h/x", EncoderOptions{Encoder: "magic"}); err == nil {
		t.Error("unknown encoder accepted for rtsp")
	}
	if d, _ := ResolveOutput("display", EncoderOptions{}); d.Clocked == "" || !strings.Contains(d.Sink, "autovideosink name="+d.Clocked) {
		t.Errorf("display %+v", d)
	}
}

func TestExpandOutputs(t *testing.T) {
	ids := []string{"cam0", "cam1"}
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{nil, []string{"", ""}},
		{[]string{"a.mp4", "b.mkv"}, []string{"a.mp4", "b.mkv"}},
		{[]string{"/v/out.mp4"}, []string{"/v/out-cam0.mp4", "/v/out-cam1.mp4"}},
		{[]string{"/v/%d.mp4"}, []string{"/v/0.mp4", "/v/1.mp4"}},
		{[]string{"rtsp://0.0.0.0:8554/{id}"}, []string{"rtsp://0.0.0.0:8554/cam0", "rtsp://0.0.0.0:8554/cam1"}},
		{[]string{"rtsp://0.0.0.0:8554/live/"}, []string{"rtsp://0.0.0.0:8554/live/cam0", "rtsp://0.0.0.0:8554/live/cam1"}},
		{[]string{"display"}, []string{"display", "display"}},
		{[]string{"none", "x.mp4"}, []string{"none", "x.mp4"}},
	} {
		got, err := ExpandOutputs(tc.in, ids)
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%v → %v %v, want %v", tc.in, got, err, tc.want)
		}
	}
	if got, _ := ExpandOutputs([]string{"o%d.mp4"}, []string{"x"}); got[0] != "o0.mp4" {
		t.Errorf("single pattern %v", got)
	}
	for _, bad := range [][]string{{"a", "b", "c"}, {"same.mp4", "same.mp4"}} {
		if _, err := ExpandOutputs(bad, ids); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
