package bench

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
)

// Allocation sites are attributed to the part of the process that made
// them: the innermost frame of the allocation's stack that belongs to a
// gst-react element or the worker, else to a NATS library, else "other". So
// a publish by reactcloud's engine counts as reactcloud, not as nats.go.
// Counting by stack rather than by difference of runs keeps the count exact
// and free of what else the process does meanwhile (the embedded NATS
// server's once-a-second sampling, the in-process worker, the bench itself).
var allocOwners = []struct{ owner, prefix string }{
	{"reactdetect", "github.com/gst-react/gst-react/elements/reactdetect."},
	{"reacttrack", "github.com/gst-react/gst-react/elements/reacttrack."},
	{"reactcloud", cloudElement},
	{"reactcloud-requests", "github.com/gst-react/gst-react/internal/offload."}, // its engine's goroutines (see describeStack)
	{"reactoverlay", "github.com/gst-react/gst-react/elements/reactoverlay."},
	{"cloudworker", "github.com/gst-react/gst-react/cloudworker."},
	{"bench", "github.com/gst-react/gst-react/internal/bench."}, // the measurement itself
	{"nats-server", "github.com/nats-io/nats-server/"},
	{"nats-client", "github.com/nats-io/nats%2ego."}, // as the runtime spells the package path
}

// cloudElement prefixes reactcloud's own functions; cloudStream is where its
// streaming thread enters it.
const (
	cloudElement = "github.com/gst-react/gst-react/elements/reactcloud."
	cloudStream  = cloudElement + "(*Element).HandleBuffer"
)

// allocSite is one allocation stack and how many objects it allocated.
type allocSite struct {
	owner, stack string
	n            int64
}

// allocProfile is the number of heap allocations made so far by each
// allocation stack. Exact only while runtime.MemProfileRate is 1; call
// runtime.GC first so the profile is current.
func allocProfile() map[string]allocSite {
	n, _ := runtime.MemProfile(nil, true)
	recs := make([]runtime.MemProfileRecord, n+256)
	n, _ = runtime.MemProfile(recs, true)
	out := make(map[string]allocSite, n)
	for _, r := range recs[:n] {
		owner, stack := describeStack(r.Stack())
		s := out[stack]
		s.owner, s.stack, s.n = owner, stack, s.n+r.AllocObjects
		out[stack] = s
	}
	return out
}

// allocDiff is after − before, by owner, and the sites that allocated in between.
func allocDiff(before, after map[string]allocSite) (map[string]int64, []allocSite) {
	owners := map[string]int64{}
	var sites []allocSite
	for k, s := range after {
		s.n -= before[k].n
		if s.n > 0 {
			owners[s.owner] += s.n
			sites = append(sites, s)
		}
	}
	sort.Slice(sites, func(i, j int) bool { return sites[i].n > sites[j].n })
	return owners, sites
}

// describeStack returns the stack's owner and its first frames as text.
// reactcloud's allocations are its streaming thread's when they happen
// under its HandleBuffer (the ring store, fusion), and otherwise its
// request goroutines' (JPEG encoding, the NATS request, the reply's
// fast-forward, the status relay): those run once per offload, reply or
// second, not per frame.
func describeStack(stack []uintptr) (owner, text string) {
	lib := ""
	onStream := false
	var sb strings.Builder
	frames := runtime.CallersFrames(stack)
	for i := 0; ; i++ {
		f, more := frames.Next()
		if i < 6 && !strings.HasPrefix(f.Function, "runtime.") {
			fmt.Fprintf(&sb, "%s:%d ", f.Function[strings.LastIndex(f.Function, "/")+1:], f.Line)
		}
		if f.Function == cloudStream {
			onStream = true
		}
		for _, o := range allocOwners {
			if owner == "" && strings.HasPrefix(f.Function, o.prefix) {
				if !strings.HasPrefix(o.owner, "nats-") {
					owner = o.owner
				} else if lib == "" {
					lib = o.owner
				}
			}
		}
		if !more {
			break
		}
	}
	switch {
	case owner == "reactcloud" || owner == "reactcloud-requests":
		owner = "reactcloud-requests"
		if onStream {
			owner = "reactcloud"
		}
	case owner != "":
	case lib != "":
		owner = lib
	default:
		owner = "other"
	}
	return owner, sb.String()
}
