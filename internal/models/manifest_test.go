package models

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The embedded copy must be byte-identical to the canonical models/manifest.json.
func TestEmbeddedManifestMatchesRepoCopy(t *testing.T) {
	repo, err := os.ReadFile(filepath.Join("..", "..", "models", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(repo, embeddedManifest) {
		t.Fatal("internal/models/manifest.json differs from models/manifest.json; copy models/manifest.json over it")
	}
}

func TestEmbeddedManifest(t *testing.T) {
	m := Embedded()
	want := map[string]struct {
		size int64
		w, h int
		role string
	}{
		"yolox_nano_416x416":   {3660092, 416, 416, RoleEdge},
		"yolox_nano_640x640":   {3678227, 640, 640, RoleExtra},
		"yolox_nano_736x1280":  {3678329, 1280, 736, RoleCloud},
		"yolox_nano_1088x1920": {3678430, 1920, 1088, RoleExtra},
		"picodet_s_416":        {4040573, 416, 416, RoleExtra},
		"picodet_s_736x1280":   {4014127, 1280, 736, RoleExtra},
		"picodet_s_1088x1920":  {4014129, 1920, 1088, RoleExtra},
		"nanodet_416":          {3800954, 416, 416, RoleExtra},
		"nanodet_416_int8":     {1031424, 416, 416, RoleExtra},
		"yolov8n_640_int8":     {3504119, 640, 640, RoleExtra},
		"yolov5n_640_fp16":     {4001790, 640, 640, RoleExtra},
	}
	if len(m.Models) != len(want) {
		t.Fatalf("%d models, want %d", len(m.Models), len(want))
	}
	for _, e := range m.Models {
		w, ok := want[e.Name]
		if !ok {
			t.Errorf("unexpected model %q", e.Name)
			continue
		}
		if e.Size != w.size || e.Input.Width != w.w || e.Input.Height != w.h || e.Role != w.role {
			t.Errorf("%s: size %d %dx%d role %s; want %+v", e.Name, e.Size, e.Input.Width, e.Input.Height, e.Role, w)
		}
		if e.Output.Format == FormatYOLOX && (e.Output.NumClasses() != 80 || e.File != e.Name+".onnx") {
			t.Errorf("%s: classes %d file %s", e.Name, e.Output.NumClasses(), e.File)
		}
		if e.Output.Format != FormatYOLOX && (!e.Optional || e.Threshold == 0 || e.Preprocess == "") {
			t.Errorf("%s: a zoo model must be optional and declare its threshold and preprocessing", e.Name)
		}
		if (e.URL != "" || !e.Optional) && (!strings.HasPrefix(e.URL, "https://github.com/") || !strings.Contains(e.URL, "/raw/")) {
			t.Errorf("%s: url %s is not a pinned github raw URL", e.Name, e.URL)
		}
	}
	if e, _ := m.ByRole(RoleEdge); e.Name != "yolox_nano_416x416" {
		t.Errorf("edge model %s", e.Name)
	}
	if e, _ := m.ByRole(RoleCloud); e.Name != "yolox_nano_736x1280" {
		t.Errorf("cloud model %s", e.Name)
	}
	o := m.ONNXRuntime
	if o.Version != "1.24.1" || o.NPM.Package != "onnxruntime-node@1.24.1" || o.NPM.Size != 35057880 ||
		o.NPM.SHA256 != "53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4" ||
		o.Archive.URL != "https://github.com/microsoft/onnxruntime/releases/download/v1.24.1/onnxruntime-linux-x64-1.24.1.tgz" ||
		o.Archive.Member != "onnxruntime-linux-x64-1.24.1/lib/libonnxruntime.so.1.24.1" ||
		o.NPM.Member != "package/bin/napi-v6/linux/x64/libonnxruntime.so.1" {
		t.Errorf("onnxruntime section: %+v", o)
	}
	if a, ok := o.NPM.ForArch("amd64"); !ok || a != o.NPM.ORTMember {
		t.Errorf("ForArch(amd64) = %+v %v, want the top-level member", a, ok)
	}
	arm64 := ORTMember{Member: "package/bin/napi-v6/linux/arm64/libonnxruntime.so.1",
		SHA256: "7954e8bdedb497f830c6a679e818d98399b7f4d81ade1126c3e0be74d28111ab", Size: 18559840}
	if a, ok := o.NPM.ForArch("arm64"); !ok || a != arm64 {
		t.Errorf("ForArch(arm64) = %+v %v, want %+v", a, ok, arm64)
	}
	if a, ok := o.NPM.ForArch("riscv64"); ok {
		t.Errorf("ForArch(riscv64) = %+v, want none", a)
	}
	if got := o.NPM.PinnedArches(); !slices.Equal(got, []string{"amd64", "arm64"}) {
		t.Errorf("PinnedArches() = %v", got)
	}
	// Embedded returns a copy.
	m.Models[0].Name = "changed"
	if Embedded().Models[0].Name == "changed" {
		t.Error("Embedded() shares its manifest")
	}
}

func TestParseManifestErrors(t *testing.T) {
	mutate := func(f func(m *Manifest)) []byte {
		m := Embedded()
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name   string
		data   []byte
		wantIn []string
	}{
		{"short sha", mutate(func(m *Manifest) { m.Models[1].SHA256 = "abc" }), []string{`"yolox_nano_640x640"`, "sha256", "64"}},
		{"upper sha", mutate(func(m *Manifest) { m.Models[1].SHA256 = strings.ToUpper(m.Models[1].SHA256) }), []string{"yolox_nano_640x640", "sha256"}},
		{"zero size", mutate(func(m *Manifest) { m.Models[0].Size = 0 }), []string{"yolox_nano_416x416", "size"}},
		{"dup name", mutate(func(m *Manifest) { m.Models[2].Name = m.Models[0].Name }), []string{"model #3", "yolox_nano_416x416", "twice"}},
		{"dup file", mutate(func(m *Manifest) { m.Models[3].File = m.Models[0].File }), []string{"yolox_nano_1088x1920", "twice"}},
		{"no url", mutate(func(m *Manifest) { m.Models[3].URL = "" }), []string{"yolox_nano_1088x1920", "url"}},
		{"no license", mutate(func(m *Manifest) { m.Models[3].License = "" }), []string{"yolox_nano_1088x1920", "license"}},
		{"path file", mutate(func(m *Manifest) { m.Models[0].File = "../x.onnx" }), []string{"yolox_nano_416x416", "plain file name"}},
		{"bad role", mutate(func(m *Manifest) { m.Models[1].Role = "fog" }), []string{"yolox_nano_640x640", "role"}},
		{"two edges", mutate(func(m *Manifest) { m.Models[1].Role = RoleEdge }), []string{"yolox_nano_640x640", "already taken", "yolox_nano_416x416"}},
		{"bad shape", mutate(func(m *Manifest) { m.Models[1].Output.Shape = []int{1, 3549, 85} }), []string{"yolox_nano_640x640", "8400"}},
		{"format", mutate(func(m *Manifest) { m.Models[1].Output.Format = "ssd" }), []string{"yolox_nano_640x640", "format", "picodet"}},
		{"zoo shape", mutate(func(m *Manifest) { m.Models[4].Output.Shape = []int{1, 0} }), []string{"picodet_s_416", "shape"}},
		{"preprocess", mutate(func(m *Manifest) { m.Models[4].Preprocess = "resize=crop" }), []string{"picodet_s_416", "resize"}},
		{"threshold", mutate(func(m *Manifest) { m.Models[4].Threshold = 2 }), []string{"picodet_s_416", "threshold"}},
		{"no url, not optional", mutate(func(m *Manifest) { m.Models[5].Optional = false }), []string{"picodet_s_736x1280", "url"}},
		{"no models", mutate(func(m *Manifest) { m.Models = nil }), []string{"no models"}},
		{"ort sha", mutate(func(m *Manifest) { m.ONNXRuntime.NPM.SHA256 = "x" }), []string{"onnxruntime", "sha256"}},
		{"ort version", mutate(func(m *Manifest) { m.ONNXRuntime.Version = "" }), []string{"onnxruntime", "version"}},
		{"ort arm64 sha", mutate(func(m *Manifest) { setArch(m, "arm64", func(a *ORTMember) { a.SHA256 = "x" }) }), []string{"onnxruntime", "arches", "arm64", "sha256"}},
		{"ort arm64 size", mutate(func(m *Manifest) { setArch(m, "arm64", func(a *ORTMember) { a.Size = 0 }) }), []string{"onnxruntime", "arm64", "size"}},
		{"ort arm64 member", mutate(func(m *Manifest) { setArch(m, "arm64", func(a *ORTMember) { a.Member = "" }) }), []string{"onnxruntime", "arm64", "member is missing"}},
		{"ort arm64 is x64", mutate(func(m *Manifest) {
			setArch(m, "arm64", func(a *ORTMember) { a.Member = m.ONNXRuntime.NPM.Member })
		}), []string{"onnxruntime", "arm64", "already amd64's"}},
		{"ort amd64 entry", mutate(func(m *Manifest) { m.ONNXRuntime.NPM.Arches["amd64"] = m.ONNXRuntime.NPM.ORTMember }), []string{"arches", "amd64", "top-level"}},
		{"ort bad arch", mutate(func(m *Manifest) { m.ONNXRuntime.NPM.Arches["linux/arm64"] = m.ONNXRuntime.NPM.Arches["arm64"] }), []string{"arches", `"linux/arm64"`, "GOARCH"}},
		{"schema", mutate(func(m *Manifest) { m.Schema = 2 }), []string{"schema"}},
		{"unknown field", []byte(`{"schema":1,"modles":[]}`), []string{"modles"}},
		{"not json", []byte(`{`), []string{"manifest"}},
		{"trailing", append(mutate(func(*Manifest) {}), []byte(" {}")...), []string{"trailing"}},
	}
	for _, c := range cases {
		_, err := ParseManifest(c.data)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.wantIn {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
}

func TestLoadManifest(t *testing.T) {
	m, err := LoadManifest(filepath.Join("..", "..", "models", "manifest.json"))
	if err != nil || len(m.Models) != len(Embedded().Models) {
		t.Fatalf("LoadManifest: %v", err)
	}
	p := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(p, []byte(`{"schema":1}`), 0o644)
	if _, err := LoadManifest(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v should name the file", err)
	}
}

// setArch edits the manifest's npm member for arch (a copy: Embedded's map is its own).
func setArch(m *Manifest, arch string, f func(*ORTMember)) {
	a := m.ONNXRuntime.NPM.Arches[arch]
	f(&a)
	m.ONNXRuntime.NPM.Arches[arch] = a
}
