package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// DefaultDownloadTimeout bounds one model download (about 3.7 MB each).
const DefaultDownloadTimeout = 5 * time.Minute

// ProvideOptions says which models to provide and from where.
type ProvideOptions struct {
	Manifest *Manifest // nil: Embedded()
	CacheDir string    // "": CacheDir()
	// LocalDirs are searched in order for a file named like the manifest's
	// File (or like the last element of its URL), e.g. "../shared/assets/models".
	LocalDirs []string
	// Download allows fetching a model from its manifest URL when no local
	// dir has it.
	Download   bool
	HTTPClient *http.Client  // nil: NewHTTPClient()
	Timeout    time.Duration // per download; 0: DefaultDownloadTimeout
	Progress   io.Writer     // one line per model; nil: silent
	Names      []string      // model names to provide; empty: all
}

// ProvideError tells why one model could not be provided: every source tried,
// in order, and what went wrong with each.
type ProvideError struct {
	Model    string
	File     string
	Attempts []string
}

func (e *ProvideError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "model %s (%s) could not be provided; tried:", e.Model, e.File)
	for _, a := range e.Attempts {
		b.WriteString("\n  - ")
		b.WriteString(a)
	}
	fmt.Fprintf(&b, "\n  fix: put %s in a folder and pass it with --models-from DIR, or allow downloading with network access", e.File)
	return b.String()
}

// NewHTTPClient returns a client whose connection set-up is bounded, so an
// unreachable host fails within seconds instead of hanging; the whole transfer
// is bounded by the request context. Proxies come from the environment.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 15 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	return &http.Client{Transport: t}
}

