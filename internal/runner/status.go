package runner

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/internal/promtext"
)

// board writes the status of all streams: a line rewritten in place on a
// terminal, plain lines otherwise, and event lines (outages, served URLs);
// it also serves the metrics.
type board struct {
	mu      sync.Mutex
	w       io.Writer
	term    bool
	streams []*stream
	single  bool
	start   time.Time
	width   int // of the status line on screen (terminal)
}

func newBoard(w io.Writer, streams []*stream, single bool) *board {
	return &board{w: w, term: w != nil && IsTerminal(w), streams: streams, single: single, start: time.Now()}
}

// printf writes an event line (clearing the status line on a terminal).
func (b *board) printf(format string, args ...interface{}) {
	if b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	if b.term && b.width > 0 {
		fmt.Fprintf(b.w, "\r%-*s\r", b.width, "")
		b.width = 0
	}
	fmt.Fprintln(b.w, line)
}

// report updates the rates and writes the status; final: the end-of-run lines.
func (b *board) report(final bool) {
	now := time.Now()
	for _, s := range b.streams {
		s.updateRate(now)
	}
	if b.w == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if final {
		if b.term && b.width > 0 {
			fmt.Fprintf(b.w, "\r%-*s\r", b.width, "")
			b.width = 0
		}
		for _, s := range b.streams {
			fmt.Fprintln(b.w, s.prefix+s.statusLine(true))
		}
		return
	}
	var line string
	if b.single {
		line = b.streams[0].statusLine(false)
	} else {
		parts := make([]string, len(b.streams))
		for i, s := range b.streams {
			parts[i] = s.compactLine()
		}
		line = strings.Join(parts, " | ")
	}
	if b.term {
		w := max(len(line), b.width, 78)
		fmt.Fprintf(b.w, "\r%-*s", w, line)
		b.width = len(line)
	} else {
		fmt.Fprintln(b.w, line)
	}
}

func (s *stream) updateRate(now time.Time) {
	f := s.frames.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if dt := now.Sub(s.winTime).Seconds(); dt > 0.2 && !s.winTime.IsZero() {
		s.fps = float64(f-s.winFrames) / dt
		s.winFrames, s.winTime = f, now
	}
}

func (s *stream) elapsedNow() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done.Load() {
		return s.elapsed
	}
	if s.start.IsZero() {
		return 0
	}
	return time.Since(s.start)
}

// statusLine: frames (and progress through a file), fps (over the last
// interval; the average at the end), boxes by source, the cloud, the input.
func (s *stream) statusLine(final bool) string {
	frames := s.frames.Load()
	s.mu.Lock()
	fps, cloud := s.fps, s.cloud
	s.mu.Unlock()
	if final {
		fps = float64(frames) / max(s.elapsedNow().Seconds(), 1e-9)
	}
	line := fmt.Sprintf("frames %d%s  %.1f fps  boxes %d", frames, progress(frames, s.in.Frames, s.p), fps, s.boxes.Load())
	if b := s.boxes.Load(); b > 0 {
		line += fmt.Sprintf(" (edge %d, tracked %d, cloud %d)", s.bySource[0].Load(), s.bySource[1].Load(), s.bySource[2].Load())
	}
	line += cloudLine(cloud)
	if s.relay != nil {
		st := s.relay.state()
		if t := st.statusText(); t != "" && !final {
			line += "  " + t
		}
		if final && st.outages > 0 {
			line += fmt.Sprintf("  input outages %d (%.1f s)", st.outages, st.downtime.Seconds())
		}
	}
	return line
}

// compactLine is one stream's part of a multi-stream status line.
func (s *stream) compactLine() string {
	s.mu.Lock()
	fps, cloud := s.fps, s.cloud
	s.mu.Unlock()
	line := fmt.Sprintf("%s %d fr %.1f fps %d boxes", s.id, s.frames.Load(), fps, s.boxes.Load())
	if cloud != nil {
		line += fmt.Sprintf(" rtt %.0f ms", FieldNumber(cloud["rtt-ms"]))
	}
	if s.relay != nil {
		if st := s.relay.state(); !st.up {
			if st.everUp {
				line += fmt.Sprintf(" DOWN %.0f s", time.Since(st.since).Seconds())
			} else {
				line += " connecting"
			}
		}
	}
	if s.done.Load() {
		line += " (ended)"
	}
	return line
}

