package offload

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// ReconnectWait is the pause between reconnection attempts to NATS.
const ReconnectWait = 500 * time.Millisecond

// Connect opens a NATS connection that never gives up: when the server is not
// there yet it keeps trying in the background (the returned connection is then
// reconnecting, and the engine counts skipped offloads), and after a loss it
// reconnects forever. Publishes are not buffered while disconnected: a frame
// is worth sending only now. state, when not nil, is told about every
// connect, disconnect and reconnect (pass it on to Engine.SetConnected).
// extra options (credentials, TLS) are applied after these.
func Connect(url, name string, state func(up bool, reason string), extra ...nats.Option) (*nats.Conn, error) {
	if state == nil {
		state = func(bool, string) {}
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(ReconnectWait),
		nats.ReconnectBufSize(-1),
		nats.ConnectHandler(func(*nats.Conn) { state(true, "") }),
		nats.ReconnectHandler(func(*nats.Conn) { state(true, "") }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			reason := "lost the connection to the NATS server"
			if err != nil {
				reason += ": " + err.Error()
			}
			state(false, reason)
		}),
		nats.ClosedHandler(func(*nats.Conn) { state(false, "the NATS connection was closed") }),
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to NATS at %s: %w (check the URL; with no server, gstreact run starts an embedded one)", url, err)
	}
	return nc, nil
}
