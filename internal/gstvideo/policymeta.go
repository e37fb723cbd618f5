package gstvideo

/*
#include <stdlib.h>
#include "policymeta.h"
*/
import "C"

import (
	"sync"
	"unsafe"
)

// PolicyMeta is GstReactPolicyMeta, what reactcloud's schedule did on a
// frame: the policy, its effective intervals and whether (and why) the edge
// detector ran and the frame went to the cloud. Reasons are the policy's
// names ("" = none).
type PolicyMeta struct {
	Policy        string
	K, M          float64
	Detected      bool
	DetectReason  string
	Offloaded     bool
	OffloadReason string
}

// quarks maps names to GQuarks and back, made once per name: the names are
// a handful of constants, so the per-frame path allocates nothing. Names
// beyond maxQuarkNames (a foreign producer writing free text) are converted
// each time instead of kept.
var quarks = struct {
	sync.Mutex
	of   map[string]C.GQuark
	name map[C.GQuark]string
}{of: make(map[string]C.GQuark, 64), name: make(map[C.GQuark]string, 64)} // room for them all: no growth mid-stream

const maxQuarkNames = 256

func quarkOf(s string) C.GQuark {
	if s == "" {
		return 0
	}
	quarks.Lock()
	defer quarks.Unlock()
	if q, ok := quarks.of[s]; ok {
		return q
	}
	cs := C.CString(s)
	q := C.react_quark(cs)
	C.free(unsafe.Pointer(cs))
	if len(quarks.of) < maxQuarkNames {
		quarks.of[s], quarks.name[q] = q, s
	}
	return q
}

func nameOf(q C.GQuark) string {
	if q == 0 {
		return ""
	}
	quarks.Lock()
	defer quarks.Unlock()
	if s, ok := quarks.name[q]; ok {
		return s
	}
	s := C.GoString(C.react_quark_string(q))
	if len(quarks.of) < maxQuarkNames {
		quarks.of[s], quarks.name[q] = q, s
	}
	return s
}

func gbool(b bool) C.gboolean {
	if b {
		return 1
	}
	return 0
}

// SetPolicyMeta puts m on b (replacing one already there).
func SetPolicyMeta(b Buffer, m PolicyMeta) {
	C.react_set_policy_meta(b.c, quarkOf(m.Policy), C.gdouble(m.K), C.gdouble(m.M), gbool(m.Detected),
		quarkOf(m.DetectReason), gbool(m.Offloaded), quarkOf(m.OffloadReason))
}

// GetPolicyMeta reads what SetPolicyMeta wrote; ok is false when b has none
// (no reactcloud upstream).
func GetPolicyMeta(b Buffer) (m PolicyMeta, ok bool) {
	info := C.react_get_policy_meta(b.c)
	if info.ok == 0 {
		return PolicyMeta{}, false
	}
	return PolicyMeta{Policy: nameOf(info.policy), K: float64(info.k), M: float64(info.m),
		Detected: info.detected != 0, DetectReason: nameOf(info.detect_reason),
		Offloaded: info.offloaded != 0, OffloadReason: nameOf(info.offload_reason)}, true
}