func progress(frames int64, total int, p *gst.Pipeline) string {
	if total > 0 {
		return fmt.Sprintf("/%d (%.0f%%)", total, 100*float64(frames)/float64(total))
	}
	if p == nil {
		return ""
	}
	if okD, dur := p.QueryDuration(gst.FormatTime); okD && dur > 0 {
		if okP, pos := p.QueryPosition(gst.FormatTime); okP && pos >= 0 {
			return fmt.Sprintf(" (%.0f%%)", 100*float64(pos)/float64(dur))
		}
	}
	return ""
}

// cloudLine is the cloud part of a status line, from reactcloud's status.
func cloudLine(st map[string]interface{}) string {
	if st == nil {
		return ""
	}
	line := fmt.Sprintf("  cloud %v rtt %.0f ms", st["cloud"], st["rtt-ms"])
	if q := FieldNumber(st["queue-ms"]); q >= 0.5 {
		line += fmt.Sprintf(" (queued %.0f)", q) // in the worker: its load
	}
	line += fmt.Sprintf(" in-flight %v", st["in-flight"])
	if st["policy"] == "adaptive" {
		// The adaptive policy's effective k and m and why it last acted.
		line += fmt.Sprintf("  adaptive k %.1f m %.0f (%v/%v)", FieldNumber(st["k"]), FieldNumber(st["m"]), orDash(st["detect-reason"]), orDash(st["offload-reason"]))
		if h, _ := st["held"].(string); h != "" {
			line += " held: " + h
		}
	}
	return line
}

func orDash(v interface{}) interface{} {
	if s, ok := v.(string); ok && s == "" {
		return "-"
	}
	return v
}

// IsTerminal reports whether w is a character device (a terminal), where
// progress lines rewrite themselves instead of scrolling.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// handler serves /metrics (Prometheus text format 0.0.4) and /healthz.
func (b *board) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		b.writeMetrics(rw)
	})
	mux.HandleFunc("/healthz", func(rw http.ResponseWriter, _ *http.Request) {
		io.WriteString(rw, "ok\n")
	})
	return mux
}

var sourceNames = [3]string{"edge", "tracked", "cloud"}

