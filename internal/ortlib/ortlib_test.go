package ortlib

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/models"
)

// realLib is the official library fetched with npm pack on the dev machine.
const realLib = "/tmp/ort/package/bin/napi-v6/linux/x64/libonnxruntime.so.1"

// fakeELF returns a minimal 64-bit little-endian ELF header of the given type
// for this CPU, followed by payload (e.g. a VERS_x.y.z tag). It has no
// sections, so Check falls back to its byte scan.
func fakeELF(typ uint16, payload string) []byte {
	h := make([]byte, 64)
	copy(h, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le := binary.LittleEndian
	le.PutUint16(h[16:], typ)
	le.PutUint16(h[18:], uint16(elfMachine[runtime.GOARCH]))
	le.PutUint32(h[20:], 1)
	le.PutUint16(h[52:], 64) // e_ehsize
	le.PutUint16(h[54:], 56) // e_phentsize
	le.PutUint16(h[58:], 64) // e_shentsize
	return append(h, []byte("\x00padding\x00"+payload+"\x00")...)
}

const etDyn, etExec = 3, 2

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// makeTgz builds a .tgz holding the given regular files, plus a symlink the
// way the official archive has them.
func makeTgz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "dir/libonnxruntime.so", Typeflag: tar.TypeSymlink, Linkname: "libonnxruntime.so.1"})
	for n, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// cacheDirFiles lists the files in the library's cache directory.
func cacheDirFiles(t *testing.T, cache string) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Dir(CachePath(cache)))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func isolate(t *testing.T) string {
	t.Helper()
	cache := t.TempDir()
	t.Setenv(models.EnvCache, cache)
	t.Setenv(EnvLib, "")
	return cache
}

func TestVersionMatchesManifest(t *testing.T) {
	if v := models.Embedded().ONNXRuntime.Version; v != Version {
		t.Fatalf("manifest onnxruntime.version %s, ortlib.Version %s", v, Version)
	}
}

func TestCheck(t *testing.T) {
	ok := writeFile(t, "ok.so", fakeELF(etDyn, "VERS_1.24.1"))
	if v, err := Check(ok); err != nil || v != "1.24.1" {
		t.Errorf("fake 1.24.1: %s %v", v, err)
	}
	newer := writeFile(t, "new.so", fakeELF(etDyn, "VERS_1.24.1 VERS_1.30.0 1.99.9"))
	if v, err := Check(newer); err != nil || v != "1.30.0" {
		t.Errorf("newer: %s %v", v, err)
	}
	// A tag split across the scanner's 1 MiB reads is still found.
	big := fakeELF(etDyn, strings.Repeat("x", 1<<20-80)+"VERS_1.25.0")
	if v, err := Check(writeFile(t, "big.so", big)); err != nil || v != "1.25.0" {
		t.Errorf("split tag: %s %v", v, err)
	}
	bad := []struct {
		name   string
		data   []byte
		wantIn string
	}{
		{"old", fakeELF(etDyn, "VERS_1.22.0"), "needs 1.24 or newer"},
		{"untagged", fakeELF(etDyn, "onnxruntime 1.24.1"), "no ONNX Runtime version tag"},
		{"exec", fakeELF(etExec, "VERS_1.24.1"), "not a shared object"},
		{"text", []byte("not a library at all, VERS_1.24.1"), "not an ELF"},
		{"empty", nil, "not an ELF"},
	}
	for _, c := range bad {
		p := writeFile(t, c.name, c.data)
		_, err := Check(p)
		if err == nil || !strings.Contains(err.Error(), c.wantIn) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v (want %q and the path)", c.name, err, c.wantIn)
		}
	}
	if _, err := os.Stat(realLib); err == nil {
		start := time.Now()
		v, err := Check(realLib)
		if err != nil || v != "1.24.1" {
			t.Errorf("real library: %s %v", v, err)
		}
		t.Logf("Check(real library) took %s", time.Since(start))
	}
}

func TestProvideExplicitFile(t *testing.T) {
	cache := isolate(t)
	lib := fakeELF(etDyn, "VERS_1.24.1")
	src := writeFile(t, "libonnxruntime.so.1", lib)
	var out bytes.Buffer
	got, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, LibPath: src, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	if got != CachePath(cache) || got != filepath.Join(cache, "onnxruntime", "1.24.1", "libonnxruntime.so") {
		t.Errorf("path %s", got)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, lib) {
		t.Error("installed bytes differ")
	}
	if !strings.Contains(out.String(), "copied from "+src) || !strings.Contains(out.String(), "version 1.24.1") {
		t.Errorf("progress:\n%s", out.String())
	}
	// The same file again: nothing to copy.
	out.Reset()
	if _, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, LibPath: src, Progress: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "already installed") {
		t.Errorf("progress:\n%s", out.String())
	}
	// Through the environment variable, a newer library replaces it.
	lib2 := fakeELF(etDyn, "VERS_1.25.0")
	t.Setenv(EnvLib, writeFile(t, "lib2.so", lib2))
	if _, err := Provide(context.Background(), ProvideOptions{CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, lib2) {
		t.Error("env library not installed")
	}
	if files := cacheDirFiles(t, cache); len(files) != 1 {
		t.Errorf("cache dir holds %v", files)
	}
}

