//go:build linux && cgo

// Package mallocstats reads the C heap's totals from glibc (mallinfo2), so a
// long test can tell memory that C code still uses from memory that the
// allocator merely keeps for reuse: RSS mixes the two, and ONNX Runtime's
// per-thread malloc arenas keep tens of MB around without any leak.
package mallocstats

/*
#include <malloc.h>

static void read_mallinfo (size_t out[4])
{
  struct mallinfo2 mi = mallinfo2 ();
  out[0] = mi.uordblks;	// in use, from the arenas
  out[1] = mi.hblkhd;	// in use, mmapped chunks (always in use)
  out[2] = mi.arena;	// arena bytes obtained from the system
  out[3] = mi.fordblks;	// free, kept in the arenas
}
*/
import "C"

// Read returns the totals; ok is false where glibc's mallinfo2 is not
// available (other platforms build the stub).
func Read() (s Stats, ok bool) {
	var out [4]C.size_t
	C.read_mallinfo(&out[0])
	return Stats{
		InUse: uint64(out[0]) + uint64(out[1]),
		Held:  uint64(out[2]) + uint64(out[1]),
		Free:  uint64(out[3]),
	}, true
}
