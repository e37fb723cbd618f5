package eval

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteJSON writes the results as a JSON array, one object per grid point:
//
//	{"sequence": "MOT17-04-FRCNN-mini", "k": 5, "m": 30, "latency_ms": 300,
//	 "delay_frames": 9, "frames": 300, "playback": "ping-pong",
//	 "reference": "gt", "classes": "0",
//	 "iou_threshold": 0.5, "decay": 0.85, "min_score": 0.2,
//	 "edge_detect_per_s": 6, "cloud_requests_per_s": 1, "uplink_kbps": 1228.4,
//	 "scene_change_requests": 0, "policy": "fixed", "tracker": "medianflow",
//	 "edge_only": {"map50": 0.29, "map50_95": 0.14},
//	 "cloud_only": {...}, "fused": {...}}
//
// Scores are fractions in [0,1]; with "reference": "cloud" they measure
// agreement with the cloud model, not truth. The bytes depend only on the
// results.
func WriteJSON(w io.Writer, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	data, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	_, err = w.Write(data)
	return err
}

// CSVHeader is the first row WriteCSV writes.
var CSVHeader = []string{"sequence", "k", "m", "latency_ms", "delay_frames", "frames", "playback",
	"reference", "classes", "iou_threshold", "decay", "min_score",
	"edge_map50", "edge_map50_95", "cloud_map50", "cloud_map50_95", "fused_map50", "fused_map50_95",
	"edge_detect_per_s", "cloud_requests_per_s", "uplink_kbps", "scene_change_requests", "policy", "latency_trace", "tracker"}