func TestProvideExplicitBadFile(t *testing.T) {
	for name, data := range map[string][]byte{
		"text": []byte("hello"),
		"old":  fakeELF(etDyn, "VERS_1.20.0"),
		"tgz":  makeTgz(t, map[string][]byte{"other/file": []byte("x")}),
	} {
		cache := isolate(t)
		src := writeFile(t, name, data)
		// Download is allowed, but an explicit file is the only source tried.
		_, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, LibPath: src, Download: true, ArchiveURL: "http://127.0.0.1:1/x.tgz"})
		if err == nil || !strings.Contains(err.Error(), src) || !strings.Contains(err.Error(), "--ort-lib") || strings.Contains(err.Error(), "official archive") {
			t.Errorf("%s: %v", name, err)
		}
		if files := cacheDirFiles(t, cache); len(files) != 0 {
			t.Errorf("%s: cache dir holds %v", name, files)
		}
	}
	cache := isolate(t)
	if _, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, LibPath: "/no/such/lib.so"}); err == nil || !strings.Contains(err.Error(), "/no/such/lib.so") {
		t.Errorf("missing file: %v", err)
	}
}

func TestProvideExplicitTgz(t *testing.T) {
	spec := models.Embedded().ONNXRuntime
	for _, member := range []string{spec.NPM.Member, "./" + spec.Archive.Member} {
		cache := isolate(t)
		lib := fakeELF(etDyn, "VERS_1.24.3")
		src := writeFile(t, "ort.tgz", makeTgz(t, map[string][]byte{member: lib, "package/package.json": []byte("{}")}))
		got, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, LibPath: src})
		if err != nil {
			t.Fatalf("%s: %v", member, err)
		}
		if b, _ := os.ReadFile(got); !bytes.Equal(b, lib) {
			t.Errorf("%s: installed bytes differ", member)
		}
	}
}

func TestProvideCachedAndNoDownload(t *testing.T) {
	cache := isolate(t)
	_, err := Provide(context.Background(), ProvideOptions{CacheDir: cache})
	if err == nil || !strings.Contains(err.Error(), "--no-download") || !strings.Contains(err.Error(), "--ort-lib") {
		t.Errorf("no source: %v", err)
	}
	os.MkdirAll(filepath.Dir(CachePath(cache)), 0o755)
	os.WriteFile(CachePath(cache), fakeELF(etDyn, "VERS_1.24.1"), 0o755)
	var out bytes.Buffer
	start := time.Now()
	got, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, Download: true, ArchiveURL: "http://127.0.0.1:1/never", Progress: &out})
	if err != nil || got != CachePath(cache) || !strings.Contains(out.String(), "cached") {
		t.Errorf("cached: %s %v\n%s", got, err, out.String())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cached lookup took %s", d)
	}
	// A bad cached file is removed, not handed out.
	os.WriteFile(CachePath(cache), []byte("junk"), 0o755)
	if _, err := Provide(context.Background(), ProvideOptions{CacheDir: cache}); err == nil {
		t.Error("junk cache accepted")
	}
	if files := cacheDirFiles(t, cache); len(files) != 0 {
		t.Errorf("cache dir holds %v", files)
	}
}

func needLinuxAMD64(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the archive and npm routes are linux/amd64 only")
	}
}

func TestProvideArchive(t *testing.T) {
	needLinuxAMD64(t)
	cache := isolate(t)
	spec := models.Embedded().ONNXRuntime
	lib := fakeELF(etDyn, "VERS_1.24.1")
	tgz := makeTgz(t, map[string][]byte{
		"onnxruntime-linux-x64-1.24.1/include/onnxruntime_c_api.h": []byte("/* */"),
		spec.Archive.Member: lib,
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1.24.1/onnxruntime-linux-x64-1.24.1.tgz" {
			http.NotFound(w, r)
			return
		}
		w.Write(tgz)
	}))
	defer srv.Close()
	var out bytes.Buffer
	got, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, Download: true, NPM: "/no/npm",
		ArchiveURL: srv.URL + "/v1.24.1/onnxruntime-linux-x64-1.24.1.tgz", Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, lib) {
		t.Error("installed bytes differ")
	}
	if !strings.Contains(out.String(), "member "+spec.Archive.Member) {
		t.Errorf("progress:\n%s", out.String())
	}
}

