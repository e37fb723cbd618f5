package bench

import (
	"bytes"
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/elements/reactcloud"
	"github.com/gst-react/gst-react/internal/offload"
)

func TestPingPong(t *testing.T) {
	var got []int
	for i := range 16 {
		got = append(got, pingPong(i, 4))
	}
	want := []int{0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pingPong over 4 frames: %v, want %v", got, want)
		}
	}
	if pingPong(5, 1) != 0 {
		t.Fatal("one frame must always be frame 0")
	}
}

func TestQuantileMedian(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	if m := median(v); m != 3 {
		t.Errorf("median %v", m)
	}
	if m := median([]float64{1, 2, 3, 4}); m != 2.5 {
		t.Errorf("median of 4: %v", m)
	}
	if q := quantile(v, 0.95); q != 5 {
		t.Errorf("p95 %v", q)
	}
	if q := quantile(v, 0.5); q != 3 {
		t.Errorf("p50 %v", q)
	}
	if v[0] != 5 {
		t.Error("quantile sorted its input")
	}
}

func TestReportOutputs(t *testing.T) {
	r := &Report{Mode: "quick", Machine: Machine{Cores: 2, LoadAvg: "0.1 0.2 0.3", CPUModel: "test CPU"}}
	r.add("pipeline_fps", "edge pipeline", 12.345, "frames/s", "a note")
	r.add("allocs_per_frame", "allocs", 0, "allocs/frame", "")
	var tb bytes.Buffer
	if err := r.WriteTable(&tb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 cores", "test CPU", "load average 0.1 0.2 0.3", "edge pipeline", "12.35", "frames/s", "a note"} {
		if !strings.Contains(tb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tb.String())
		}
	}
	var jb bytes.Buffer
	if err := r.WriteJSON(&jb); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(jb.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["pipeline_fps"] != 12.345 || got["allocs_per_frame"] != 0.0 || got["machine_cores"] != 2.0 {
		t.Errorf("JSON %v", got)
	}
}

func TestAllocOwner(t *testing.T) {
	pc := make([]uintptr, 16)
	n := runtime.Callers(1, pc)
	if owner, text := describeStack(pc[:n]); owner != "bench" || !strings.Contains(text, "TestAllocOwner") {
		t.Errorf("owner %q, stack %q", owner, text)
	}
}

// TestAllocOwnerCloud: reactcloud's code counts as its streaming thread
// under its HandleBuffer, as its request goroutines otherwise. The stacks
// are made of function entries (+1, as return addresses are).
func TestAllocOwnerCloud(t *testing.T) {
	pc := func(f any) uintptr { return reflect.ValueOf(f).Pointer() + 1 }
	offloadFn, elementFn := pc(offload.NewCarrier), pc(reactcloud.Register)
	streamFn := pc((*reactcloud.Element).HandleBuffer)
	for _, c := range []struct {
		stack []uintptr
		want  string
	}{
		{[]uintptr{offloadFn}, "reactcloud-requests"},
		{[]uintptr{offloadFn, streamFn}, "reactcloud"},
		{[]uintptr{elementFn, streamFn}, "reactcloud"},
		{[]uintptr{elementFn}, "reactcloud-requests"}, // e.g. its status relay
	} {
		if owner, text := describeStack(c.stack); owner != c.want {
			t.Errorf("stack %q: owner %q, want %q", text, owner, c.want)
		}
	}
}

func TestMachine(t *testing.T) {
	if l := loadAvg(); len(strings.Fields(l)) != 3 {
		t.Errorf("load average %q", l)
	}
	if rss, err := readRSS(); err != nil || rss <= 0 {
		t.Errorf("RSS %v, %v", rss, err)
	}
	if cpuModel() == "" {
		t.Error("no CPU model")
	}
}
