package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gst-react/gst-react/internal/models"
	"github.com/gst-react/gst-react/internal/ortlib"
)

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// resolveModel accepts a path or a manifest model name.
func resolveModel(nameOrPath string) (string, error) { return models.Resolve(nameOrPath) }

func runModels(_ context.Context, args []string) error {
	fs := flag.NewFlagSet("models", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cache, err := models.CacheDir()
	if err != nil {
		return err
	}
	m := models.Embedded()
	fmt.Printf("cache: %s\n", cache)
	for i := range m.Models {
		e := &m.Models[i]
		state := "missing"
		if _, err := os.Stat(e.CachePath(cache)); err == nil {
			state = "cached"
		}
		thr := "0.3"
		if e.Threshold > 0 {
			thr = strconv.FormatFloat(float64(e.Threshold), 'g', -1, 32)
		}
		licence := shortLicence(e.License)
		fmt.Printf("  %-22s %-6s %4dx%-4d  %-8s thr %-5s %-7s %-10s %s\n", e.Name, e.Role, e.Input.Width, e.Input.Height,
			e.Output.Format, thr, state, licence, e.CachePath(cache))
	}
	if p, err := ortlib.Locate(); err == nil {
		fmt.Printf("onnxruntime: %s\n", p)
	} else {
		fmt.Printf("onnxruntime: missing (%v)\n", err)
	}
	return nil
}

// shortLicence is the first licence id the manifest's licence text names
// (it leads with it, or with what the weights are under), for one-line listings.
func shortLicence(text string) string {
	best, at := "see manifest", len(text)
	for _, id := range []string{"Apache-2.0", "AGPL-3.0", "GPL-3.0", "MIT", "ISC", "BSD"} {
		if i := strings.Index(text, id); i >= 0 && i < at {
			best, at = id, i
		}
	}
	return best
}

func runSetup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	var from multiFlag
	fs.Var(&from, "models-from", "local folder holding the .onnx files (repeatable); checked before downloading")
	ortLib := fs.String("ort-lib", os.Getenv(ortlib.EnvLib), "use this libonnxruntime.so (>= 1.24) or onnxruntime .tgz instead of fetching one")
	noDownload := fs.Bool("no-download", false, "never download; only use --models-from and --ort-lib")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for i, d := range from {
		if abs, err := filepath.Abs(d); err == nil {
			from[i] = abs
		}
	}
	cache, err := models.CacheDir()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "gst-react cache: %s\n", cache)
	errModels := models.Provide(ctx, models.ProvideOptions{
		CacheDir: cache, LocalDirs: from, Download: !*noDownload, Progress: os.Stderr,
	})
	lib, errORT := ortlib.Provide(ctx, ortlib.ProvideOptions{
		CacheDir: cache, LibPath: *ortLib, Download: !*noDownload, Progress: os.Stderr,
	})
	if errModels != nil || errORT != nil {
		if errModels != nil {
			fmt.Fprintf(os.Stderr, "models: %v\n", errModels)
		}
		if errORT != nil {
			fmt.Fprintf(os.Stderr, "onnxruntime: %v\n", errORT)
		}
		return fmt.Errorf("set-up incomplete (see above)")
	}
	fmt.Fprintf(os.Stderr, "set-up complete: models in %s, ONNX Runtime %s\n", models.ModelsDir(cache), lib)
	return nil
}
