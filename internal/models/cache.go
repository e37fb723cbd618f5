package models

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvCache overrides the cache directory (useful for CI and tests).
const EnvCache = "GSTREACT_CACHE"

// SetupHint is what every "not there" error tells the user to do.
const SetupHint = "run `make setup` (or `gstreact setup`; add `--models-from DIR` to copy the .onnx files from a local folder instead of downloading)"

// CacheDir is where gst-react keeps downloaded files: $GSTREACT_CACHE if set,
// else $XDG_CACHE_HOME/gst-react, else ~/.cache/gst-react. Models live in
// <cache>/models, ONNX Runtime in <cache>/onnxruntime/<version>. The directory
// is not created here.
func CacheDir() (string, error) {
	if d := os.Getenv(EnvCache); d != "" {
		return filepath.Abs(d)
	}
	// The XDG spec says to ignore a relative XDG_CACHE_HOME.
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "gst-react"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", fmt.Errorf("cannot find a cache directory (no $HOME); set %s to a writable directory", EnvCache)
	}
	return filepath.Join(home, ".cache", "gst-react"), nil
}

// ModelsDir is <cacheDir>/models.
func ModelsDir(cacheDir string) string { return filepath.Join(cacheDir, "models") }

// CachePath is where e lives in the cache rooted at cacheDir.
func (e *Model) CachePath(cacheDir string) string {
	return filepath.Join(ModelsDir(cacheDir), e.File)
}

// Resolve turns a command-line model argument into a file path, using the
// embedded manifest and CacheDir. See Manifest.Resolve.
func Resolve(nameOrPath string) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	return Embedded().Resolve(cache, nameOrPath)
}

// Resolve turns nameOrPath into a model file: an existing file path is
// returned as is (so any ONNX file can be used); otherwise a model name (or
// file name) from m resolves to its file in the cache at cacheDir. Errors say
// whether the model is unknown or just not provided yet, and how to fix it.
func (m *Manifest) Resolve(cacheDir, nameOrPath string) (string, error) {
	if nameOrPath == "" {
		return "", fmt.Errorf("no model given; known models: %s", strings.Join(m.Names(), ", "))
	}
	if st, err := os.Stat(nameOrPath); err == nil {
		if st.IsDir() {
			return "", fmt.Errorf("model %q is a directory, not an .onnx file", nameOrPath)
		}
		return nameOrPath, nil
	}
	e, ok := m.Model(nameOrPath)
	if !ok {
		return "", fmt.Errorf("model %q: no such file, and not a known model name (known: %s); "+
			"give an .onnx path or a known name, and %s", nameOrPath, strings.Join(m.Names(), ", "), SetupHint)
	}
	p := e.CachePath(cacheDir)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("model %q is not in the cache (%s); %s", e.Name, p, SetupHint)
		}
		return "", fmt.Errorf("model %q: %w", e.Name, err)
	}
	return p, nil
}

// DefaultEdgeModel is the cache path of the manifest's edge model, whether or
// not it has been provided yet (Resolve or Provide tells that).
func DefaultEdgeModel() (string, error) { return defaultFor(RoleEdge) }

// DefaultCloudModel is the cache path of the manifest's cloud model.
func DefaultCloudModel() (string, error) { return defaultFor(RoleCloud) }

func defaultFor(role string) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	e, ok := Embedded().ByRole(role)
	if !ok {
		return "", fmt.Errorf("the manifest has no %s model", role)
	}
	return e.CachePath(cache), nil
}
