package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/gst-react/gst-react/internal/mallocstats"
)

// Row is one number of the report.
type Row struct {
	Key   string // JSON key, snake_case
	Stage string // what was measured
	Value float64
	Unit  string
	Note  string
}

// Machine is the state of the machine when the bench ran.
type Machine struct {
	Cores      int
	LoadAvg    string // /proc/loadavg's first three fields at the start
	LoadAvgEnd string // and at the end
	CPUModel   string
	GoVersion  string
	ORTVersion string
	GStreamer  string
	OS         string
}

// Report is the outcome of one bench run.
type Report struct {
	Mode    string // "quick" or "full"
	Machine Machine
	Rows    []Row
	Elapsed time.Duration
}

func (r *Report) add(key, stage string, v float64, unit, note string) {
	r.Rows = append(r.Rows, Row{Key: key, Stage: stage, Value: v, Unit: unit, Note: note})
}

// Value returns the row with key, and whether there is one.
func (r *Report) Value(key string) (float64, bool) {
	for _, row := range r.Rows {
		if row.Key == key {
			return row.Value, true
		}
	}
	return 0, false
}

// WriteTable prints the machine state and one line per row.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "gstreact bench (%s) on %d cores, %s\n", r.Mode, m.Cores, m.CPUModel)
	fmt.Fprintf(w, "load average %s at start, %s at end; %s; Go %s; ONNX Runtime %s; GStreamer %s\n",
		m.LoadAvg, m.LoadAvgEnd, m.OS, m.GoVersion, m.ORTVersion, m.GStreamer)
	fmt.Fprintf(w, "took %s\n\n", r.Elapsed.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tVALUE\tUNIT\tNOTE")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Stage, formatValue(row.Value), row.Unit, row.Note)
	}
	return tw.Flush()
}

func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
}

// JSON is the report as one flat object: every row's key with its value,
// plus the machine state under machine_* and the mode.
func (r *Report) JSON() map[string]any {
	out := map[string]any{
		"mode":                r.Mode,
		"elapsed_s":           math.Round(r.Elapsed.Seconds()*10) / 10,
		"machine_cores":       r.Machine.Cores,
		"machine_loadavg":     r.Machine.LoadAvg,
		"machine_loadavg_end": r.Machine.LoadAvgEnd,
		"machine_cpu_model":   r.Machine.CPUModel,
		"machine_os":          r.Machine.OS,
		"go_version":          r.Machine.GoVersion,
		"ort_version":         r.Machine.ORTVersion,
		"gstreamer_version":   r.Machine.GStreamer,
	}
	for _, row := range r.Rows {
		out[row.Key] = row.Value
	}
	return out
}

// WriteJSON writes JSON() indented, with a final newline.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.JSON())
}

// readMachine reads what /proc says about the machine; ONNX Runtime must be
// loaded for its version.
func readMachine() Machine {
	m := Machine{
		Cores:      runtime.NumCPU(),
		LoadAvg:    loadAvg(),
		CPUModel:   cpuModel(),
		GoVersion:  runtime.Version(),
		ORTVersion: ort.GetVersion(),
		GStreamer:  gstVersion(),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	fh, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// readRSS is this process's VmRSS in MiB.
func readRSS() (float64, error) {
	rss, err := mallocstats.RSS()
	return float64(rss) / (1 << 20), err
}
