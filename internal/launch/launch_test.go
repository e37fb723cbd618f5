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
