package eval

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress shows how far a run is, on stderr: a bar redrawn in place on a
// terminal, else a plain line at every 10%. It only displays; nothing it
// measures (wall time included) reaches the results. A nil *Progress does
// nothing. Safe for concurrent use.
type Progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	total    int
	done     int
	lastStep int // last 10% step printed (plain mode)
	start    time.Time
	drawn    bool
}

// NewProgress reports to w; tty selects the redrawn bar.
func NewProgress(w io.Writer, tty bool, total int) *Progress {
	return &Progress{w: w, tty: tty, total: max(total, 1), start: time.Now(), lastStep: -1}
}

// Add advances by n units; what names the work just finished.
func (p *Progress) Add(n int, what string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = min(p.done+n, p.total)
	pct := 100 * p.done / p.total
	if p.tty {
		const width = 30
		fill := width * p.done / p.total
		eta := ""
		if el := time.Since(p.start); p.done > 0 && p.done < p.total {
			rem := time.Duration(float64(el) * float64(p.total-p.done) / float64(p.done))
			eta = " ETA " + rem.Round(time.Second).String()
		}
		fmt.Fprintf(p.w, "\r\033[K[%s%s] %3d%% %s%s", strings.Repeat("#", fill), strings.Repeat(".", width-fill), pct, what, eta)
		p.drawn = true
		return
	}
	if step := pct / 10; step > p.lastStep {
		p.lastStep = step
		fmt.Fprintf(p.w, "eval: %3d%% (%d/%d) %s\n", pct, p.done, p.total, what)
	}
}

// Logf prints a line of its own, keeping the bar intact on a terminal.
func (p *Progress) Logf(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// Finish ends the bar's line.
func (p *Progress) Finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
