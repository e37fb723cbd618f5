// Package promtext holds the rules of Prometheus's text exposition format
// that gst-react's two /metrics endpoints (the cloud worker's and
// `gstreact run --metrics-addr`) share.
package promtext

import (
	"fmt"
	"io"
	"strings"
)

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// EscapeLabel escapes a label value: backslash, double quote and line feed.
func EscapeLabel(s string) string { return labelEscaper.Replace(s) }

// Header writes a metric's HELP and TYPE lines (typ: counter, gauge, …).
func Header(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}
