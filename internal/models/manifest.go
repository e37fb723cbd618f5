// Package models knows which ONNX models gst-react uses, where they come from
// and where they live on disk. It reads the model manifest, resolves a model
// name or path to a file, and provides the files into a per-user cache: from a
// local directory (an offline copy) or by download, always checking sha256.
//
// The canonical manifest is models/manifest.json at the repository root, for
// humans and tools. This package embeds an identical copy, manifest.json in
// its own directory, because go:embed cannot reach a parent directory; a test
// fails if the two files differ, so edit one and copy it over the other.
package models

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gst-react/gst-react/internal/preprocess"
	"github.com/gst-react/gst-react/internal/yolo"
)

//go:embed manifest.json
var embeddedManifest []byte

// Roles of a model in the REACT pipeline.
const (
	RoleEdge  = "edge"  // small, fast detector run on every frame
	RoleCloud = "cloud" // larger input, run on the frames sent to the cloud
	RoleExtra = "extra" // provided, but not a default
)

// FormatYOLOX is the raw YOLOX head: rows [dx, dy, log_w, log_h, obj, classes...]
// over the stride 8, 16 and 32 grids, without NMS. The other formats are the
// yolo package's layout names: yolov8, yolov5, picodet, nanodet, detr, e2e.
const FormatYOLOX = "yolox"

// Manifest lists the models gst-react can provide and the ONNX Runtime build
// it needs.
type Manifest struct {
	Schema      int         `json:"schema"`
	Models      []Model     `json:"models"`
	ONNXRuntime ONNXRuntime `json:"onnxruntime"`
}

// Model is one ONNX model file and what a caller needs to run it.
type Model struct {
	Name    string `json:"name"`   // short name used on the command line
	File    string `json:"file"`   // file name in the cache and in local dirs
	URL     string `json:"url"`    // official download location, pinned to a commit
	SHA256  string `json:"sha256"` // lowercase hex
	Size    int64  `json:"size"`   // bytes
	Input   Input  `json:"input"`
	Output  Output `json:"output"`
	Role    string `json:"role"` // RoleEdge, RoleCloud or RoleExtra
	License string `json:"license"`
	Source  string `json:"source"`
	// Preprocess is what the model wants beyond its format's reference
	// preprocessing, in preprocess.ParseSpec's form; empty: the reference.
	Preprocess string `json:"preprocess,omitempty"`
	// Threshold is the model's default score threshold (score scales differ
	// by family); 0: the decoder's default.
	Threshold float32 `json:"threshold,omitempty"`
	// Optional models may be missing: set-up reports them and goes on (the
	// model zoo beside the defaults; files with no download URL).
	Optional bool `json:"optional,omitempty"`
}

