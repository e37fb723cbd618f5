package eval_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/eval"
)

// fakeResults is a small grid on two sequences with made-up scores.
func fakeResults() []eval.Result {
	var out []eval.Result
	fp := eval.DefaultFusionParams()
	for si, seq := range []string{"seqA", "seqB"} {
		for _, k := range []int{1, 5, 10} {
			for _, m := range []int{10, 30, 60} {
				for li, lat := range []float64{0, 300} {
					v := 0.2 + 0.01*float64(k) + 0.002*float64(m) - 0.05*float64(li) + 0.03*float64(si)
					out = append(out, eval.Result{Sequence: seq, Policy: eval.PolicyFixed, K: k, M: m, LatencyMS: lat, DelayFrames: int(lat * 30 / 1000),
						Frames: 300, Playback: eval.PlayedOnce, Reference: eval.ReferenceGT, Classes: "0", FusionParams: fp, Tracker: "medianflow",
						Cost:      eval.Cost{EdgeDetectPerS: 30 / float64(k), CloudRequestsPerS: 30 / float64(m), UplinkKbps: 1200 / float64(m)},
						EdgeOnly:  eval.Score{MAP50: 0.3, MAP5095: 0.15},
						CloudOnly: eval.Score{MAP50: v, MAP5095: v / 2},
						Fused:     eval.Score{MAP50: v + 0.05, MAP5095: v / 2}})
				}
			}
		}
	}
	return out
}

// TestJSONSchema pins the JSON form: an array of objects with these keys and
// types, scores as fractions.
func TestJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := eval.WriteJSON(&buf, fakeResults()); err != nil {
		t.Fatal(err)
	}
	checkJSONSchema(t, buf.Bytes(), 36)
	buf.Reset()
	if err := eval.WriteJSON(&buf, nil); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Fatalf("no results: %q, %v; want []", buf.String(), err)
	}
}

// checkJSONSchema checks data is the harness's JSON array of n objects.
func checkJSONSchema(t *testing.T, data []byte, n int) {
	t.Helper()
	var arr []map[string]any
	if err := json.Unmarshal(data, &arr); err != nil {
		t.Fatalf("not a JSON array of objects: %v\n%s", err, data)
	}
	if len(arr) != n {
		t.Fatalf("%d objects, want %d", len(arr), n)
	}
	for i, o := range arr {
		if _, ok := o["sequence"].(string); !ok {
			t.Fatalf("object %d: sequence %v is not a string", i, o["sequence"])
		}
		for _, key := range []string{"k", "m", "latency_ms", "delay_frames", "frames", "iou_threshold", "decay", "min_score"} {
			if _, ok := o[key].(float64); !ok {
				t.Fatalf("object %d: %s %v is not a number", i, key, o[key])
			}
		}
		for _, mode := range []string{"edge_only", "cloud_only", "fused"} {
			s, ok := o[mode].(map[string]any)
			if !ok || len(s) != 2 {
				t.Fatalf("object %d: %s %v is not {map50, map50_95}", i, mode, o[mode])
			}
			for _, key := range []string{"map50", "map50_95"} {
				v, ok := s[key].(float64)
				if !ok || v < 0 || v > 1 {
					t.Fatalf("object %d: %s.%s %v is not a fraction in [0,1]", i, mode, key, s[key])
				}
			}
		}
		if pb := o["playback"]; pb != eval.PlayedOnce && pb != eval.PlayedPingPong {
			t.Fatalf("object %d: playback %v, want %q or %q", i, pb, eval.PlayedOnce, eval.PlayedPingPong)
		}
		if ref := o["reference"]; ref != eval.ReferenceGT && ref != eval.ReferenceCloud {
			t.Fatalf("object %d: reference %v, want %q or %q", i, ref, eval.ReferenceGT, eval.ReferenceCloud)
		}
		if _, ok := o["classes"].(string); !ok {
			t.Fatalf("object %d: classes %v is not a string", i, o["classes"])
		}
		for _, key := range []string{"edge_detect_per_s", "cloud_requests_per_s", "uplink_kbps", "scene_change_requests"} {
			if v, ok := o[key].(float64); !ok || v < 0 {
				t.Fatalf("object %d: cost %s %v is not a number >= 0", i, key, o[key])
			}
		}
		if _, ok := o["tracker"].(string); !ok {
			t.Fatalf("object %d: tracker %v is not a string", i, o["tracker"])
		}
		// Adaptive rows add effective_k, effective_m and the reasons.
		want := 21
		switch o["policy"] {
		case eval.PolicyFixed:
		case eval.PolicyAdaptive:
			want = 24
		default:
			t.Fatalf("object %d: policy %v, want %q or %q", i, o["policy"], eval.PolicyFixed, eval.PolicyAdaptive)
		}
		if len(o) != want {
			t.Fatalf("object %d has %d keys, want %d: %v", i, len(o), want, o)
		}
	}
}

