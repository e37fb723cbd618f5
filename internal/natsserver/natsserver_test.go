package natsserver_test

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
)

func TestStartRandomPortRequestReply(t *testing.T) {
	s := natsservertest.Start(t, natsserver.Options{NoLog: true})
	if s.Port() <= 0 || s.ClientURL() != "nats://127.0.0.1:"+strconv.Itoa(s.Port()) {
		t.Fatalf("port %d, url %s", s.Port(), s.ClientURL())
	}
	nc := natsservertest.Connect(t, s.ClientURL())
	if _, err := nc.Subscribe("echo", func(m *nats.Msg) { m.Respond(m.Data) }); err != nil {
		t.Fatal(err)
	}
	// Larger than NATS's 1 MiB default: the embedded server allows 8 MiB.
	big := bytes.Repeat([]byte{7}, 3<<20)
	if got := nc.MaxPayload(); got != natsserver.DefaultMaxPayload {
		t.Fatalf("max payload %d, want %d", got, natsserver.DefaultMaxPayload)
	}
	rep, err := nc.Request("echo", big, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rep.Data, big) {
		t.Fatal("echo differs")
	}
}

func TestPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	t0 := time.Now()
	_, err = natsserver.Start(natsserver.Options{Port: port, NoLog: true})
	if err == nil {
		t.Fatal("started on a taken port")
	}
	if !strings.Contains(err.Error(), strconv.Itoa(port)) || !strings.Contains(err.Error(), "pick another port") {
		t.Fatalf("error %q does not name the port and the fix", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("took %s to report a taken port", d)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []natsserver.Options{{Port: -1}, {Port: 70000}, {MaxPayload: -5}, {MaxPayload: 1 << 30},
		{Token: "t", Users: map[string]string{"u": "p"}}, {TLSCertFile: "c.pem"}, {TLSVerify: true}} {
		if _, err := natsserver.Start(o); err == nil {
			t.Errorf("Start(%+v) succeeded", o)
		}
	}
}

func TestRestartSamePortClientsReconnect(t *testing.T) {
	s := natsservertest.Start(t, natsserver.Options{NoLog: true})
	url := s.ClientURL()
	reconnected := make(chan struct{}, 1)
	nc := natsservertest.Connect(t, url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	if _, err := nc.Subscribe("ping", func(m *nats.Msg) { m.Respond([]byte("pong")) }); err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	s.Shutdown() // idempotent
	if s.Running() {
		t.Fatal("running after Shutdown")
	}
	// The port is free again once Shutdown returns: a new server can take it.
	s2, err := natsserver.Start(natsserver.Options{Port: s.Port(), NoLog: true})
	if err != nil {
		t.Fatalf("new server on the old port: %v", err)
	}
	s2.Shutdown()

	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.ClientURL() != url {
		t.Fatalf("URL changed across restart: %s → %s", url, s.ClientURL())
	}
	select {
	case <-reconnected:
	case <-time.After(5 * time.Second):
		t.Fatal("client did not reconnect")
	}
	rep, err := nc.Request("ping", nil, 2*time.Second)
	if err != nil || string(rep.Data) != "pong" {
		t.Fatalf("after restart: %v %v (subscription not restored?)", rep, err)
	}
}

func TestJetStream(t *testing.T) {
	s := natsservertest.Start(t, natsserver.Options{NoLog: true, StoreDir: t.TempDir()})
	nc := natsservertest.Connect(t, s.ClientURL())
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish("t.1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if si, err := js.StreamInfo("T"); err != nil || si.State.Msgs != 1 {
		t.Fatalf("stream info %+v, %v", si, err)
	}
}
