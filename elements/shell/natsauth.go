package shell

import (
	"github.com/go-gst/go-glib/glib"

	"github.com/gst-react/gst-react/internal/natsauth"
)

// secretFlags make a property write-only: gst-inspect-1.0 and g_object_get
// never show a password or token.
const secretFlags = glib.ParameterWritable | MutableReady

// NATSAuthProps are the NATS credential and TLS properties (user, password, token,
// creds-file, nkey-seed-file, tls-ca-file, tls-cert-file, tls-key-file) of an
// element whose settings S hold a natsauth.Options (reactcloud,
// reactpublish). password and token are write-only.
func NATSAuthProps[S any](auth func(*S) *natsauth.Options) []Prop[S] {
	str := func(name, nick, blurb string, field func(*natsauth.Options) *string) Prop[S] {
		return P(glib.NewStringParam(name, nick, blurb, Ptr(""), ReadWriteReady),
			func(s *S) any { return *field(auth(s)) },
			func(s *S, v any) { *field(auth(s)) = v.(string) })
	}
	secret := func(name, nick, blurb string, field func(*natsauth.Options) *string) Prop[S] {
		return P(glib.NewStringParam(name, nick, blurb, nil, secretFlags),
			func(*S) any { return "" }, // never read back; GLib does not ask for a write-only property anyway
			func(s *S, v any) { *field(auth(s)) = v.(string) })
	}
	return []Prop[S]{
		str("user", "NATS user", "User name to log in to NATS with (needs password)",
			func(o *natsauth.Options) *string { return &o.User }),
		secret("password", "NATS password", "Password of user (write-only: never shown or read back)",
			func(o *natsauth.Options) *string { return &o.Password }),
		secret("token", "NATS token", "Token to log in to NATS with, instead of user/password (write-only: never shown or read back)",
			func(o *natsauth.Options) *string { return &o.Token }),
		str("creds-file", "NATS credentials file", "NATS .creds file (user JWT and NKey seed) to log in with",
			func(o *natsauth.Options) *string { return &o.CredsFile }),
		str("nkey-seed-file", "NKey seed file", "File holding an NKey user seed (SU...) to log in with",
			func(o *natsauth.Options) *string { return &o.NKeySeedFile }),
		str("tls-ca-file", "TLS CA file", "PEM CA bundle to verify the NATS server's certificate with; setting any tls-* file requires TLS",
			func(o *natsauth.Options) *string { return &o.TLSCAFile }),
		str("tls-cert-file", "TLS client certificate", "PEM client certificate for mutual TLS (needs tls-key-file)",
			func(o *natsauth.Options) *string { return &o.TLSCertFile }),
		str("tls-key-file", "TLS client key", "PEM private key of tls-cert-file",
			func(o *natsauth.Options) *string { return &o.TLSKeyFile }),
	}
}
