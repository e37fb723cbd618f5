package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/publish"
)

// `gstreact run --publish FILE` writes reactpublish's records: one valid
// JSON line per frame, in frame order. Edge-only keeps it cheap (the records
// are the same with the cloud; the cloud is exercised elsewhere).
func TestRunPublishWritesOneRecordPerFrame(t *testing.T) {
	img1 := filepath.Join(motDir(t), "img1")
	out := filepath.Join(t.TempDir(), "det.jsonl")
	var stdout, stderr bytes.Buffer
	err := runRunTo(context.Background(), []string{"--input", img1, "--output", "none", "--no-cloud", "--quiet",
		"--stream-id", "mot04", "--publish", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	fh, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		rec, err := publish.ParseRecord(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if rec.Stream != "mot04" || rec.Frame != uint64(n) || rec.Width != 1920 || len(rec.Boxes) == 0 {
			t.Fatalf("line %d: stream %q frame %d, %dx%d, %d boxes", n+1, rec.Stream, rec.Frame, rec.Width, rec.Height, len(rec.Boxes))
		}
		n++
	}
	if n != 8 {
		t.Fatalf("%d records for the 8 frames of MOT17-04-mini", n)
	}
}

func TestRunPublishFlags(t *testing.T) {
	for args, want := range map[string]string{
		"--input test --jetstream":                                  "--jetstream needs --publish",
		"--input test --publish x.jsonl --jetstream":                "needs --publish nats://",
		"--input test --publish nats://h:4222/a.* --print-pipeline": "wildcards",
		"--input test --publish nats://h:1 --jetstream-replicas 9":  "--jetstream-replicas",
	} {
		var stdout, stderr bytes.Buffer
		err := runRunTo(context.Background(), strings.Fields(args), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", args, err, want)
		}
	}
	var stdout, stderr bytes.Buffer
	err := runRunTo(context.Background(), strings.Fields("--input test --input test --stream-id a,b --publish nats://h:4222/site.a --jetstream --jetstream-replicas 3 --print-pipeline"), &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	p := stdout.String()
	for _, want := range []string{`reactpublish name=publish every-frame=true stream-id="a" server="nats://h:4222" subject="site.a" jetstream=true jetstream-replicas=3`, `stream-id="b" server=`} {
		if !strings.Contains(p, want) {
			t.Errorf("pipeline lacks %s:\n%s", want, p)
		}
	}
	stdout.Reset()
	if err := runRunTo(context.Background(), strings.Fields("--input test --input test --stream-id a,b --publish out.jsonl --print-pipeline"), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`location="out-a.jsonl"`, `location="out-b.jsonl"`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("pipeline lacks %s:\n%s", want, stdout.String())
		}
	}
}
