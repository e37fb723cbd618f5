package frame

import (
	"strings"
	"testing"
)

// The caps list the elements advertise, ParseFormat and Formats must agree:
// a format added to one and not the others would negotiate and then fail.
func TestFormatsMatchCapsList(t *testing.T) {
	var names []string
	for _, f := range Formats() {
		names = append(names, f.String())
		if g, err := ParseFormat(f.String()); err != nil || g != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), g, err)
		}
	}
	if got := "{ " + strings.Join(names, ", ") + " }"; got != CapsFormatList {
		t.Fatalf("Formats() gives %s, CapsFormatList is %s", got, CapsFormatList)
	}
	if _, err := ParseFormat("YUY2"); err == nil || !strings.Contains(err.Error(), CapsFormatList) {
		t.Fatalf("ParseFormat(YUY2) error %v, want the supported list", err)
	}
}
