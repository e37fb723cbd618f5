// Package testassets finds what tests need outside the repository: the shared
// assets folder, cached models and ONNX Runtime. It has no GStreamer in it, so
// packages that do not use GStreamer can take it without linking it.
package testassets

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/onnx"
	"github.com/gst-react/gst-react/internal/ortlib"
)

// ModuleRoot is the folder holding go.mod, found from the working directory.
func ModuleRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// SharedAssets is ../shared/assets beside the checkout (or $GSTREACT_ASSETS).
// Tests that need it fail with a hint when it is missing: CI always has it.
func SharedAssets(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("GSTREACT_ASSETS")
	if dir == "" {
		dir = filepath.Join(ModuleRoot(), "..", "shared", "assets")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared assets not found at %s (set GSTREACT_ASSETS)", dir)
	}
	return dir
}

// Model resolves a manifest model name in the cache, failing with the set-up hint.
func Model(t testing.TB, name string) string {
	t.Helper()
	p, err := models.Resolve(name)
	if err != nil {
		t.Fatalf("model %s: %v", name, err)
	}
	return p
}

// InitORT loads ONNX Runtime from the cache (failing with the set-up hint).
func InitORT(t testing.TB) {
	t.Helper()
	lib, err := ortlib.Locate()
	if err == nil {
		err = onnx.Init(lib)
	}
	if err != nil {
		t.Fatalf("ONNX Runtime: %v", err)
	}
}

// ZooModel resolves a manifest model that may be missing from the cache (the
// optional zoo models): the cached file, else the file in the shared assets'
// models-zoo folder when its size matches the manifest. Tests skip without it.
func ZooModel(t testing.TB, name string) string {
	t.Helper()
	if p, err := models.Resolve(name); err == nil {
		return p
	}
	e, ok := models.Embedded().Model(name)
	if !ok {
		t.Fatalf("model %s is not in the manifest", name)
	}
	p := filepath.Join(SharedAssets(t), "models-zoo", e.File)
	if st, err := os.Stat(p); err != nil || st.Size() != e.Size {
		t.Skipf("model %s: not in the cache and no %s of %d bytes in the shared assets (run `gstreact setup --models-from ../shared/assets/models-zoo`)", name, p, e.Size)
	}
	return p
}
