// Package natsauth turns gst-react's NATS credential and TLS settings (the
// same on reactcloud, reactpublish and the cloud worker) into nats.go options,
// checking them first so a mistake is reported with what to fix rather than as
// a connection that never comes up. It also redacts credentials from URLs for
// logs and messages. See SECURITY.md for the deployment side.
package natsauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// Environment variables the cloud worker reads a secret from when its flag is
// empty, so secrets need not be on the command line.
const (
	EnvPassword = "GSTREACT_NATS_PASSWORD"
	EnvToken    = "GSTREACT_NATS_TOKEN"
)

// Options are the credentials and TLS files of one NATS client. The zero value
// means no authentication and TLS only when the server requires it (verified
// against the system's roots).
type Options struct {
	User     string // user name; needs Password
	Password string // password of User (secret)
	Token    string // token authentication (secret); not together with User

	CredsFile    string // NATS .creds file (user JWT + NKey seed)
	NKeySeedFile string // file holding an NKey seed (SU...)

	TLSCAFile   string // PEM CA bundle to verify the server with; enables TLS
	TLSCertFile string // PEM client certificate (mutual TLS); needs TLSKeyFile
	TLSKeyFile  string // PEM key of TLSCertFile
}

// TLS reports whether a TLS file is configured.
func (o Options) TLS() bool { return o.TLSCAFile != "" || o.TLSCertFile != "" || o.TLSKeyFile != "" }

// String describes o without its secrets, for logs.
func (o Options) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("user", o.User)
	if o.Password != "" {
		parts = append(parts, "password=<set>")
	}
	if o.Token != "" {
		parts = append(parts, "token=<set>")
	}
	add("creds", o.CredsFile)
	add("nkey-seed", o.NKeySeedFile)
	add("tls-ca", o.TLSCAFile)
	add("tls-cert", o.TLSCertFile)
	add("tls-key", o.TLSKeyFile)
	if len(parts) == 0 {
		return "no authentication"
	}
	return strings.Join(parts, " ")
}

// Validate reports every problem in o, naming the setting (property and flag
// names are the same: user, password, token, creds-file/creds,
// nkey-seed-file/nkey-seed, tls-ca-file/tls-ca, tls-cert-file/tls-cert,
// tls-key-file/tls-key) and what to do.
func (o Options) Validate() error {
	var errs []error
	methods := 0
	if o.User != "" || o.Password != "" {
		methods++
	}
	if o.Token != "" {
		methods++
	}
	if o.CredsFile != "" {
		methods++
	}
	if o.NKeySeedFile != "" {
		methods++
	}
	switch {
	case o.User != "" && o.Password == "":
		errs = append(errs, fmt.Errorf("user %q is set without a password: set password too (or use token, creds or an nkey seed instead)", o.User))
	case o.User == "" && o.Password != "":
		errs = append(errs, errors.New("password is set without a user: set user too (for a single secret use token)"))
	}
	if o.Token != "" && (o.User != "" || o.Password != "") {
		errs = append(errs, errors.New("token is set together with user/password: use one of them (a NATS server authenticates a client by one method)"))
	} else if methods > 1 {
		errs = append(errs, errors.New("more than one authentication method is set (user/password, token, creds, nkey seed): use only one"))
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		if o.TLSCertFile != "" {
			errs = append(errs, fmt.Errorf("tls-cert %q is set without tls-key: give the client certificate's private key file too", o.TLSCertFile))
		} else {
			errs = append(errs, fmt.Errorf("tls-key %q is set without tls-cert: give the client certificate file too", o.TLSKeyFile))
		}
	}
	for _, f := range []struct{ name, path string }{
		{"creds", o.CredsFile}, {"nkey-seed", o.NKeySeedFile},
		{"tls-ca", o.TLSCAFile}, {"tls-cert", o.TLSCertFile}, {"tls-key", o.TLSKeyFile},
	} {
		if f.path == "" {
			continue
		}
		if err := readable(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s file %q cannot be used: %v (give the path of an existing, readable file)", f.name, f.path, err))
		}
	}
	return errors.Join(errs...)
}