// Input is the model's single image input, NCHW [1,3,Height,Width]; the size
// also fixes a dynamic input.
type Input struct {
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// Output is the model's detection output (its first, for multi-output heads).
type Output struct {
	Name   string `json:"name"`
	Format string `json:"format"`          // FormatYOLOX or another yolo layout name
	Shape  []int  `json:"shape,omitempty"` // e.g. [1, 3549, 85]; fixes a dynamic first output
}

// NumClasses is the number of class scores per output row (80 for COCO) of a
// YOLOX head, and 0 for formats whose shape does not say.
func (o Output) NumClasses() int {
	if len(o.Shape) != 3 || o.Format != FormatYOLOX {
		return 0
	}
	return o.Shape[2] - 5
}

// Layout is the output format as a decoder layout.
func (o Output) Layout() yolo.Layout {
	l, _ := yolo.ParseLayout(o.Format)
	return l
}

// ONNXRuntime pins the ONNX Runtime shared library and where to get it.
type ONNXRuntime struct {
	Version string     `json:"version"`
	Archive ORTArchive `json:"archive"`
	NPM     ORTNPM     `json:"npm"`
	License string     `json:"license"`
}

// ORTArchive is Microsoft's official release archive (.tgz) and the library's
// path inside it. Microsoft publishes no checksum for the member, so none is
// pinned; the library is checked for its ELF type and version instead.
type ORTArchive struct {
	URL    string `json:"url"`
	Member string `json:"member"`
}

// ORTNPM is the npm package that ships the same official build: the linux/amd64
// library's path inside the packed .tgz and its pinned checksum (the embedded
// ORTMember, kept at the top level as it always was), and, in Arches, the
// libraries the same package carries for other Linux architectures, keyed by
// GOARCH ("arm64").
type ORTNPM struct {
	Package string `json:"package"` // name@version for `npm pack`
	ORTMember
	Arches map[string]ORTMember `json:"arches,omitempty"`
}

// ORTMember is one library inside the npm package, pinned by size and sha256.
type ORTMember struct {
	Member string `json:"member"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// ForArch returns the pinned linux library for goarch (a GOARCH value): the
// top-level member for amd64, else the one in Arches. ok is false when the
// package has no pinned library for goarch.
func (n ORTNPM) ForArch(goarch string) (m ORTMember, ok bool) {
	if goarch == "amd64" {
		return n.ORTMember, true
	}
	m, ok = n.Arches[goarch]
	return m, ok
}

// PinnedArches lists the GOARCH values ForArch knows, amd64 first.
func (n ORTNPM) PinnedArches() []string {
	arches := []string{"amd64"}
	for a := range n.Arches {
		arches = append(arches, a)
	}
	slices.Sort(arches[1:])
	return arches
}

// Embedded returns the manifest compiled into the binary (a fresh copy each
// call, so callers may modify it). It panics if that manifest is invalid,
// which the package tests rule out.
func Embedded() *Manifest {
	m, err := ParseManifest(embeddedManifest)
	if err != nil {
		panic("models: embedded manifest.json is invalid: " + err.Error())
	}
	return m
}

// LoadManifest reads and validates a manifest file.
func LoadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseManifest decodes and validates a manifest. Unknown fields are errors,
// so a misspelt key is caught instead of silently ignored.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("manifest: trailing data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks that every field is present and plausible. Errors name the
// offending entry.
func (m *Manifest) Validate() error {
	if m.Schema != 1 {
		return fmt.Errorf("manifest: schema %d is not supported (want 1)", m.Schema)
	}
	if len(m.Models) == 0 {
		return fmt.Errorf("manifest: no models")
	}
	names := map[string]bool{}
	files := map[string]bool{}
	roles := map[string]string{}
	for i, e := range m.Models {
		if err := e.validate(); err != nil {
			return fmt.Errorf("manifest: model #%d %q: %w", i+1, e.Name, err)
		}
		if names[e.Name] {
			return fmt.Errorf("manifest: model #%d: name %q is used twice", i+1, e.Name)
		}
		if files[e.File] {
			return fmt.Errorf("manifest: model #%d %q: file %q is used twice", i+1, e.Name, e.File)
		}
		names[e.Name], files[e.File] = true, true
		if e.Role != RoleExtra {
			if prev, ok := roles[e.Role]; ok {
				return fmt.Errorf("manifest: model #%d %q: role %q is already taken by %q (at most one default per role)", i+1, e.Name, e.Role, prev)
			}
			roles[e.Role] = e.Name
		}
	}
	if err := m.ONNXRuntime.validate(); err != nil {
		return fmt.Errorf("manifest: onnxruntime: %w", err)
	}
	return nil
}

func (e *Model) validate() error {
	switch {
	case e.Name == "":
		return fmt.Errorf("name is missing")
	case strings.ContainsAny(e.Name, `/\ `):
		return fmt.Errorf("name must not contain slashes or spaces")
	case e.File == "":
		return fmt.Errorf("file is missing")
	case e.File != filepath.Base(e.File) || e.File == "." || e.File == ".." || strings.Contains(e.File, `\`):
		return fmt.Errorf("file %q must be a plain file name", e.File)
	case e.Size <= 0:
		return fmt.Errorf("size %d must be > 0", e.Size)
	case e.License == "":
		return fmt.Errorf("license is missing")
	case e.Source == "":
		return fmt.Errorf("source is missing")
	case e.Input.Name == "" || e.Output.Name == "":
		return fmt.Errorf("input or output name is missing")
	case e.Input.Width <= 0 || e.Input.Height <= 0:
		return fmt.Errorf("input size %dx%d must be positive", e.Input.Width, e.Input.Height)
	}
	if err := checkSHA256(e.SHA256); err != nil {
		return err
	}
	if e.URL != "" || !e.Optional { // an optional model may come only from a local folder
		if err := checkURL(e.URL); err != nil {
			return err
		}
	}
	if e.Preprocess != "" {
		if _, err := preprocess.ParseSpec(e.Preprocess, preprocess.DefaultSpec()); err != nil {
			return err
		}
	}
	if !(e.Threshold >= 0 && e.Threshold <= 1) {
		return fmt.Errorf("threshold %v must be in [0, 1] (0: the decoder's default)", e.Threshold)
	}
	if !slices.Contains([]string{RoleEdge, RoleCloud, RoleExtra}, e.Role) {
		return fmt.Errorf("role %q must be %q, %q or %q", e.Role, RoleEdge, RoleCloud, RoleExtra)
	}
	if l, err := yolo.ParseLayout(e.Output.Format); err != nil || l.String() != e.Output.Format {
		return fmt.Errorf("output format %q is not supported (want one of: %s)", e.Output.Format, yolo.Layouts)
	}
	sh := e.Output.Shape
	if e.Output.Format != FormatYOLOX {
		if len(sh) != 0 && (len(sh) != 3 || slices.Min(sh) < 1) {
			return fmt.Errorf("output shape %v must be [1, rows, values] or left out", sh)
		}
		return nil
	}
	// The YOLOX head has one row per grid cell of strides 8, 16 and 32; a shape
	// that disagrees with the input size means a wrong input or shape entry.
	rows := 0
	for _, s := range []int{8, 16, 32} {
		rows += (e.Input.Height / s) * (e.Input.Width / s)
	}
	if len(sh) != 3 || sh[0] != 1 || sh[1] != rows || sh[2] <= 5 {
		return fmt.Errorf("output shape %v does not fit a YOLOX head for a %dx%d input (want [1, %d, 5+classes])",
			sh, e.Input.Width, e.Input.Height, rows)
	}
	return nil
}

func (o *ONNXRuntime) validate() error {
	switch {
	case o.Version == "":
		return fmt.Errorf("version is missing")
	case o.Archive.Member == "" || o.NPM.Member == "":
		return fmt.Errorf("archive or npm member is missing")
	case o.NPM.Package == "":
		return fmt.Errorf("npm package is missing")
	case o.NPM.Size <= 0:
		return fmt.Errorf("npm size %d must be > 0", o.NPM.Size)
	case o.License == "":
		return fmt.Errorf("license is missing")
	}
	if err := checkURL(o.Archive.URL); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := checkSHA256(o.NPM.SHA256); err != nil {
		return fmt.Errorf("npm: %w", err)
	}
	members := map[string]string{o.NPM.Member: "amd64"}
	for _, arch := range o.NPM.PinnedArches()[1:] {
		m := o.NPM.Arches[arch]
		switch {
		case arch == "amd64":
			return fmt.Errorf("npm arches: amd64 is the top-level member, not an entry of arches")
		case arch == "" || strings.ToLower(arch) != arch || strings.ContainsAny(arch, "/ "):
			return fmt.Errorf("npm arches: %q is not a GOARCH value (e.g. arm64)", arch)
		case m.Member == "":
			return fmt.Errorf("npm arches: %s: member is missing", arch)
		case m.Size <= 0:
			return fmt.Errorf("npm arches: %s: size %d must be > 0", arch, m.Size)
		}
		if prev, ok := members[m.Member]; ok {
			return fmt.Errorf("npm arches: %s: member %s is already %s's", arch, m.Member, prev)
		}
		members[m.Member] = arch
		if err := checkSHA256(m.SHA256); err != nil {
			return fmt.Errorf("npm arches: %s: %w", arch, err)
		}
	}
	return nil
}

func checkSHA256(s string) error {
	if len(s) != 64 || strings.ToLower(s) != s {
		return fmt.Errorf("sha256 %q must be 64 lowercase hex digits", s)
	}
	if _, err := hex.DecodeString(s); err != nil {
		return fmt.Errorf("sha256 %q must be 64 lowercase hex digits", s)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("url %q must be an absolute http(s) URL", s)
	}
	return nil
}

// Model returns the entry whose Name or File equals name.
func (m *Manifest) Model(name string) (*Model, bool) {
	for i := range m.Models {
		if m.Models[i].Name == name || m.Models[i].File == name {
			return &m.Models[i], true
		}
	}
	return nil, false
}

// ForFile is the entry a model file was provided from: the one whose File is
// the path's base name and whose Size the file has. A renamed or different
// file has none, and runs on what its outputs say alone.
func (m *Manifest) ForFile(path string) (*Model, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, false
	}
	base := filepath.Base(path)
	for i := range m.Models {
		if m.Models[i].File == base && m.Models[i].Size == st.Size() {
			return &m.Models[i], true
		}
	}
	return nil, false
}

// ByRole returns the entry with the given role (RoleEdge or RoleCloud).
func (m *Manifest) ByRole(role string) (*Model, bool) {
	for i := range m.Models {
		if m.Models[i].Role == role {
			return &m.Models[i], true
		}
	}
	return nil, false
}

// Names lists the model names in manifest order.
func (m *Manifest) Names() []string {
	out := make([]string, len(m.Models))
	for i, e := range m.Models {
		out[i] = e.Name
	}
	return out
}
