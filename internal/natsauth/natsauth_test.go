package natsauth_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gst-react/gst-react/internal/natsauth"
	"github.com/gst-react/gst-react/internal/natsserver"
	"github.com/gst-react/gst-react/internal/natsserver/natsservertest"
)

func TestValidateSaysWhatToFix(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.pem")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, c := range []struct {
		name string
		o    natsauth.Options
		want []string // "" = valid
	}{
		{"zero", natsauth.Options{}, nil},
		{"user+password", natsauth.Options{User: "a", Password: "pw-secret"}, nil},
		{"token", natsauth.Options{Token: "tok-secret"}, nil},
		{"mtls", natsauth.Options{TLSCAFile: file, TLSCertFile: file, TLSKeyFile: file}, nil},
		{"user without password", natsauth.Options{User: "alice"}, []string{`user "alice" is set without a password`, "set password"}},
		{"password without user", natsauth.Options{Password: "pw-secret"}, []string{"password is set without a user"}},
		{"token and user", natsauth.Options{User: "a", Password: "pw-secret", Token: "tok-secret"}, []string{"token is set together with user/password"}},
		{"token and creds", natsauth.Options{Token: "tok-secret", CredsFile: file}, []string{"more than one authentication method"}},
		{"cert without key", natsauth.Options{TLSCertFile: file}, []string{"tls-cert", "without tls-key"}},
		{"key without cert", natsauth.Options{TLSKeyFile: file}, []string{"tls-key", "without tls-cert"}},
		{"missing CA", natsauth.Options{TLSCAFile: missing}, []string{"tls-ca file", missing, "no such file", "existing, readable file"}},
		{"directory creds", natsauth.Options{CredsFile: dir}, []string{"creds file", "is a directory"}},
		{"missing seed", natsauth.Options{NKeySeedFile: missing}, []string{"nkey-seed file"}},
	} {
		err := c.o.Validate()
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.name, err, w)
			}
		}
		if _, err := c.o.NATSOptions(); err == nil {
			t.Errorf("%s: NATSOptions accepted invalid options", c.name)
		}
		for _, sec := range []string{c.o.Password, c.o.Token} {
			if sec != "" && strings.Contains(err.Error(), sec) {
				t.Errorf("%s: error %q shows a secret", c.name, err)
			}
		}
	}
}

func TestRedact(t *testing.T) {
	got := natsauth.Redact("nats://alice:s3cret@a:4222, nats://tok3n@b:4222,nats://c:4222")
	if strings.Contains(got, "s3cret") || strings.Contains(got, "tok3n") || strings.Contains(got, "alice") {
		t.Errorf("Redact left a secret: %s", got)
	}
	if want := "nats://redacted@a:4222,nats://redacted@b:4222,nats://c:4222"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	if got := natsauth.Redact("nats://x:p%zz@h:1"); strings.Contains(got, "p%zz") {
		t.Errorf("Redact of an unparsable URL left the secret: %s", got)
	}
	o := natsauth.Options{Token: "tok3n", Password: "pw"}
	if s := o.String(); strings.Contains(s, "tok3n") || strings.Contains(s, "pw") {
		t.Errorf("String shows a secret: %s", s)
	}
	if s := o.RedactIn("bad tok3n at nats://u:pw@h:1", "nats://u:pw@h:1"); strings.Contains(s, "tok3n") || strings.Contains(s, "pw") {
		t.Errorf("RedactIn left a secret: %s", s)
	}
}

// A real server with token auth over mutual TLS: the right settings connect,
// a wrong token is an authorization violation, a client without the CA
// cannot verify the server (a TLS error), and one without a client
// certificate is turned away.
func TestConnectTokenOverTLS(t *testing.T) {
	certs := natsservertest.WriteCerts(t)
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true, Token: "right-token",
		TLSCertFile: certs.ServerCertFile, TLSKeyFile: certs.ServerKeyFile, TLSCAFile: certs.CAFile, TLSVerify: true})
	connect := func(o natsauth.Options) (*nats.Conn, error) {
		opts, err := o.NATSOptions()
		if err != nil {
			t.Fatal(err)
		}
		return nats.Connect(srv.ClientURL(), append(opts, nats.Timeout(2*time.Second))...)
	}
	good := natsauth.Options{Token: "right-token", TLSCAFile: certs.CAFile, TLSCertFile: certs.ClientCertFile, TLSKeyFile: certs.ClientKeyFile}
	nc, err := connect(good)
	if err != nil {
		t.Fatalf("right settings: %v", err)
	}
	if !nc.TLSRequired() {
		t.Error("connection is not TLS")
	}
	nc.Close()

	bad := good
	bad.Token = "wrong-token"
	if _, err := connect(bad); !natsauth.IsAuthError(err) {
		t.Errorf("wrong token: got %v, want an authorization violation", err)
	}
	noCA := good
	noCA.TLSCAFile = ""
	if nc, err := connect(noCA); err == nil {
		nc.Close()
		t.Error("connected without the CA that signed the server's certificate")
	} else if !natsauth.IsTLSError(err) {
		t.Errorf("without the CA: %v, want a TLS verification error", err)
	}
	noCert := good
	noCert.TLSCertFile, noCert.TLSKeyFile = "", ""
	if nc, err := connect(noCert); err == nil {
		nc.Close()
		t.Error("connected without the client certificate the server verifies")
	}
}

// User and password against a real server: the right pair connects, a wrong
// password is an authorization violation.
func TestConnectUserPassword(t *testing.T) {
	srv := natsservertest.Start(t, natsserver.Options{NoLog: true, Users: map[string]string{"edge-a": "s3cret"}})
	connect := func(o natsauth.Options) error {
		opts, err := o.NATSOptions()
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(srv.ClientURL(), append(opts, nats.Timeout(2*time.Second))...)
		if err == nil {
			nc.Close()
		}
		return err
	}
	if err := connect(natsauth.Options{User: "edge-a", Password: "s3cret"}); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := connect(natsauth.Options{User: "edge-a", Password: "wrong"}); !natsauth.IsAuthError(err) {
		t.Errorf("wrong password: %v, want an authorization violation", err)
	}
	if err := connect(natsauth.Options{}); !natsauth.IsAuthError(err) {
		t.Errorf("no credentials: %v, want an authorization violation", err)
	}
}

// Secrets from the environment fill only what the settings lack, and the
// token never joins another method (Validate would refuse the mix).
func TestFromEnv(t *testing.T) {
	t.Setenv(natsauth.EnvPassword, "env-pass")
	t.Setenv(natsauth.EnvToken, "env-token")
	cases := []struct {
		name string
		in   natsauth.Options
		want natsauth.Options
	}{
		{"nothing set takes the token", natsauth.Options{}, natsauth.Options{Token: "env-token"}},
		{"user takes the password", natsauth.Options{User: "u"}, natsauth.Options{User: "u", Password: "env-pass"}},
		{"given password wins", natsauth.Options{User: "u", Password: "p"}, natsauth.Options{User: "u", Password: "p"}},
		{"given token wins", natsauth.Options{Token: "t"}, natsauth.Options{Token: "t"}},
		{"creds file takes nothing", natsauth.Options{CredsFile: "c"}, natsauth.Options{CredsFile: "c"}},
		{"nkey seed takes nothing", natsauth.Options{NKeySeedFile: "k"}, natsauth.Options{NKeySeedFile: "k"}},
	}
	for _, c := range cases {
		got := c.in
		got.FromEnv()
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
