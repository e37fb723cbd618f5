package wire

import "sync/atomic"

// Decoded ids are strings, and string([]byte) allocates. A worker sees the same
// few stream ids (and an edge the same few worker ids) over and over, so decoders
// look them up in this small direct-mapped cache first; that keeps request
// decoding allocation-free in steady state. It is fixed-size, so a peer sending
// random ids costs allocations, never memory, and lock-free, so concurrent
// decoders do not contend.
var internTab [256]atomic.Pointer[string]

func intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &internTab[h%uint32(len(internTab))]
	if p := slot.Load(); p != nil && *p == string(b) { // the comparison does not allocate
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}
