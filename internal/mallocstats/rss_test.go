package mallocstats

import (
	"runtime"
	"testing"
)

// RSS follows memory the process really touches.
func TestRSSSeesTouchedMemory(t *testing.T) {
	before, err := RSS()
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	buf := make([]byte, 64<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	after, err := RSS()
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(buf)
	t.Logf("RSS %d MB before, %d MB after touching 64 MB", before>>20, after>>20)
	if before < 1<<20 || after-before < 32<<20 {
		t.Fatalf("RSS %d → %d bytes: touching 64 MB should add most of it", before, after)
	}
}