func readable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return unwrapPath(err)
	}
	if fi.IsDir() {
		return errors.New("it is a directory")
	}
	f, err := os.Open(path)
	if err != nil {
		return unwrapPath(err)
	}
	return f.Close()
}

// unwrapPath drops the path os adds, which the caller names already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// NATSOptions validates o and returns the nats.go options that apply it.
func (o Options) NATSOptions() ([]nats.Option, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case o.User != "":
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	case o.Token != "":
		opts = append(opts, nats.Token(o.Token))
	case o.CredsFile != "":
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	case o.NKeySeedFile != "":
		opt, err := nats.NkeyOptionFromSeed(o.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nkey-seed file %q: %v (give a file holding an NKey user seed, SU...)", o.NKeySeedFile, err)
		}
		opts = append(opts, opt)
	}
	if o.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(o.TLSCAFile))
	}
	if o.TLSCertFile != "" {
		opts = append(opts, nats.ClientCert(o.TLSCertFile, o.TLSKeyFile))
	}
	if o.TLS() {
		opts = append(opts, nats.Secure())
	}
	return opts, nil
}

// FromEnv takes a secret from the environment when the settings lack it: the
// password (EnvPassword) for a User without one, or else the token (EnvToken)
// when no other method is given, so an unrelated variable cannot clash with a
// creds file or an NKey seed.
func (o *Options) FromEnv() {
	if o.User != "" {
		if o.Password == "" {
			o.Password = os.Getenv(EnvPassword)
		}
	} else if o.Token == "" && o.CredsFile == "" && o.NKeySeedFile == "" {
		o.Token = os.Getenv(EnvToken)
	}
}

// Redact hides the user information (user:password or token) of each
// comma-separated URL in urls, for logs and messages: nats://tok@host:4222
// becomes nats://redacted@host:4222. A part that does not parse but holds an
// '@' loses everything before it too.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		switch {
		case err == nil && u.User != nil:
			u.User = url.User("redacted")
			parts[i] = u.String()
		case err != nil && strings.Contains(p, "@"):
			at := strings.LastIndex(p, "@")
			scheme := ""
			if k := strings.Index(p, "://"); k >= 0 && k < at {
				scheme = p[:k+3]
			}
			parts[i] = scheme + "redacted" + p[at:]
		default:
			parts[i] = p
		}
	}
	return strings.Join(parts, ",")
}

// RedactIn replaces every occurrence of the secrets of o and of the URL
// credentials in urls within s (for error texts that may quote them).
func (o Options) RedactIn(s, urls string) string {
	for _, sec := range []string{o.Password, o.Token} {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	for _, p := range strings.Split(urls, ",") {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			s = strings.ReplaceAll(s, strings.TrimSpace(p), Redact(strings.TrimSpace(p)))
			if pw, ok := u.User.Password(); ok && pw != "" {
				s = strings.ReplaceAll(s, pw, "<redacted>")
			} else if n := u.User.Username(); n != "" {
				s = strings.ReplaceAll(s, n, "<redacted>")
			}
		}
	}
	return s
}

// RefusalOptions are the nats.go options every client of ours wants: the
// server refusing the credentials or TLS (IsAuthError, IsTLSError), reported
// by nats.go through either its error or its reconnect-error callback, goes
// to refused; any other asynchronous error to other (nil: ignored); and an
// authorization error does not make nats.go give up (it does after the same
// one twice), so fixing the server's configuration is enough.
func RefusalOptions(refused, other func(err error)) []nats.Option {
	route := func(err error) {
		switch {
		case IsAuthError(err) || IsTLSError(err):
			refused(err)
		case other != nil:
			other(err)
		}
	}
	return []nats.Option{
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { route(err) }),
		// A failed reconnect is retried anyway; only a refusal says more.
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if IsAuthError(err) || IsTLSError(err) {
				refused(err)
			}
		}),
		nats.IgnoreAuthErrorAbort(),
	}
}

// IsAuthError reports whether err is the server refusing the client's
// credentials (an authorization violation, or expired or revoked ones).
func IsAuthError(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired)
}

// IsTLSError reports whether err is a failed TLS verification (unknown CA,
// wrong host name, bad certificate).
func IsTLSError(err error) bool {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var cv *tls.CertificateVerificationError
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cv)
}
