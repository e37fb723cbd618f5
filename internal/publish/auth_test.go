package publish

import (
	"strings"
	"testing"
	"time"

	"github.com/gst-react/gst-react/internal/natsauth"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
)

// Token auth over TLS publishes; a wrong token is reported as the server's
// refusal (authorization violation) without the token, and records wait.
func TestAuthTokenOverTLS(t *testing.T) {
	certs := natsservertest.WriteCerts(t)
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true, Token: "good-t0ken-123",
		TLSCertFile: certs.ServerCertFile, TLSKeyFile: certs.ServerKeyFile})

	c := DefaultConfig()
	c.Server, c.StreamID = srv.ClientURL(), "camA"
	c.Auth = natsauth.Options{Token: "good-t0ken-123", TLSCAFile: certs.CAFile}
	p := newPub(t, c)
	p.Offer(record(t, "camA", 1))
	waitFor(t, "a record published over token+TLS", 5*time.Second, func() bool { return p.Stats().Published == 1 })

	c.Auth.Token = "bad-t0ken-456"
	c.StreamID = "camB"
	bad := newPub(t, c)
	ev := nextEvent(t, bad, EventDown, 5*time.Second)
	for !strings.Contains(strings.ToLower(ev.Reason), "authorization violation") {
		ev = nextEvent(t, bad, EventDown, 5*time.Second)
	}
	if strings.Contains(ev.Reason, "bad-t0ken-456") {
		t.Errorf("reason shows the token: %s", ev.Reason)
	}

	c.Auth = natsauth.Options{User: "alice"}
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), "without a password") {
		t.Errorf("user without password: %v", err)
	}
}