func TestCSVAndTable(t *testing.T) {
	rs := fakeResults()
	var buf bytes.Buffer
	if err := eval.WriteCSV(&buf, rs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(rs)+1 || strings.Join(rows[0], ",") != strings.Join(eval.CSVHeader, ",") {
		t.Fatalf("CSV: %d rows, header %v", len(rows), rows[0])
	}
	one := []eval.Result{{Sequence: "seqA", K: 5, M: 30, LatencyMS: 300, DelayFrames: 9, Frames: 300, Playback: eval.PlayedPingPong,
		Reference: eval.ReferenceCloud, Classes: "0-79",
		FusionParams: eval.FusionParams{IoUThreshold: 0.5, Decay: 0.85, MinScore: 0.2},
		Cost:         eval.Cost{EdgeDetectPerS: 6, CloudRequestsPerS: 1.1, UplinkKbps: 1228.5, SceneChangeRequests: 3},
		EdgeOnly:     eval.Score{MAP50: 0.25, MAP5095: 0.125}, CloudOnly: eval.Score{MAP50: 0.5, MAP5095: 0.25},
		Fused: eval.Score{MAP50: 0.625, MAP5095: 0.375}}}
	buf.Reset()
	if err := eval.WriteCSV(&buf, one); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), strings.Join(eval.CSVHeader, ",")+"\nseqA,5,30,300,9,300,ping-pong,cloud,0-79,0.5,0.85,0.2,0.25,0.125,0.5,0.25,0.625,0.375,6,1.1,1228.5,3,fixed,,\n"; got != want {
		t.Fatalf("CSV:\n%s\nwant\n%s", got, want)
	}
	buf.Reset()
	if err := eval.WriteTable(&buf, one); err != nil {
		t.Fatal(err)
	}
	if want := "seqA        5   30   300ms      9 cloud |  25.0     12.5 |  50.0     25.0 |  62.5     37.5 |  +12.5 |     6   1.1   1228.5"; !strings.Contains(buf.String(), want) {
		t.Fatalf("table:\n%s\nwant a row\n%s", buf.String(), want)
	}
}

func TestRankFusion(t *testing.T) {
	rs := fakeResults()
	rs2 := fakeResults()
	for i := range rs2 {
		rs2[i].Decay = 1
		rs2[i].Fused.MAP50 += 0.01
	}
	r := eval.RankFusion(append(rs, rs2...))
	if len(r) != 2 || r[0].Decay != 1 || r[1].Decay == 1 || r[0].Points != 36 || r[0].MeanFused <= r[1].MeanFused || r[0].Wins < r[1].Wins {
		t.Fatalf("ranking: %+v", r)
	}
}

// TestPlot checks the PNG is valid and of the documented size.
func TestPlot(t *testing.T) {
	for _, rs := range [][]eval.Result{fakeResults(), fakeResults()[:1]} {
		var buf bytes.Buffer
		if err := eval.WritePlot(&buf, rs); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatalf("not a PNG: %v", err)
		}
		seqs := 2
		if len(rs) == 1 {
			seqs = 1
		}
		w, h := eval.PlotSize(seqs)
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Fatalf("plot is %v, want %dx%d", b, w, h)
		}
	}
	if err := eval.WritePlot(&bytes.Buffer{}, nil); err == nil {
		t.Fatal("plotting nothing should fail")
	}
}

// checkPNG checks the file is a PNG of PlotSize(seqs).
func checkPNG(t *testing.T, path string, seqs int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	w, h := eval.PlotSize(seqs)
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("%s is %dx%d, want %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
}