// fakeNPM puts an `npm` first on PATH that drops tgz into its working
// directory, as `npm pack` does.
func fakeNPM(t *testing.T, tgz []byte) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "pkg.tgz")
	os.WriteFile(src, tgz, 0o644)
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = pack ] || exit 2\ncp %q ./onnxruntime-node-1.24.1.tgz\necho onnxruntime-node-1.24.1.tgz\n", src)
	if err := os.WriteFile(filepath.Join(dir, "npm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func pinned(lib []byte) *models.ONNXRuntime {
	spec := models.Embedded().ONNXRuntime
	sum := sha256.Sum256(lib)
	spec.NPM.SHA256 = hex.EncodeToString(sum[:])
	spec.NPM.Size = int64(len(lib))
	return &spec
}

func notFound() *httptest.Server {
	return httptest.NewServer(http.NotFoundHandler())
}

func TestProvideNPM(t *testing.T) {
	needLinuxAMD64(t)
	cache := isolate(t)
	lib := fakeELF(etDyn, "VERS_1.24.1")
	spec := pinned(lib)
	fakeNPM(t, makeTgz(t, map[string][]byte{spec.NPM.Member: lib, "package/package.json": []byte("{}")}))
	srv := notFound()
	defer srv.Close()
	var out bytes.Buffer
	got, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, Download: true, Spec: spec,
		ArchiveURL: srv.URL + "/x.tgz", Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, lib) {
		t.Error("installed bytes differ")
	}
	if !strings.Contains(out.String(), "official archive failed") || !strings.Contains(out.String(), "copied from npm onnxruntime-node@1.24.1") {
		t.Errorf("progress:\n%s", out.String())
	}
}

func TestProvideAllFail(t *testing.T) {
	needLinuxAMD64(t)
	srv := notFound()
	defer srv.Close()
	lib := fakeELF(etDyn, "VERS_1.24.1")

	// npm delivers a library whose checksum is not the pinned one.
	cache := isolate(t)
	fakeNPM(t, makeTgz(t, map[string][]byte{models.Embedded().ONNXRuntime.NPM.Member: lib}))
	_, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, Download: true, ArchiveURL: srv.URL + "/x.tgz"})
	msg := fmt.Sprint(err)
	for _, w := range []string{"official archive", "HTTP 404", "npm", "checksum mismatch", "53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4", "--ort-lib"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not mention %q:\n%s", w, msg)
		}
	}
	if files := cacheDirFiles(t, cache); len(files) != 0 {
		t.Errorf("cache dir holds %v", files)
	}

	// No npm at all, and a server that never answers.
	cache = isolate(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	start := time.Now()
	_, err = Provide(context.Background(), ProvideOptions{CacheDir: cache, Download: true, ArchiveURL: hang.URL + "/x.tgz",
		NPM: "npm-that-does-not-exist", Timeout: 300 * time.Millisecond})
	msg = fmt.Sprint(err)
	for _, w := range []string{"official archive", "deadline exceeded", "npm-that-does-not-exist not found on PATH", "apt-get install npm"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not mention %q:\n%s", w, msg)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestLocate(t *testing.T) {
	cache := isolate(t)
	_, err := Locate()
	if err == nil || !strings.Contains(err.Error(), "make setup") || !strings.Contains(err.Error(), EnvLib) {
		t.Errorf("nothing installed: %v", err)
	}
	os.MkdirAll(filepath.Dir(CachePath(cache)), 0o755)
	os.WriteFile(CachePath(cache), fakeELF(etDyn, "VERS_1.24.1"), 0o755)
	if p, err := Locate(); err != nil || p != CachePath(cache) {
		t.Errorf("cached: %s %v", p, err)
	}
	own := writeFile(t, "mine.so", fakeELF(etDyn, "VERS_1.26.0"))
	t.Setenv(EnvLib, own)
	if p, err := Locate(); err != nil || p != own {
		t.Errorf("env: %s %v", p, err)
	}
	t.Setenv(EnvLib, "/no/such/libonnxruntime.so")
	if _, err := Locate(); err == nil || !strings.Contains(err.Error(), EnvLib) {
		t.Errorf("env missing: %v", err)
	}
	t.Setenv(EnvLib, writeFile(t, "old.so", fakeELF(etDyn, "VERS_1.22.0")))
	if _, err := Locate(); err == nil || !strings.Contains(err.Error(), "1.22.0") {
		t.Errorf("env too old: %v", err)
	}
}

// The real library, if this machine has it, through the explicit-path route.
func TestProvideRealLibrary(t *testing.T) {
	if _, err := os.Stat(realLib); err != nil {
		t.Skipf("no %s (fetch it with: npm pack onnxruntime-node@1.24.1)", realLib)
	}
	cache := isolate(t)
	var out bytes.Buffer
	start := time.Now()
	got, err := Provide(context.Background(), ProvideOptions{CacheDir: cache, LibPath: realLib, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s(took %s)", out.String(), time.Since(start))
	spec := models.Embedded().ONNXRuntime
	if sum, err := hashFile(got); err != nil || sum != spec.NPM.SHA256 {
		t.Errorf("installed sha256 %s %v", sum, err)
	}
	if v, err := Check(got); err != nil || v != Version {
		t.Errorf("Check: %s %v", v, err)
	}
	if p, err := Locate(); err != nil || p != got {
		t.Errorf("Locate: %s %v", p, err)
	}
}
