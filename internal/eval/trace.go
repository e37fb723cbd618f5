package eval

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Delays gives the reply delay, in frames, of the n-th request a replay
// sends (n from 0). A constant latency and a recorded trace are both one,
// so the cloud path has a single way to schedule replies.
type Delays func(n int) int

// ConstantDelay delays every reply by d frames.
func ConstantDelay(d int) Delays { return func(int) int { return d } }

// LatencyTrace is a recorded series of cloud round trips (gstreact run
// --rtt-log), replayed in order by eval --latency-trace.
type LatencyTrace struct {
	// Name is the file's base name (what rows report in latency_trace).
	Name string
	RTTs []time.Duration
}

// Mean is the trace's mean round trip (what rows report as latency_ms).
func (t *LatencyTrace) Mean() time.Duration {
	if len(t.RTTs) == 0 {
		return 0
	}
	var sum time.Duration
	for _, r := range t.RTTs {
		sum += r
	}
	return sum / time.Duration(len(t.RTTs))
}

// Delays replays the trace at fps: the n-th request gets the n-th recorded
// round trip (cycling when the replay sends more requests than the trace
// holds), rounded to frames as DelayFrames does a constant latency.
func (t *LatencyTrace) Delays(fps float64) Delays {
	frames := make([]int, len(t.RTTs))
	for i, r := range t.RTTs {
		frames[i] = DelayFrames(r, fps)
	}
	return func(n int) int { return frames[n%len(frames)] }
}

// ReadLatencyTrace reads an RTT log (see ParseLatencyTrace) from a file.
func ReadLatencyTrace(path string) (*LatencyTrace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ParseLatencyTrace(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.Name = filepath.Base(path)
	return t, nil
}

// RTTLogHeader is the first line of an RTT log. Each following line is one
// cloud reply, in the order the replies arrived: the frame the request was
// for, the round trip (request published → reply received) in
// milliseconds, and the stream id.
const RTTLogHeader = "frame,rtt_ms,stream"

// ParseLatencyTrace reads an RTT log: CSV lines "frame,rtt_ms[,…]"; the
// header, blank lines and lines starting with # are skipped, columns after
// rtt_ms are ignored. A malformed line is an error naming its number.
func ParseLatencyTrace(r io.Reader) (*LatencyTrace, error) {
	t := &LatencyTrace{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") || strings.HasPrefix(s, "frame,") {
			continue
		}
		fields := strings.Split(s, ",")
		if len(fields) < 2 {
			return nil, fmt.Errorf("line %d: %q: want frame,rtt_ms", line, s)
		}
		if _, err := strconv.ParseUint(strings.TrimSpace(fields[0]), 10, 64); err != nil {
			return nil, fmt.Errorf("line %d: frame %q is not a frame number", line, fields[0])
		}
		ms, err := strconv.ParseFloat(strings.TrimSpace(fields[1]), 64)
		if err != nil || !(ms >= 0 && ms <= 3600e3) {
			return nil, fmt.Errorf("line %d: rtt_ms %q: want milliseconds in 0..3600000", line, fields[1])
		}
		t.RTTs = append(t.RTTs, time.Duration(ms*float64(time.Millisecond)))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.RTTs) == 0 {
		return nil, fmt.Errorf("no round trips in the trace")
	}
	return t, nil
}
