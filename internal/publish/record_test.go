package publish

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/detection"
)

func sampleFrame(boxes int) Frame {
	f := Frame{
		Stream: "cam-1.north_gate", Frame: 123456, PTS: 4_115_111_111,
		Wall:  time.Date(2025, 3, 4, 5, 6, 7, 890, time.FixedZone("CET", 3600)),
		Width: 1920, Height: 1080,
	}
	for i := 0; i < boxes; i++ {
		f.Boxes = append(f.Boxes, detection.Detection{
			Box:   detection.Rect{X1: float32(i) * 10.25, Y1: 20.5, X2: float32(i)*10.25 + 33.333, Y2: 99.75},
			Class: i % 3, Score: 0.1 + float32(i%9)/10, Source: detection.Source(i % 3),
			TrackID: i, Age: i % 5,
		})
		f.Labels = append(f.Labels, []string{"person", "bicycle", "car"}[i%3])
	}
	return f
}

func TestRecordRoundTrip(t *testing.T) {
	f := sampleFrame(7)
	line := AppendRecord(nil, &f)
	if !json.Valid(line) {
		t.Fatalf("invalid JSON: %s", line)
	}
	if strings.Contains(string(line), "\n") {
		t.Fatal("record spans lines")
	}
	r, err := ParseRecord(line)
	if err != nil {
		t.Fatalf("%v\n%s", err, line)
	}
	if r.Stream != f.Stream || r.Frame != f.Frame || r.PTSNs != f.PTS || r.Width != 1920 || r.Height != 1080 {
		t.Fatalf("header %+v", r)
	}
	if !r.WallTime.Equal(f.Wall) || !strings.Contains(string(line), `"wall_time":"2025-03-04T04:06:07.000000890Z"`) {
		t.Fatalf("wall_time %v in %s", r.WallTime, line)
	}
	if len(r.Boxes) != len(f.Boxes) {
		t.Fatalf("%d boxes", len(r.Boxes))
	}
	for i, b := range r.Boxes {
		d := f.Boxes[i]
		if b.X1 != d.Box.X1 || b.Y1 != d.Box.Y1 || b.X2 != d.Box.X2 || b.Y2 != d.Box.Y2 || b.Score != d.Score ||
			b.ClassID != d.Class || b.Label != f.Labels[i] || b.Source != d.Source.String() || b.TrackID != d.TrackID || b.Age != d.Age {
			t.Fatalf("box %d: %+v, want %+v %q", i, b, d, f.Labels[i])
		}
	}
}

func TestRecordEdgeCases(t *testing.T) {
	f := Frame{Stream: "s", PTS: -5, Wall: time.Unix(0, 0), Width: 16, Height: 16,
		Boxes: []detection.Detection{
			{Box: detection.Rect{X1: float32(math.NaN()), Y1: float32(math.Inf(1)), X2: -1e-7, Y2: 3e9}, Score: float32(math.Inf(-1)), Source: 9, TrackID: -1},
			{Class: 1000},
		},
		Labels: []string{"a\"b\\c\n\t\x01é\u2028\xff"},
	}
	line := AppendRecord(nil, &f)
	if !json.Valid(line) {
		t.Fatalf("invalid JSON: %s", line)
	}
	var raw struct {
		PTS   int64 `json:"pts_ns"`
		Boxes []struct {
			X1, Y1, X2, Y2, Score float64
			Label, Source         string
		}
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		t.Fatal(err)
	}
	b := raw.Boxes[0]
	if raw.PTS != NoPTS || b.X1 != 0 || b.Y1 != 0 || b.Score != 0 || float32(b.X2) != -1e-7 || float32(b.Y2) != 3e9 {
		t.Fatalf("numbers: %s", line)
	}
	if b.Label != "a\"b\\c\n\t\x01é\u2028\ufffd" || b.Source != "unknown" || raw.Boxes[1].Label != "object" {
		t.Fatalf("strings: %q %q %q in %s", b.Label, b.Source, raw.Boxes[1].Label, line)
	}
	// The schema check rejects the unknown source and accepts the rest.
	if _, err := ParseRecord(line); err == nil || !strings.Contains(err.Error(), "source") {
		t.Fatalf("ParseRecord: %v", err)
	}
	f.Boxes[0].Source = detection.SourceCloud
	if _, err := ParseRecord(AppendRecord(nil, &f)); err != nil {
		t.Fatal(err)
	}
}

// appendString agrees with encoding/json on what a string decodes to.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "person", "traffic light", `"`, `\`, "\x00\x1f\x7f", "日本語", "\xc3\x28", "\ud7ff", "a\u2029b", strings.Repeat("x\"", 50)} {
		out := appendString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, out, err)
		}
		want, _ := json.Marshal(s)
		var w string
		json.Unmarshal(want, &w)
		if got != w {
			t.Fatalf("%q -> %q, encoding/json gives %q", s, got, w)
		}
	}
}

