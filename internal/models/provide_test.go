package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeModels builds a manifest of n fake models whose URLs point at baseURL,
// and returns it with the bytes of each file.
func fakeModels(t *testing.T, n int, baseURL string) (*Manifest, map[string][]byte) {
	t.Helper()
	m := Embedded()
	m.Models = m.Models[:n]
	data := map[string][]byte{}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range m.Models {
		e := &m.Models[i]
		b := make([]byte, 1000+100*i)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		sum := sha256.Sum256(b)
		e.Name = fmt.Sprintf("fake%d", i)
		e.File = e.Name + ".onnx"
		e.SHA256 = hex.EncodeToString(sum[:])
		e.Size = int64(len(b))
		e.URL = baseURL + "/files/" + e.File
		data[e.File] = b
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m, data
}

func writeDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	d := t.TempDir()
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(d, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// cacheFiles lists every file under cache/models, temporary ones included.
func cacheFiles(t *testing.T, cache string) []string {
	t.Helper()
	ents, err := os.ReadDir(ModelsDir(cache))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func checkCached(t *testing.T, cache string, m *Manifest, data map[string][]byte) {
	t.Helper()
	for _, e := range m.Models {
		b, err := os.ReadFile(e.CachePath(cache))
		if err != nil || !bytes.Equal(b, data[e.File]) {
			t.Errorf("%s: cached file wrong: %v", e.Name, err)
		}
	}
	if got := cacheFiles(t, cache); len(got) != len(m.Models) {
		t.Errorf("cache holds %v, want only the %d models", got, len(m.Models))
	}
}

func TestProvideFromLocalDirThenCached(t *testing.T) {
	cache := t.TempDir()
	m, data := fakeModels(t, 3, "http://127.0.0.1:1")
	empty := t.TempDir()
	local := writeDir(t, data)
	var out bytes.Buffer
	opts := ProvideOptions{Manifest: m, CacheDir: cache, LocalDirs: []string{empty, local}, Progress: &out}
	if err := Provide(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	checkCached(t, cache, m, data)
	if n := strings.Count(out.String(), "copied from "+local); n != 3 {
		t.Errorf("progress:\n%s", out.String())
	}
	if st, _ := os.Stat(m.Models[0].CachePath(cache)); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}

	// Second run: every model is found in the cache; the local dir is not read.
	os.RemoveAll(local)
	out.Reset()
	if err := Provide(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), ": cached,"); n != 3 {
		t.Errorf("progress:\n%s", out.String())
	}
}

func TestProvideNamesFilter(t *testing.T) {
	cache := t.TempDir()
	m, data := fakeModels(t, 3, "http://127.0.0.1:1")
	opts := ProvideOptions{Manifest: m, CacheDir: cache, LocalDirs: []string{writeDir(t, data)}, Names: []string{"fake1"}}
	if err := Provide(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if got := cacheFiles(t, cache); len(got) != 1 || got[0] != "fake1.onnx" {
		t.Errorf("cache holds %v", got)
	}
	opts.Names = []string{"nope"}
	if err := Provide(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "fake0, fake1, fake2") {
		t.Errorf("unknown name: %v", err)
	}
}

// The upstream file name (last element of the URL) is accepted in a local dir.
func TestProvideLocalUpstreamName(t *testing.T) {
	cache := t.TempDir()
	m, data := fakeModels(t, 1, "http://127.0.0.1:1")
	m.Models[0].URL = "https://example.com/raw/abc/model/yolox_nano.onnx"
	local := writeDir(t, map[string][]byte{"yolox_nano.onnx": data["fake0.onnx"]})
	if err := Provide(context.Background(), ProvideOptions{Manifest: m, CacheDir: cache, LocalDirs: []string{local}}); err != nil {
		t.Fatal(err)
	}
	checkCached(t, cache, m, data)
}

func TestProvideLocalMismatch(t *testing.T) {
	cache := t.TempDir()
	m, data := fakeModels(t, 2, "http://127.0.0.1:1")
	bad := bytes.Clone(data["fake1.onnx"])
	bad[10] ^= 0xff
	badSum := sha256.Sum256(bad)
	local := writeDir(t, map[string][]byte{"fake0.onnx": data["fake0.onnx"], "fake1.onnx": bad})
	err := Provide(context.Background(), ProvideOptions{Manifest: m, CacheDir: cache, LocalDirs: []string{local}})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, w := range []string{filepath.Join(local, "fake1.onnx"), "sha256 mismatch", m.Models[1].SHA256, hex.EncodeToString(badSum[:]), "download: disabled", "--models-from"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not mention %q:\n%s", w, msg)
		}
	}
	var pe *ProvideError
	if !errors.As(err, &pe) || pe.Model != "fake1" {
		t.Errorf("not a *ProvideError for fake1: %#v", err)
	}
	// fake0 is provided, fake1 is not, and no temporary file is left.
	if got := cacheFiles(t, cache); len(got) != 1 || got[0] != "fake0.onnx" {
		t.Errorf("cache holds %v", got)
	}

	// A too-long local file is a size mismatch.
	os.WriteFile(filepath.Join(local, "fake1.onnx"), append(bytes.Clone(data["fake1.onnx"]), 0), 0o644)
	err = Provide(context.Background(), ProvideOptions{Manifest: m, CacheDir: cache, LocalDirs: []string{local}, Names: []string{"fake1"}})
	if err == nil || !strings.Contains(err.Error(), "size mismatch") {
		t.Errorf("long file: %v", err)
	}
}

func TestProvideReplacesWrongCachedFile(t *testing.T) {
	cache := t.TempDir()
	m, data := fakeModels(t, 1, "http://127.0.0.1:1")
	os.MkdirAll(ModelsDir(cache), 0o755)
	os.WriteFile(m.Models[0].CachePath(cache), []byte("truncated"), 0o644)
	var out bytes.Buffer
	err := Provide(context.Background(), ProvideOptions{Manifest: m, CacheDir: cache, LocalDirs: []string{writeDir(t, data)}, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	checkCached(t, cache, m, data)
	if !strings.Contains(out.String(), "replacing") {
		t.Errorf("progress:\n%s", out.String())
	}

	// With no source at all, the wrong file is removed rather than kept.
	os.WriteFile(m.Models[0].CachePath(cache), []byte("truncated"), 0o644)
	if err := Provide(context.Background(), ProvideOptions{Manifest: m, CacheDir: cache}); err == nil {
		t.Fatal("no error")
	}
	if got := cacheFiles(t, cache); len(got) != 0 {
		t.Errorf("cache holds %v", got)
	}
}

// server serves files under /files/, with per-file behaviour overrides.
type server struct {
	*httptest.Server
	hits    atomic.Int32
	files   map[string][]byte
	partial bool // declare the full length, send half, close
	hang    bool // never answer until the client gives up
}

func newServer(t *testing.T, files map[string][]byte) *server {
	s := &server{files: files}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.hang {
			<-r.Context().Done()
			return
		}
		b, ok := s.files[strings.TrimPrefix(r.URL.Path, "/files/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		if s.partial {
			w.Write(b[:len(b)/2])
			return
		}
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestProvideDownload(t *testing.T) {
	s := newServer(t, nil)
	m, data := fakeModels(t, 2, s.URL)
	s.files = data
	cache := t.TempDir()
	var out bytes.Buffer
	err := Provide(context.Background(), ProvideOptions{Manifest: m, CacheDir: cache, LocalDirs: []string{t.TempDir()}, Download: true, Progress: &out})
	if err != nil {
		t.Fatal(err)
	}
	checkCached(t, cache, m, data)
	if strings.Count(out.String(), "downloaded from "+s.URL) != 2 || s.hits.Load() != 2 {
		t.Errorf("hits %d, progress:\n%s", s.hits.Load(), out.String())
	}
}

func TestProvidePrefersLocalOverDownload(t *testing.T) {
	s := newServer(t, nil)
	m, data := fakeModels(t, 2, s.URL)
	s.files = data
	cache := t.TempDir()
	if err := Provide(context.Background(), ProvideOptions{Manifest: m, CacheDir: cache, LocalDirs: []string{writeDir(t, data)}, Download: true}); err != nil {
		t.Fatal(err)
	}
	if s.hits.Load() != 0 {
		t.Errorf("%d downloads although a local copy exists", s.hits.Load())
	}
}

func TestProvideDownloadFailures(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(s *server, data map[string][]byte)
		wantIn []string
	}{
		{"wrong bytes", func(s *server, data map[string][]byte) {
			for k, v := range data {
				w := bytes.Clone(v)
				w[0] ^= 1
				s.files[k] = w
			}
		}, []string{"sha256 mismatch", "fake0.onnx", "expected "}},
		{"404", func(s *server, data map[string][]byte) {}, []string{"HTTP 404"}},
		{"wrong length", func(s *server, data map[string][]byte) {
			for k, v := range data {
				s.files[k] = v[:10]
			}
		}, []string{"announces 10 bytes"}},
		{"partial", func(s *server, data map[string][]byte) {
			for k, v := range data {
				s.files[k] = v
			}
			s.partial = true
		}, []string{"unexpected EOF"}},
		{"hang", func(s *server, data map[string][]byte) { s.hang = true }, []string{"deadline exceeded"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, map[string][]byte{})
			m, data := fakeModels(t, 2, s.URL)
			c.setup(s, data)
			cache := t.TempDir()
			local := t.TempDir()
			start := time.Now()
			err := Provide(context.Background(), ProvideOptions{Manifest: m, CacheDir: cache, LocalDirs: []string{local},
				Download: true, Timeout: 300 * time.Millisecond})
			if err == nil {
				t.Fatal("no error")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
			msg := err.Error()
			// Both models fail, and each error lists both attempts.
			for _, w := range append(c.wantIn, "fake0", "fake1", "local dir "+local+": no fake0.onnx", "download "+s.URL+"/files/fake1.onnx") {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not mention %q:\n%s", w, msg)
				}
			}
			if got := cacheFiles(t, cache); len(got) != 0 {
				t.Errorf("cache holds %v after failure", got)
			}
		})
	}
}

func TestProvideCanceled(t *testing.T) {
	m, _ := fakeModels(t, 2, "http://127.0.0.1:1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Provide(ctx, ProvideOptions{Manifest: m, CacheDir: t.TempDir(), Download: true})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestProvideStalePartialRemoved(t *testing.T) {
	cache := t.TempDir()
	m, data := fakeModels(t, 1, "http://127.0.0.1:1")
	os.MkdirAll(ModelsDir(cache), 0o755)
	stale := filepath.Join(ModelsDir(cache), ".fake0.onnx.123.partial")
	fresh := filepath.Join(ModelsDir(cache), ".fake0.onnx.456.partial")
	os.WriteFile(stale, nil, 0o600)
	os.WriteFile(fresh, nil, 0o600)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	if err := Provide(context.Background(), ProvideOptions{Manifest: m, CacheDir: cache, LocalDirs: []string{writeDir(t, data)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("stale partial file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("recent partial file (maybe another run's) removed")
	}
}

// The real models, from the assets staged beside the repository.
func TestProvideRealAssets(t *testing.T) {
	assets := filepath.Join("..", "..", "..", "shared", "assets", "models")
	if _, err := os.Stat(assets); err != nil {
		t.Skipf("no staged assets at %s", assets)
	}
	zoo := filepath.Join(assets, "..", "models-zoo")
	if _, err := os.Stat(zoo); err != nil {
		t.Skipf("no staged model zoo at %s", zoo)
	}
	m := Embedded()
	cache := t.TempDir()
	var out bytes.Buffer
	start := time.Now()
	if err := Provide(context.Background(), ProvideOptions{CacheDir: cache, LocalDirs: []string{assets, zoo}, Progress: &out}); err != nil {
		t.Fatal(err)
	}
	t.Logf("copy: %s\n%s", time.Since(start), out.String())
	for _, e := range m.Models {
		st, err := os.Stat(e.CachePath(cache))
		if err != nil || st.Size() != e.Size {
			t.Errorf("%s: %v", e.Name, err)
		}
	}
	start = time.Now()
	out.Reset()
	if err := Provide(context.Background(), ProvideOptions{CacheDir: cache, Progress: &out}); err != nil {
		t.Fatal(err)
	}
	t.Logf("re-verify of the cache: %s", time.Since(start))
	if strings.Count(out.String(), ": cached,") != len(m.Models) {
		t.Errorf("progress:\n%s", out.String())
	}
	edge, err := m.Resolve(cache, "yolox_nano_416x416")
	if err != nil || filepath.Base(edge) != "yolox_nano_416x416.onnx" {
		t.Errorf("Resolve: %s %v", edge, err)
	}
}
