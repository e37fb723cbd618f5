package reactcloud_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-gst/go-glib/glib"
	"github.com/go-gst/go-gst/gst"

	"github.com/gst-react/gst-react/cloudworker"
	"github.com/gst-react/gst-react/internal/gstvideo"
	"github.com/gst-react/gst-react/internal/natsauth"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
	"github.com/gst-react/gst-react/internal/pipetest"
	"github.com/gst-react/gst-react/internal/runner"
	"github.com/gst-react/gst-react/internal/testassets"
	"github.com/gst-react/gst-react/internal/wire"
)

const token = "s3cret-t0ken-4711"

// secureServer runs an embedded NATS server that requires token and TLS.
func secureServer(t *testing.T) (*natsserver.Server, natsservertest.Certs) {
	t.Helper()
	certs := natsservertest.WriteCerts(t)
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true, Token: token,
		TLSCertFile: certs.ServerCertFile, TLSKeyFile: certs.ServerKeyFile})
	return srv, certs
}

func pipeline(url, extra string) string {
	return pipelineOf(45, url, extra)
}

// pipelineOf is pipeline with n frames; 0 is an endless source, for a run
// that pipetest.RunUntil ends once what it waits for has happened.
func pipelineOf(n int, url, extra string) string {
	if n == 0 {
		n = -1 // videotestsrc's "no limit"
	}
	return fmt.Sprintf(`videotestsrc num-buffers=%d pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! `+
		`reactcloud name=cloud server=%s interval=3 %s ! fakesink name=sink sync=true`, n, url, extra)
}

// The cloud worker and reactcloud both log in with a token over TLS,
// verifying the server against the test CA, and replies come back.
func TestTokenOverTLS(t *testing.T) {
	srv, certs := secureServer(t)
	testassets.InitORT(t)
	w, err := cloudworker.New(cloudworker.Options{
		NATSURL:   srv.ClientURL(),
		Auth:      natsauth.Options{Token: token, TLSCAFile: certs.CAFile},
		ModelPath: testassets.Model(t, "yolox_nano_416x416"),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	waitFor(t, "the worker to connect", func() bool { return w.Stats().Connected })

	// The source is endless and the run ends 30 frames (1 s at the sink's
	// pace) after the worker's first reply: 45 frames (1.5 s) were once
	// all it had, and a TLS handshake plus a cold first inference on one
	// busy core can take longer than that. The request timeout outlasts
	// that cold inference; the minute only catches a hang.
	var out gstvideo.BufferCounter
	stop, eos := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(eos)
		if until(stop, func() bool { return w.Stats().Replies[wire.CodeOK] > 0 }) {
			k := out.Load() + 30
			until(stop, func() bool { return out.Load() >= k })
		}
	}()
	res, err := pipetest.RunUntil(pipelineOf(0, srv.ClientURL(), fmt.Sprintf("token=%s tls-ca-file=%q timeout=30000", token, certs.CAFile)),
		time.Minute, eos, pipetest.Probe{Element: "sink", Pad: "sink", Counter: &out})
	close(stop)
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	replies := 0
	for _, m := range res.Messages {
		if m.Name == "reactcloud-reply" {
			replies++
		}
		if strings.Contains(m.Raw, token) {
			t.Errorf("message shows the token: %s", m.Raw)
		}
	}
	if replies == 0 {
		t.Errorf("no replies over token+TLS; warnings: %v", res.Warnings)
	}
}

// A wrong token: every frame still passes (edge-only) and the warning names
// the authorization violation without showing the token.
func TestWrongTokenWarnsEdgeOnly(t *testing.T) {
	srv, certs := secureServer(t)
	wrong := "wr0ng-t0ken-0815"
	url := strings.Replace(srv.ClientURL(), "nats://", "nats://"+wrong+"@", 1)
	res, err := pipetest.Run(pipeline(url, fmt.Sprintf("token=%s tls-ca-file=%q", wrong, certs.CAFile)),
		time.Minute, pipetest.Probe{Element: "sink", Pad: "sink"})
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("run: %v %s", err, res.ErrorText())
	}
	if n := len(res.Frames["sink.sink"]); n != 45 {
		t.Errorf("%d frames passed, want 45", n)
	}
	warned := 0
	for _, w := range res.Warnings {
		if strings.Contains(strings.ToLower(w), "authorization violation") {
			warned++
		}
		if strings.Contains(w, wrong) || strings.Contains(w, token) {
			t.Errorf("warning shows the token: %s", w)
		}
	}
	for _, m := range res.Messages {
		if strings.Contains(m.Raw, wrong) {
			t.Errorf("message shows the token: %s", m.Raw)
		}
	}
	// Said once: nats.go retries every ReconnectWait, and the engine's own
	// down event carries the same reason.
	if warned != 1 {
		t.Errorf("%d warnings name the authorization violation, want 1; warnings: %q", warned, res.Warnings)
	}
}

// password and token are write-only: their specs are not readable (so
// gst-inspect-1.0 prints no value) and reading them gives nothing back.
func TestSecretsAreWriteOnly(t *testing.T) {
	if err := runner.Init(); err != nil {
		t.Fatal(err)
	}
	el, err := gst.NewElementWithName("reactcloud", "c")
	if err != nil {
		t.Fatal(err)
	}
	const pw = "pa55w0rd-never-shown"
	specs := map[string]*glib.ParamSpec{}
	for _, p := range pipetest.PropertySpecs(el) {
		specs[p.Name()] = p
	}
	for _, name := range []string{"password", "token"} {
		spec := specs[name]
		if spec == nil {
			t.Fatalf("no %s property", name)
		}
		if spec.Flags()&glib.ParameterReadable != 0 {
			t.Errorf("%s is readable", name)
		}
		if err := el.SetProperty(name, pw); err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
		if v, err := el.GetProperty(name); err == nil && v != nil && fmt.Sprint(v) != "" {
			t.Errorf("GetProperty(%s) = %v", name, v)
		}
	}
	if err := el.SetProperty("user", "alice"); err != nil {
		t.Fatal(err)
	}
	if v, _ := el.GetProperty("user"); v != "alice" {
		t.Errorf("user = %v, want alice", v)
	}
}

// until polls cond until it holds (true) or stop is closed (false).
func until(stop <-chan struct{}, cond func() bool) bool {
	for !cond() {
		select {
		case <-stop:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return true
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