func TestParseRecordRejects(t *testing.T) {
	good := `{"stream":"s","frame":1,"pts_ns":2,"wall_time":"2025-01-01T00:00:00.000000000Z","width":3,"height":4,"boxes":[{"x1":1,"y1":2,"x2":3,"y2":4,"class_id":0,"label":"person","score":0.5,"source":"edge","track_id":0,"age":0}]}`
	if _, err := ParseRecord([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{`"frame":1,`, ``, "frame is missing"},
		{`"frame":1`, `"frame":1.5`, "frame"},
		{`"frame":1`, `"frame":-1`, "frame"},
		{`"stream":"s"`, `"stream":1`, "stream"},
		{`"wall_time":"2025-01-01T00:00:00.000000000Z"`, `"wall_time":"yesterday"`, "wall_time"},
		{`"score":0.5`, `"score":"0.5"`, "boxes[0].score"},
		{`"age":0}`, `"age":0,"extra":1}`, "boxes[0].extra"},
		{`"source":"edge"`, `"source":"magic"`, "boxes[0].source"},
		{`"boxes":[`, `"boxes":{"a":1},"x":[`, "unknown field x"},
	} {
		bad := strings.Replace(good, tc.from, tc.to, 1)
		_, err := ParseRecord([]byte(bad))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", bad, err, tc.want)
		}
	}
}

// The policy object is written only when the frame has one, reads back
// as written (intervals to three decimals), and is checked when present.
func TestRecordPolicy(t *testing.T) {
	f := sampleFrame(2)
	if line := AppendRecord(nil, &f); strings.Contains(string(line), `"policy"`) {
		t.Fatalf("policy written without one: %s", line)
	} else if r, err := ParseRecord(line); err != nil || r.Policy != nil {
		t.Fatalf("%v %+v", err, r.Policy)
	}
	f.HasPolicy = true
	f.Policy = Policy{Name: "adaptive", K: 5.17241379, M: 30, Detected: true, DetectReason: "tracks-lost", OffloadReason: "budget"}
	line := AppendRecord(nil, &f)
	if !strings.Contains(string(line), `"height":1080,"policy":{"name":"adaptive","k":5.172,"m":30,"detected":true,"detect_reason":"tracks-lost","offloaded":false,"offload_reason":"budget"},"boxes":[`) {
		t.Fatalf("policy object: %s", line)
	}
	r, err := ParseRecord(line)
	if err != nil {
		t.Fatalf("%v\n%s", err, line)
	}
	want := f.Policy
	want.K = 5.172
	if r.Policy == nil || *r.Policy != want || len(r.Boxes) != 2 {
		t.Fatalf("policy %+v, want %+v", r.Policy, want)
	}
	good := string(line)
	for _, tc := range []struct{ from, to, want string }{
		{`"detected":true`, `"detected":1`, "policy.detected"},
		{`"k":5.172,`, ``, "policy.k is missing"},
		{`"m":30`, `"m":30,"why":"x"`, "policy.why"},
		{`"policy":{`, `"policy":[{`, "policy"},
	} {
		bad := strings.Replace(good, tc.from, tc.to, 1)
		if tc.to == `"policy":[{` {
			bad = strings.Replace(bad, `},"boxes"`, `}],"boxes"`, 1)
		}
		if _, err := ParseRecord([]byte(bad)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", bad, err, tc.want)
		}
	}
	allocs := testing.AllocsPerRun(100, func() { line = AppendRecord(line[:0], &f) })
	if allocs != 0 {
		t.Fatalf("AppendRecord with a policy allocates %.1f times per record", allocs)
	}
}

// Formatting a record into a reused buffer allocates nothing.
func TestAppendRecordAllocs(t *testing.T) {
	f := sampleFrame(40)
	buf := AppendRecord(nil, &f)
	allocs := testing.AllocsPerRun(200, func() {
		f.Frame++
		f.Wall = time.Now()
		buf = AppendRecord(buf[:0], &f)
	})
	if allocs != 0 {
		t.Fatalf("AppendRecord allocates %.1f times per record", allocs)
	}
}

func BenchmarkAppendRecord(b *testing.B) {
	for _, n := range []int{0, 10, 50} {
		b.Run(fmt.Sprintf("boxes=%02d", n), func(b *testing.B) {
			f := sampleFrame(n)
			buf := AppendRecord(nil, &f)
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f.Frame = uint64(i)
				f.Wall = time.Now()
				buf = AppendRecord(buf[:0], &f)
			}
		})
	}
}

// What the streaming thread does per frame: format and queue (the consumer
// side pops, as the publisher goroutine would).
func BenchmarkFormatAndOffer(b *testing.B) {
	f := sampleFrame(20)
	q := NewQueue(DefaultMaxPending, DefaultMaxPendingBytes)
	buf := AppendRecord(nil, &f)
	var peek []Entry
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Frame = uint64(i)
		f.Wall = time.Now()
		buf = AppendRecord(buf[:0], &f)
		q.Push(buf)
		if i%8 == 7 {
			peek = q.Peek(peek[:0], 256)
			q.Pop(len(peek))
		}
	}
}