// Provide makes sure each selected model is in the cache with the right
// sha256. For each model it uses, in order: the cached file if it verifies;
// a copy from the first local dir that holds a verifying file; a download
// from the manifest URL (if opts.Download). Files are written to a temporary
// name in the cache and renamed into place only after verification, so the
// cache never holds a partial or wrong file. A cached file is re-hashed on
// every run rather than trusted from a stamp: all models together are about
// 15 MB, which hashes in well under a second, and nothing can go stale.
//
// Provide tries every selected model even after a failure, and returns the
// failures joined (each a *ProvideError listing what was tried). An optional
// model that cannot be provided is reported on Progress and is no failure,
// unless it was asked for by name.
func Provide(ctx context.Context, opts ProvideOptions) error {
	m := opts.Manifest
	if m == nil {
		m = Embedded()
	}
	cache := opts.CacheDir
	if cache == "" {
		var err error
		if cache, err = CacheDir(); err != nil {
			return err
		}
	}
	var todo []*Model
	if len(opts.Names) == 0 {
		for i := range m.Models {
			todo = append(todo, &m.Models[i])
		}
	} else {
		for _, n := range opts.Names {
			e, ok := m.Model(n)
			if !ok {
				return fmt.Errorf("unknown model %q; known models: %s", n, strings.Join(m.Names(), ", "))
			}
			todo = append(todo, e)
		}
	}
	dir := ModelsDir(cache)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create the model cache: %w (set %s to a writable directory)", err, EnvCache)
	}
	removeStalePartials(dir)
	p := &provider{opts: opts, cache: cache, dir: dir, out: opts.Progress}
	if p.out == nil {
		p.out = io.Discard
	}
	if p.opts.HTTPClient == nil {
		p.opts.HTTPClient = NewHTTPClient()
	}
	if p.opts.Timeout <= 0 {
		p.opts.Timeout = DefaultDownloadTimeout
	}
	var errs []error
	for _, e := range todo {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		if err := p.one(ctx, e); err != nil {
			if e.Optional && len(opts.Names) == 0 {
				fmt.Fprintf(p.out, "%s: skipped (optional; %s)\n", e.Name, lastAttempt(err))
				continue
			}
			fmt.Fprintf(p.out, "%s: FAILED\n", e.Name)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lastAttempt is the last thing tried for a model, for one-line reports.
func lastAttempt(err error) string {
	var pe *ProvideError
	if errors.As(err, &pe) && len(pe.Attempts) > 0 {
		return pe.Attempts[len(pe.Attempts)-1]
	}
	return err.Error()
}

type provider struct {
	opts  ProvideOptions
	cache string
	dir   string // ModelsDir(cache)
	out   io.Writer
}

func (p *provider) one(ctx context.Context, e *Model) error {
	final := e.CachePath(p.cache)
	perr := &ProvideError{Model: e.Name, File: e.File}

	// 1. Already cached?
	switch size, sum, err := hashFile(final); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		perr.Attempts = append(perr.Attempts, fmt.Sprintf("cache %s: %v", final, err))
	case size == e.Size && sum == e.SHA256:
		fmt.Fprintf(p.out, "%s: cached, %d bytes, sha256 ok: %s\n", e.Name, size, final)
		return nil
	default:
		// A wrong file must not stay where Resolve would hand it out.
		fmt.Fprintf(p.out, "%s: warning: cached %s is wrong (%d bytes, sha256 %s; want %d bytes, %s); replacing it\n",
			e.Name, final, size, sum, e.Size, e.SHA256)
		if err := os.Remove(final); err != nil {
			perr.Attempts = append(perr.Attempts, fmt.Sprintf("remove wrong cached file: %v", err))
			return perr
		}
	}

	// 2. A local directory (an offline copy).
	names := []string{e.File}
	if u, err := url.Parse(e.URL); err == nil {
		if b := path.Base(u.Path); b != e.File && b != "." && b != "/" {
			names = append(names, b)
		}
	}
	for _, d := range p.opts.LocalDirs {
		found := false
		for _, n := range names {
			src := filepath.Join(d, n)
			f, err := os.Open(src)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			found = true
			if err == nil {
				var tmp string
				tmp, err = writeVerified(p.dir, e, f, src)
				f.Close()
				if err == nil {
					if err = install(tmp, final); err == nil {
						fmt.Fprintf(p.out, "%s: copied from %s, %d bytes, sha256 ok: %s\n", e.Name, src, e.Size, final)
						return nil
					}
				}
			}
			fmt.Fprintf(p.out, "%s: warning: %v\n", e.Name, err)
			perr.Attempts = append(perr.Attempts, fmt.Sprintf("local %v", err))
		}
		if !found {
			perr.Attempts = append(perr.Attempts, fmt.Sprintf("local dir %s: no %s there", d, strings.Join(names, " or ")))
		}
	}
	if len(p.opts.LocalDirs) == 0 {
		perr.Attempts = append(perr.Attempts, "local: no directory given (--models-from)")
	}

	// 3. Download.
	if !p.opts.Download {
		perr.Attempts = append(perr.Attempts, "download: disabled (--no-download)")
		return perr
	}
	if e.URL == "" {
		perr.Attempts = append(perr.Attempts, "download: none published (a derived file: put it in a --models-from folder)")
		return perr
	}
	start := time.Now()
	if err := p.download(ctx, e, final); err != nil {
		perr.Attempts = append(perr.Attempts, fmt.Sprintf("download %s: %v (after %s)", e.URL, err, time.Since(start).Round(time.Millisecond)))
		return perr
	}
	fmt.Fprintf(p.out, "%s: downloaded from %s, %d bytes, sha256 ok: %s\n", e.Name, e.URL, e.Size, final)
	return nil
}

func (p *provider) download(ctx context.Context, e *Model, final string) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "gst-react-setup")
	resp, err := p.opts.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	// A size mismatch announced up front (an HTML error page, a Git LFS
	// pointer) fails before anything is written.
	if resp.ContentLength >= 0 && resp.ContentLength != e.Size {
		return fmt.Errorf("server announces %d bytes, want %d", resp.ContentLength, e.Size)
	}
	tmp, err := writeVerified(p.dir, e, resp.Body, e.URL)
	if err != nil {
		return err
	}
	return install(tmp, final)
}

// writeVerified copies r into a temporary file in dir while hashing it, and
// returns the temporary file only if size and sha256 match e. from names the
// source in errors. On any error nothing is left behind.
func writeVerified(dir string, e *Model, r io.Reader, from string) (tmp string, err error) {
	f, err := os.CreateTemp(dir, "."+e.File+".*.partial")
	if err != nil {
		return "", fmt.Errorf("cannot write into the cache: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	// Reading one byte past the expected size detects a too-long source
	// without reading all of it.
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, e.Size+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w (got %d of %d bytes)", from, err, n, e.Size)
	}
	if n != e.Size {
		return "", fmt.Errorf("%s: size mismatch for %s: expected %d bytes, got %d", from, e.File, e.Size, n)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != e.SHA256 {
		return "", fmt.Errorf("%s: sha256 mismatch for %s: expected %s, got %s", from, e.File, e.SHA256, sum)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("cannot write into the cache: %w", err)
	}
	return f.Name(), nil
}

// install moves a verified temporary file into place; rename is atomic
// within a directory, so readers see either no file or the whole file.
func install(tmp, final string) error {
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("cannot install into the cache: %w", err)
	}
	return nil
}

func hashFile(p string) (int64, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return n, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// removeStalePartials deletes temporary files left by a run that was killed
// mid-copy. Only old ones go, so a concurrent run's file is left alone.
func removeStalePartials(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, ".*.partial"))
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && time.Since(st.ModTime()) > time.Hour {
			os.Remove(m)
		}
	}
}
