package ortlib

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gst-react/gst-react/internal/models"
)

// The npm route picks the pinned member for the platform. These tests pose as
// another platform through hostOS/hostArch; the fake libraries stay ELF files
// for the real CPU, so Check (which asks what loads in this process) passes.

const arm64Member = "package/bin/napi-v6/linux/arm64/libonnxruntime.so.1"

func setHost(t *testing.T, goos, goarch string) {
	t.Helper()
	oldOS, oldArch := hostOS, hostArch
	hostOS, hostArch = goos, goarch
	t.Cleanup(func() { hostOS, hostArch = oldOS, oldArch })
}

// pinnedArm64 returns the embedded section with its arm64 member pinned to lib.
func pinnedArm64(t *testing.T, lib []byte) *models.ONNXRuntime {
	t.Helper()
	spec := models.Embedded().ONNXRuntime
	m, ok := spec.NPM.Arches["arm64"]
	if !ok || m.Member != arm64Member {
		t.Fatalf("embedded manifest pins no arm64 npm member %s: %+v", arm64Member, spec.NPM)
	}
	sum := sha256.Sum256(lib)
	m.SHA256, m.Size = hex.EncodeToString(sum[:]), int64(len(lib))
	spec.NPM.Arches = map[string]models.ORTMember{"arm64": m}
	return &spec
}

func TestProvideNPMArm64(t *testing.T) {
	setHost(t, "linux", "arm64")
	cache := isolate(t)
	lib := fakeELF(etDyn, "VERS_1.24.1 arm64")
	spec := pinnedArm64(t, lib)
	// The package carries both builds.
	fakeNPM(t, makeTgz(t, map[string][]byte{
		spec.NPM.Member: fakeELF(etDyn, "VERS_1.24.1 x64"),
		arm64Member:     lib,
	}))
	srv := notFound()
	defer srv.Close()
	var out bytes.Buffer
	got, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, Download: true, Spec: spec,
		ArchiveURL: srv.URL + "/x.tgz", Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, lib) {
		t.Error("installed bytes are not the arm64 member's")
	}
	for _, w := range []string{"official archive failed: the pinned archive is for linux/amd64, this is linux/arm64",
		"copied from npm onnxruntime-node@1.24.1 (member " + arm64Member + ")"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("progress does not say %q:\n%s", w, out.String())
		}
	}
}

// The embedded arm64 pin is enforced: a package whose arm64 library differs fails.
func TestProvideNPMArm64Checksum(t *testing.T) {
	setHost(t, "linux", "arm64")
	cache := isolate(t)
	spec := models.Embedded().ONNXRuntime
	fakeNPM(t, makeTgz(t, map[string][]byte{
		spec.NPM.Member: fakeELF(etDyn, "VERS_1.24.1"),
		arm64Member:     fakeELF(etDyn, "VERS_1.24.1"),
	}))
	_, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, Download: true})
	msg := fmt.Sprint(err)
	for _, w := range []string{"checksum mismatch", "18559840 bytes", spec.NPM.Arches["arm64"].SHA256, "linux/arm64", "--ort-lib"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not mention %q:\n%s", w, msg)
		}
	}
	if files := cacheDirFiles(t, cache); len(files) != 0 {
		t.Errorf("cache dir holds %v", files)
	}
}

// An architecture with no pinned member fails before running npm.
func TestProvideNPMUnpinnedArch(t *testing.T) {
	for _, host := range [][2]string{{"linux", "riscv64"}, {"darwin", "arm64"}} {
		setHost(t, host[0], host[1])
		cache := isolate(t)
		// An npm that would succeed must not be run.
		fakeNPM(t, makeTgz(t, map[string][]byte{arm64Member: fakeELF(etDyn, "VERS_1.24.1")}))
		_, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, Download: true})
		msg := fmt.Sprint(err)
		this := host[0] + "/" + host[1]
		for _, w := range []string{
			"official archive: the pinned archive is for linux/amd64, this is " + this,
			"npm: onnxruntime-node@1.24.1 has pinned libraries for linux/amd64, linux/arm64 only, this is " + this,
			"--ort-lib",
		} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error does not mention %q:\n%s", this, w, msg)
			}
		}
	}
}

// --ort-lib with the npm .tgz takes the member for this architecture.
func TestProvideExplicitTgzArm64(t *testing.T) {
	setHost(t, "linux", "arm64")
	spec := models.Embedded().ONNXRuntime
	lib := fakeELF(etDyn, "VERS_1.24.1 arm64")
	cache := isolate(t)
	tgz := writeFile(t, "onnxruntime-node-1.24.1.tgz", makeTgz(t, map[string][]byte{
		spec.NPM.Member: fakeELF(etDyn, "VERS_1.24.1 x64"),
		arm64Member:     lib,
	}))
	var out bytes.Buffer
	got, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, LibPath: tgz, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, lib) {
		t.Errorf("installed bytes are not the arm64 member's:\n%s", out.String())
	}

	// The x64 release archive holds nothing for arm64.
	cache = isolate(t)
	x64 := writeFile(t, "onnxruntime-linux-x64-1.24.1.tgz", makeTgz(t, map[string][]byte{spec.Archive.Member: lib}))
	_, err = Provide(context.Background(), ProvideOptions{CacheDir: cache, LibPath: x64})
	if err == nil || !strings.Contains(err.Error(), "archive has no "+arm64Member) {
		t.Errorf("x64 archive on arm64: %v", err)
	}

	// Nor is any member known for an unpinned architecture.
	setHost(t, "linux", "riscv64")
	_, err = Provide(context.Background(), ProvideOptions{CacheDir: cache, LibPath: tgz})
	if err == nil || !strings.Contains(err.Error(), "no library for linux/riscv64") {
		t.Errorf("riscv64: %v", err)
	}
	if files := cacheDirFiles(t, cache); len(files) != 0 {
		t.Errorf("cache dir holds %v", files)
	}
}
