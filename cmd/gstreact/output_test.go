package main

import (
	"bytes"
	"io"
	"testing"
)

// captureOutput points a command's stdout and stderr writers at buffers
// until the test ends.
func captureOutput(t *testing.T, stdoutVar, stderrVar *io.Writer) (stdout, stderr *bytes.Buffer) {
	t.Helper()
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	oldOut, oldErr := *stdoutVar, *stderrVar
	*stdoutVar, *stderrVar = stdout, stderr
	t.Cleanup(func() { *stdoutVar, *stderrVar = oldOut, oldErr })
	return stdout, stderr
}
