//go:build linux && cgo

package onnx

/*
#include <malloc.h>
*/
import "C"

// returnFreedMemory hands memory freed by a destroyed session back to the
// kernel. ONNX Runtime allocates from its intra-op threads, each of which
// gets its own glibc malloc arena; when a session and its threads go away,
// the freed pages stay in those arenas and a later session's threads do
// not reuse them well. Without this, each close-and-reopen of a large model
// (a restarted in-process cloud worker) left about 3 MB more resident.
func returnFreedMemory() { C.malloc_trim(0) }
