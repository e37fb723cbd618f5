package labels

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The repository's models/coco.names is the file humans and tools read; the Go
// list must match it line by line.
func TestCOCOMatchesModelsFile(t *testing.T) {
	file, err := Load(filepath.Join("..", "..", "models", "coco.names"))
	if err != nil {
		t.Fatal(err)
	}
	got := COCO()
	if len(got) != 80 || len(file) != 80 {
		t.Fatalf("COCO() has %d names, coco.names %d; want 80", len(got), len(file))
	}
	for i := range got {
		if got[i] != file[i] {
			t.Errorf("class %d: COCO() %q, models/coco.names %q", i, got[i], file[i])
		}
	}
	if got[0] != "person" || got[79] != "toothbrush" {
		t.Errorf("unexpected order: first %q last %q", got[0], got[79])
	}
}

func TestCOCOReturnsCopy(t *testing.T) {
	a := COCO()
	a[0] = "changed"
	if COCO()[0] != "person" {
		t.Fatal("COCO() exposes its internal slice")
	}
}

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "labels.txt")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	cases := []struct {
		name, content string
		want          []string
	}{
		{"plain", "a\nb\nc", []string{"a", "b", "c"}},
		{"trailing newline", "a\nb\n", []string{"a", "b"}},
		{"crlf", "a\r\nb c\r\n", []string{"a", "b c"}},
		{"spaces", "  a \n\tb\t\n\n", []string{"a", "b"}},
		{"single", "only", []string{"only"}},
	}
	for _, c := range cases {
		got, err := Load(write(t, c.content))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, content, wantIn string
	}{
		{"empty", "", "empty file"},
		{"blank", " \n\r\n", "empty file"},
		{"hole", "a\n\nb\n", "line 2 is empty"},
		{"crlf hole", "a\r\n \r\nb\r\n", "line 2 is empty"},
	}
	for _, c := range cases {
		p := write(t, c.content)
		_, err := Load(p)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.wantIn) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q should name %q and the file", c.name, err, c.wantIn)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.txt")); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file: %v", err)
	}
}
