package preprocess

import (
	"sync"
	"sync/atomic"

	"github.com/gst-react/gst-react/internal/frame"
)

// Rows of the scaled frame are independent, so a Letterbox with Threads > 1
// shares them with helper goroutines. The caller's goroutine works through
// the rows too, claiming chunks from the same counter: a helper that the OS
// does not schedule in time (its core busy decoding, say) costs nothing but
// its share, since the caller then takes every chunk itself. The output is
// the same whoever computes a row.

// rowChunk is how many output rows one claim takes: big enough that the
// counter is not contended, small enough that a late helper still finds work.
const rowChunk = 8

// rowJob is one Letterbox's current run, shared with the helpers.
type rowJob struct {
	// mu is held for reading by helpers while they take part in a run and
	// for writing by the caller at the end of it, which so waits for the
	// chunks helpers have claimed.
	mu   sync.RWMutex
	next atomic.Int32 // first row of the next unclaimed chunk
	rows int32        // rows in this run

	l       *Letterbox
	src     frame.Frame
	b, g, r []float32
}

// work computes the chunks left, returning when none is.
func (j *rowJob) work() {
	for {
		y0 := j.next.Add(rowChunk) - rowChunk
		if y0 >= j.rows {
			return
		}
		j.l.rows(&j.src, j.b, j.g, j.r, int(y0), int(min(y0+rowChunk, j.rows)))
	}
}

// helpers are goroutines shared by every Letterbox, started as the largest
// Threads seen needs them; they wait on wake between runs.
var helpers struct {
	mu      sync.Mutex
	started int
	wake    chan *rowJob
}

func ensureHelpers(n int) {
	helpers.mu.Lock()
	defer helpers.mu.Unlock()
	if helpers.wake == nil {
		helpers.wake = make(chan *rowJob, 64)
	}
	for ; helpers.started < n; helpers.started++ {
		go helperLoop(helpers.wake)
	}
}

func helperLoop(wake chan *rowJob) {
	for j := range wake {
		// A wake-up may arrive after its run ended (the caller did all
		// the rows): the counter is spent then, or belongs to the job's
		// next run, which waits for this helper like any other.
		j.mu.RLock()
		j.work()
		j.mu.RUnlock()
	}
}

// runRows computes output rows [0, rows) with l.rows, on Threads goroutines
// at most, the caller's included.
func (l *Letterbox) runRows(src *frame.Frame, b, g, r []float32, rows int) {
	if l.Threads <= 1 || rows < 2*rowChunk {
		l.rows(src, b, g, r, 0, rows)
		return
	}
	j := &l.job
	ensureHelpers(l.Threads - 1)
	j.mu.Lock() // a helper woken for the last run may still be looking
	j.l, j.src, j.b, j.g, j.r, j.rows = l, *src, b, g, r, int32(rows)
	j.next.Store(0)
	j.mu.Unlock()
	for range min(l.Threads-1, rows/rowChunk-1) {
		select {
		case helpers.wake <- j:
		default: // helpers are all busy; the caller does the rest
		}
	}
	j.work()
	j.mu.Lock() // waits for helpers still finishing a chunk
	// src.Data is the caller's (a mapped buffer): not kept past the call.
	j.src, j.b, j.g, j.r, j.rows = frame.Frame{}, nil, nil, nil, 0
	j.mu.Unlock()
}