// WriteCSV writes a header and one row per result; scores are fractions.
func WriteCSV(w io.Writer, results []Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range results {
		row := []string{r.Sequence, strconv.Itoa(r.K), strconv.Itoa(r.M), f(r.LatencyMS),
			strconv.Itoa(r.DelayFrames), strconv.Itoa(r.Frames), r.Playback,
			r.Reference, r.Classes, f(r.IoUThreshold), f(r.Decay), f(r.MinScore),
			f(r.EdgeOnly.MAP50), f(r.EdgeOnly.MAP5095), f(r.CloudOnly.MAP50), f(r.CloudOnly.MAP5095),
			f(r.Fused.MAP50), f(r.Fused.MAP5095),
			f(r.EdgeDetectPerS), f(r.CloudRequestsPerS), f(r.UplinkKbps), strconv.Itoa(r.SceneChangeRequests), r.policy(), r.LatencyTrace, r.Tracker}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// policy is r.Policy, fixed for rows written before policies existed.
func (r *Result) policy() string {
	if r.Policy == "" {
		return PolicyFixed
	}
	return r.Policy
}

// hasAdaptive reports whether any result is an adaptive policy's.
func hasAdaptive(results []Result) bool {
	for i := range results {
		if results[i].policy() != PolicyFixed {
			return true
		}
	}
	return false
}

// variesTracker reports whether the results come from more than one tracker.
func variesTracker(results []Result) bool {
	for _, r := range results {
		if r.Tracker != results[0].Tracker {
			return true
		}
	}
	return false
}

// variesFusion reports whether the results hold more than one fusion setting.
func variesFusion(results []Result) bool {
	for _, r := range results {
		if r.FusionParams != results[0].FusionParams {
			return true
		}
	}
	return false
}

// FormatLatency prints a latency in ms the short way: 300ms, 1s, 1.5s, 0.
func FormatLatency(ms float64) string {
	switch {
	case ms == 0:
		return "0"
	case ms >= 1000 && ms == float64(int64(ms)):
		return strconv.FormatFloat(ms/1000, 'f', -1, 64) + "s"
	}
	return strconv.FormatFloat(ms, 'f', -1, 64) + "ms"
}

// WriteTable writes the results as an aligned text table, scores in percent
// (mAP × 100, one decimal). The fusion columns appear when the results hold
// more than one fusion setting. "ref" is the reference scored against (gt,
// or cloud: agreement with the cloud model, not truth). "gain" is fused
// mAP@0.5 minus the better of edge-only and cloud-only, in points. The cost
// columns are edge detector runs and cloud requests per second and the
// uplink in kbit/s.
func WriteTable(w io.Writer, results []Result) error {
	bw := bufio.NewWriter(w)
	fusionCols := len(results) > 0 && variesFusion(results)
	// Adaptive rows add a policy column; their k and m are the effective
	// intervals (replayed frames per edge run and per request), rounded.
	policyCol := hasAdaptive(results)
	// With several trackers (eval --tracker a,b) each row says whose it is.
	trackerCol := len(results) > 0 && variesTracker(results)
	seqW := len("sequence")
	for _, r := range results {
		seqW = max(seqW, len(r.Sequence))
	}
	var head1, head2 strings.Builder
	fmt.Fprintf(&head1, "%-*s %4s %4s %7s %6s %5s", seqW, "", "", "", "", "delay", "")
	fmt.Fprintf(&head2, "%-*s %4s %4s %7s %6s %5s", seqW, "sequence", "k", "m", "latency", "frames", "ref")
	if policyCol {
		fmt.Fprintf(&head1, " %8s", "")
		fmt.Fprintf(&head2, " %8s", "policy")
	}
	if trackerCol {
		fmt.Fprintf(&head1, " %10s", "")
		fmt.Fprintf(&head2, " %10s", "tracker")
	}
	if fusionCols {
		fmt.Fprintf(&head1, " %5s %5s %5s", "iou", "", "min")
		fmt.Fprintf(&head2, " %5s %5s %5s", "thr", "decay", "score")
	}
	for _, mode := range []string{"edge-only", "cloud-only", "fused"} {
		fmt.Fprintf(&head1, " | %-14s", mode)
		fmt.Fprintf(&head2, " | %5s %8s", "@.5", "@.5:.95")
	}
	fmt.Fprintf(&head1, " | %6s | %-20s", "gain", "cost per second")
	fmt.Fprintf(&head2, " | %6s | %5s %5s %8s", "@.5", "det", "req", "kbit")
	fmt.Fprintln(bw, strings.TrimRight(head1.String(), " "))
	fmt.Fprintln(bw, head2.String())
	fmt.Fprintln(bw, strings.Repeat("-", len(head2.String())))
	pc := func(v float64) float64 { return 100 * v }
	prev := ""
	for _, r := range results {
		block := r.Sequence + "\x00" + r.Reference + "\x00" + r.Classes + "\x00" + r.Tracker // a blank line between blocks
		if prev != "" && block != prev {
			fmt.Fprintln(bw)
		}
		prev = block
		fmt.Fprintf(bw, "%-*s %4d %4d %7s %6d %5s", seqW, r.Sequence, r.K, r.M, r.latencyLabel(), r.DelayFrames, r.Reference)
		if policyCol {
			fmt.Fprintf(bw, " %8s", r.policy())
		}
		if trackerCol {
			fmt.Fprintf(bw, " %10s", r.Tracker)
		}
		if fusionCols {
			fmt.Fprintf(bw, " %5g %5g %5g", r.IoUThreshold, r.Decay, r.MinScore)
		}
		for _, s := range []Score{r.EdgeOnly, r.CloudOnly, r.Fused} {
			fmt.Fprintf(bw, " | %5.1f %8.1f", pc(s.MAP50), pc(s.MAP5095))
		}
		gain := r.Fused.MAP50 - max(r.EdgeOnly.MAP50, r.CloudOnly.MAP50)
		fmt.Fprintf(bw, " | %+6.1f | %5.3g %5.3g %8.1f\n", pc(gain), r.EdgeDetectPerS, r.CloudRequestsPerS, r.UplinkKbps)
	}
	return bw.Flush()
}

// WriteRanking writes RankFusion's list (at most top entries; 0 = all).
func WriteRanking(w io.Writer, ranked []Ranked, top int) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%4s %5s %5s %5s | %10s %12s %10s %6s\n", "rank", "iou", "decay", "min", "fused @.5", "fused @.5:.95", "gain @.5", "wins")
	for i, r := range ranked {
		if top > 0 && i >= top {
			break
		}
		fmt.Fprintf(bw, "%4d %5g %5g %5g | %10.1f %12.1f %+10.1f %3d/%-3d\n", i+1, r.IoUThreshold, r.Decay, r.MinScore,
			100*r.MeanFused, 100*r.MeanFused2, 100*r.MeanGain, r.Wins, r.Points)
	}
	return bw.Flush()
}

// latencyLabel is the table's latency: "trace" for a replayed RTT log (its
// mean is in latency_ms of CSV and JSON).
func (r *Result) latencyLabel() string {
	if r.LatencyTrace != "" {
		return "trace"
	}
	return FormatLatency(r.LatencyMS)
}
