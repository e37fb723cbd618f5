//go:build !linux || !cgo

package mallocstats

// Read reports ok=false: mallinfo2 is glibc's.
func Read() (Stats, bool) { return Stats{}, false }
