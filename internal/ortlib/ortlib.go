// Package ortlib finds and installs the ONNX Runtime shared library that
// github.com/yalue/onnxruntime_go loads at run time. That binding (v1.27.0)
// asks for ORT API version 24, so it needs libonnxruntime 1.24 or newer;
// Debian ships none, so gst-react keeps its own copy in the user cache:
// <cache>/onnxruntime/<Version>/libonnxruntime.so.
//
// Provide fills the cache from, in order: a file the user names (a .so, or a
// .tgz of the official release or of the npm package), Microsoft's official
// release archive, or the npm package onnxruntime-node, which ships the same
// official build. Locate finds the installed library for the runtime.
package ortlib

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"

	"github.com/gst-react/gst-react/internal/models"
)

// Version is the ONNX Runtime release gst-react installs; it equals the
// manifest's onnxruntime.version (a test checks).
const Version = "1.24.1"

// MinMajor.MinMinor is the oldest ORT that onnxruntime_go v1.27.0 can use
// (older ones fail with "requested API version [24] is not available").
const (
	MinMajor = 1
	MinMinor = 24
)

// EnvLib names a libonnxruntime.so to use instead of the cached one; Provide
// also takes it as the explicit file to install.
const EnvLib = "GSTREACT_ORT_LIB"

// LibName is the file name of the installed library in the cache.
const LibName = "libonnxruntime.so"

// Hint is what "not installed" errors tell the user to do.
const Hint = "run `make setup` (or `gstreact setup --ort-lib PATH` with a libonnxruntime.so >= 1.24), or set " + EnvLib + " to such a file"

// CachePath is where the library lives in the cache rooted at cacheDir.
func CachePath(cacheDir string) string {
	return filepath.Join(cacheDir, "onnxruntime", Version, LibName)
}

// Locate returns the library to load: $GSTREACT_ORT_LIB if set (it must
// exist), else the cached copy. Either is checked with Check, so a wrong or
// too old file fails here with a clear message rather than inside dlopen.
func Locate() (string, error) {
	if p := os.Getenv(EnvLib); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w; point it at libonnxruntime.so >= %d.%d or unset it", EnvLib, p, err, MinMajor, MinMinor)
		}
		if _, err := Check(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvLib, p, err)
		}
		return p, nil
	}
	cache, err := models.CacheDir()
	if err != nil {
		return "", err
	}
	p := CachePath(cache)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("ONNX Runtime %s is not installed (no %s); %s", Version, p, Hint)
		}
		return "", err
	}
	if _, err := Check(p); err != nil {
		return "", fmt.Errorf("%w; %s", err, Hint)
	}
	return p, nil
}

// elfMachine is the ELF machine a library must have to load in this process.
var elfMachine = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386,
	"arm": elf.EM_ARM, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV,
}

// versRE matches ORT's symbol-version tag. ORT links libonnxruntime.so with
// a version script that puts every exported symbol (OrtGetApiBase, ...) in a
// version node named VERS_<release>, e.g. VERS_1.24.1, so the tag names the
// exact release. A bare "1.24.1" string would be a poor signal: a 35 MB
// library holds many unrelated version-like strings (zlib, protobuf, ...).
var versRE = regexp.MustCompile(`VERS_(\d+)\.(\d+)\.(\d+)`)

// Check tells whether path is an ONNX Runtime library this process can use:
// an ELF shared object for this CPU whose ORT version is at least
// MinMajor.MinMinor. It returns that version. The version is taken from the
// ELF version definitions (.gnu.version_d) and, if the file has none that
// match, from a byte scan for the same VERS_x.y.z tag.
func Check(path string) (string, error) { return check(path, path) }

// check is Check with name used for path in errors (path may be a temporary
// file while name says where its bytes came from).
func check(path, name string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s is not an ELF shared library (%v); expected libonnxruntime.so", name, err)
	}
	defer f.Close()
	if f.Type != elf.ET_DYN {
		return "", fmt.Errorf("%s is an ELF %s, not a shared object; expected libonnxruntime.so", name, f.Type)
	}
	if want, ok := elfMachine[runtime.GOARCH]; ok && f.Machine != want {
		return "", fmt.Errorf("%s is built for %s, but this program runs on %s (%s); get the ONNX Runtime build for %s",
			name, f.Machine, runtime.GOARCH, want, runtime.GOARCH)
	}
	best := [3]int{-1, -1, -1}
	if defs, err := f.DynamicVersions(); err == nil {
		for _, d := range defs {
			if m := versRE.FindStringSubmatch(d.Name); m != nil && "VERS_"+m[1]+"."+m[2]+"."+m[3] == d.Name {
				best = maxVersion(best, m)
			}
		}
	}
	if best[0] < 0 {
		if best, err = scanVersion(path); err != nil {
			return "", err
		}
	}
	if best[0] < 0 {
		return "", fmt.Errorf("%s has no ONNX Runtime version tag (VERS_x.y.z); is it really libonnxruntime.so?", name)
	}
	v := fmt.Sprintf("%d.%d.%d", best[0], best[1], best[2])
	if best[0] < MinMajor || (best[0] == MinMajor && best[1] < MinMinor) {
		return v, fmt.Errorf("%s is ONNX Runtime %s, but onnxruntime_go needs %d.%d or newer; install %s", name, v, MinMajor, MinMinor, Version)
	}
	return v, nil
}

func maxVersion(best [3]int, m []string) [3]int {
	var v [3]int
	for i := range v {
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return best
		}
		v[i] = n
	}
	for i := range v {
		if v[i] != best[i] {
			if v[i] > best[i] {
				return v
			}
			return best
		}
	}
	return best
}

// scanVersion streams the file looking for VERS_x.y.z anywhere in its bytes
// and returns the highest found, or {-1,-1,-1}.
func scanVersion(path string) ([3]int, error) {
	best := [3]int{-1, -1, -1}
	f, err := os.Open(path)
	if err != nil {
		return best, err
	}
	defer f.Close()
	const chunk, overlap = 1 << 20, 64 // a tag is far shorter than overlap
	r := bufio.NewReaderSize(f, chunk)
	buf := make([]byte, 0, chunk+overlap)
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		for _, m := range versRE.FindAllSubmatch(buf, -1) {
			best = maxVersion(best, []string{"", string(m[1]), string(m[2]), string(m[3])})
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return best, nil
		}
		if err != nil {
			return best, err
		}
		// Keep the tail so a tag split across reads is still found.
		keep := bytes.Clone(buf[len(buf)-overlap:])
		buf = append(buf[:0], keep...)
	}
}
