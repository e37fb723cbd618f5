package mallocstats

import (
	"bytes"
	"errors"
	"os"
	"strconv"
)

// Stats are byte counts over all of glibc's arenas.
type Stats struct {
	InUse uint64 // allocated and not yet freed by C code (arenas + mmapped chunks)
	Held  uint64 // obtained from the system (arenas + mmapped chunks)
	Free  uint64 // freed but kept in the arenas for reuse
}

// RSS is the process's resident set size in bytes (VmRSS of
// /proc/self/status), what the kernel counts against it: Go heap, C heap,
// code, and what malloc keeps for reuse.
func RSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v) // "123456", "kB"
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}
