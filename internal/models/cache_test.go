package models

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheDir(t *testing.T) {
	t.Setenv(EnvCache, "/tmp/gr-cache")
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg")
	if d, _ := CacheDir(); d != "/tmp/gr-cache" {
		t.Errorf("with %s: %s", EnvCache, d)
	}
	t.Setenv(EnvCache, "")
	if d, _ := CacheDir(); d != "/tmp/xdg/gst-react" {
		t.Errorf("with XDG_CACHE_HOME: %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "relative")
	t.Setenv("HOME", "/home/someone")
	if d, _ := CacheDir(); d != "/home/someone/.cache/gst-react" {
		t.Errorf("with HOME only: %s", d)
	}
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	if _, err := CacheDir(); err == nil || !strings.Contains(err.Error(), EnvCache) {
		t.Errorf("without HOME: %v", err)
	}
}

func TestResolve(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(EnvCache, cache)
	m := Embedded()

	// An existing path wins, whatever it is called.
	own := filepath.Join(t.TempDir(), "mine.onnx")
	os.WriteFile(own, []byte("x"), 0o644)
	if p, err := Resolve(own); err != nil || p != own {
		t.Errorf("Resolve(path) = %q, %v", p, err)
	}
	if _, err := Resolve(t.TempDir()); err == nil {
		t.Error("Resolve(directory) succeeded")
	}

	// A known name that is not provided yet says how to provide it.
	_, err := Resolve("yolox_nano_416x416")
	if err == nil || !strings.Contains(err.Error(), "make setup") || !strings.Contains(err.Error(), "not in the cache") {
		t.Errorf("not cached: %v", err)
	}

	// An unknown name lists the known ones.
	_, err = Resolve("yolov99")
	if err == nil || !strings.Contains(err.Error(), "yolox_nano_736x1280") || !strings.Contains(err.Error(), "make setup") {
		t.Errorf("unknown: %v", err)
	}
	if _, err := Resolve(""); err == nil {
		t.Error("empty name accepted")
	}

	// Once cached, the name (or the file name) resolves to the cache path.
	e, _ := m.Model("yolox_nano_416x416")
	os.MkdirAll(ModelsDir(cache), 0o755)
	os.WriteFile(e.CachePath(cache), []byte("x"), 0o644)
	for _, n := range []string{"yolox_nano_416x416", "yolox_nano_416x416.onnx"} {
		if p, err := Resolve(n); err != nil || p != filepath.Join(cache, "models", "yolox_nano_416x416.onnx") {
			t.Errorf("Resolve(%s) = %q, %v", n, p, err)
		}
	}

	edge, err1 := DefaultEdgeModel()
	cloud, err2 := DefaultCloudModel()
	if err1 != nil || err2 != nil || edge != filepath.Join(cache, "models", "yolox_nano_416x416.onnx") ||
		cloud != filepath.Join(cache, "models", "yolox_nano_736x1280.onnx") {
		t.Errorf("defaults: %s %v, %s %v", edge, err1, cloud, err2)
	}
}
