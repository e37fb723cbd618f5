// Package natsservertest starts real embedded NATS servers and clients for
// tests, shut down and closed when the test ends.
package natsservertest

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/natsserver"
)

// Start starts an embedded server with o (NoLog is the usual choice) and shuts
// it down at cleanup. A test may shut it down or restart it earlier.
func Start(t testing.TB, o natsserver.Options) *natsserver.Server {
	t.Helper()
	s, err := natsserver.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Connect connects a client to url with opts and closes it at cleanup.
func Connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