func (b *board) writeMetrics(out io.Writer) error {
	w := bufio.NewWriter(out)
	const p = "gstreact_run_"
	metric := func(name, typ, help string) { promtext.Header(w, p+name, typ, help) }
	type row struct {
		s     *stream
		cloud map[string]interface{}
		fps   float64
		relay *relayState
	}
	rows := make([]row, len(b.streams))
	for i, s := range b.streams {
		s.mu.Lock()
		rows[i] = row{s: s, cloud: s.cloud, fps: s.fps}
		s.mu.Unlock()
		if s.relay != nil {
			st := s.relay.state()
			rows[i].relay = &st
		}
	}
	each := func(name, typ, help string, v func(r row) (float64, bool)) {
		metric(name, typ, help)
		for _, r := range rows {
			if x, ok := v(r); ok {
				fmt.Fprintf(w, "%s%s{stream=\"%s\"} %s\n", p, name, promtext.EscapeLabel(r.s.id), fmtFloat(x))
			}
		}
	}
	metric("uptime_seconds", "gauge", "Time since the run started.")
	fmt.Fprintf(w, "%suptime_seconds %s\n", p, fmtFloat(time.Since(b.start).Seconds()))
	metric("stream_info", "gauge", "A stream, its input and output; always 1.")
	for _, r := range rows {
		fmt.Fprintf(w, "%sstream_info{stream=\"%s\",input=\"%s\",output=\"%s\"} 1\n", p, promtext.EscapeLabel(r.s.id), promtext.EscapeLabel(r.s.in.Spec), promtext.EscapeLabel(r.s.out.Spec))
	}
	each("frames_total", "counter", "Frames that reached the overlay.", func(r row) (float64, bool) { return float64(r.s.frames.Load()), true })
	each("fps", "gauge", "Frames per second over the last status interval.", func(r row) (float64, bool) { return r.fps, true })
	metric("boxes_total", "counter", "Boxes drawn, by where they came from (edge detector, tracker, cloud).")
	for _, r := range rows {
		for i, n := range sourceNames {
			fmt.Fprintf(w, "%sboxes_total{stream=\"%s\",source=\"%s\"} %d\n", p, promtext.EscapeLabel(r.s.id), n, r.s.bySource[i].Load())
		}
	}
	each("running", "gauge", "1 while the stream's pipeline runs.", func(r row) (float64, bool) { return b2f(!r.s.done.Load()), true })
	cloudNum := func(key string) func(r row) (float64, bool) {
		return func(r row) (float64, bool) {
			if r.cloud == nil {
				return 0, false
			}
			return FieldNumber(r.cloud[key]), true
		}
	}
	each("cloud_up", "gauge", "1 while reactcloud gets replies from the cloud.", func(r row) (float64, bool) {
		if r.cloud == nil {
			return 0, false
		}
		return b2f(r.cloud["cloud"] == "up"), true
	})
	each("cloud_rtt_milliseconds", "gauge", "Round trip of the last cloud reply.", cloudNum("rtt-ms"))
	each("cloud_mean_rtt_milliseconds", "gauge", "Mean round trip of cloud replies.", cloudNum("mean-rtt-ms"))
	each("cloud_queue_wait_milliseconds", "gauge", "The worker's queue wait on the last cloud reply (0: none, or a worker that does not report it).", cloudNum("queue-ms"))
	each("cloud_in_flight", "gauge", "Cloud requests awaiting a reply.", cloudNum("in-flight"))
	each("policy_effective_k", "gauge", "Frames per edge detection over the adaptive policy's budget window (0: fixed policy or none).", cloudNum("k"))
	each("policy_effective_m", "gauge", "Frames per cloud request over the adaptive policy's budget window.", cloudNum("m"))
	metric("policy_reason", "gauge", "Why the adaptive policy last ran the edge detector (decision=\"detect\"), offloaded (\"offload\") or held an offload back (\"held\"); the reason is the label, the value always 1.")
	for _, r := range rows {
		if r.cloud == nil || r.cloud["policy"] != "adaptive" {
			continue
		}
		for _, d := range [...]struct{ decision, key string }{{"detect", "detect-reason"}, {"offload", "offload-reason"}, {"held", "held"}} {
			if why, _ := r.cloud[d.key].(string); why != "" {
				fmt.Fprintf(w, "%spolicy_reason{stream=\"%s\",decision=\"%s\",reason=\"%s\"} 1\n", p, promtext.EscapeLabel(r.s.id), d.decision, promtext.EscapeLabel(why))
			}
		}
	}
	each("policy_uplink_kbps", "gauge", "Uplink the adaptive policy spent over its budget window, kbit/s.", cloudNum("uplink-kbps"))
	each("policy_edge_fps", "gauge", "Edge detector runs per second over the adaptive policy's budget window.", cloudNum("edge-fps"))
	each("cloud_offloaded_total", "counter", "Frames sent to the cloud.", cloudNum("offloaded"))
	each("cloud_replies_total", "counter", "Cloud replies received.", cloudNum("replies"))
	each("cloud_skipped_total", "counter", "Frames due for the cloud but skipped (requests in flight or cloud down).", func(r row) (float64, bool) {
		if r.cloud == nil {
			return 0, false
		}
		return FieldNumber(r.cloud["skipped-full"]) + FieldNumber(r.cloud["skipped-down"]), true
	})
	each("input_up", "gauge", "1 while a reconnecting input delivers frames.", func(r row) (float64, bool) {
		if r.relay == nil {
			return b2f(!r.s.done.Load()), true
		}
		return b2f(r.relay.up), true
	})
	relayNum := func(f func(st *relayState) float64) func(r row) (float64, bool) {
		return func(r row) (float64, bool) {
			if r.relay == nil {
				return 0, false
			}
			return f(r.relay), true
		}
	}
	each("input_outages_total", "counter", "Times a reconnecting input went down.", relayNum(func(st *relayState) float64 { return float64(st.outages) }))
	each("input_down_seconds_total", "counter", "Time a reconnecting input was down.", relayNum(func(st *relayState) float64 { return st.downtime.Seconds() }))
	each("input_reconnects_total", "counter", "Successful connections of a reconnecting input after the first.", relayNum(func(st *relayState) float64 { return float64(max(st.connects-1, 0)) }))
	each("input_repeated_frames_total", "counter", "Frames repeated while a reconnecting input was down.", relayNum(func(st *relayState) float64 { return float64(st.repeated) }))
	return w.Flush()
}

func fmtFloat(x float64) string { return fmt.Sprintf("%g", x) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
