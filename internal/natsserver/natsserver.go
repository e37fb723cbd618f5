// Package natsserver runs a NATS server inside the process, so `gstreact run`
// works with nothing installed (edge and cloud worker meet on loopback) and tests
// get a real broker in milliseconds. It wraps nats-server with the few options
// gst-react needs, fails fast with a clear error when the port is taken (the
// stock server would wait, or exit the process from its logger), and can be
// restarted on the same port to test reconnects.
package natsserver

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultMaxPayload is the largest message the server accepts unless
// Options.MaxPayload says otherwise. NATS's own default is 1 MiB, too small for
// a high-quality 4K JPEG (the wire protocol allows 4 MiB of JPEG).
const DefaultMaxPayload = 8 << 20

// DefaultHost is where the server listens unless Options.Host says otherwise:
// loopback, so an embedded server is never reachable from the network by accident.
const DefaultHost = "127.0.0.1"

// readyTimeout bounds how long Start waits for the listener.
const readyTimeout = 10 * time.Second

// Options configures the server. The zero value is a loopback server on a
// random port with 8 MiB payloads, no JetStream, and logging to stderr.
type Options struct {
	Host       string // listen address; "" = DefaultHost (127.0.0.1)
	Port       int    // TCP port; 0 = a random free port (see Server.Port)
	MaxPayload int    // largest message in bytes; 0 = DefaultMaxPayload (8 MiB)

	// StoreDir enables JetStream with its files in this directory; "" = off.
	StoreDir string

	// Token, when set, is the token every client must present.
	Token string
	// Users, when set, are the user names and passwords clients log in with
	// (not together with Token).
	Users map[string]string

	// TLSCertFile and TLSKeyFile, when set, make the server require TLS
	// with this PEM certificate and key.
	TLSCertFile string
	TLSKeyFile  string
	// TLSCAFile is the PEM CA bundle client certificates are verified
	// against when TLSVerify is set.
	TLSCAFile string
	// TLSVerify requires every client to present a certificate signed by
	// TLSCAFile (mutual TLS).
	TLSVerify bool

	NoLog  bool         // discard the server's log lines
	Logger *slog.Logger // where log lines go; nil = text on stderr
	Debug  bool         // also log NATS debug lines
}

// Server is a running embedded NATS server. Its methods are safe for
// concurrent use.
type Server struct {
	mu   sync.Mutex
	opts Options // with Port fixed to the bound port after the first start
	ns   *server.Server
}

// Start starts a server and waits until it accepts connections. It fails when
// the port is taken or the options are out of range.
func Start(opts Options) (*Server, error) {
	if opts.Host == "" {
		opts.Host = DefaultHost
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("nats server port %d is out of range: use 1..65535, or 0 for a random free port", opts.Port)
	}
	if opts.MaxPayload < 0 {
		return nil, fmt.Errorf("nats server max payload %d is negative: use 0 for the default (%d bytes) or a positive size", opts.MaxPayload, DefaultMaxPayload)
	}
	if opts.MaxPayload == 0 {
		opts.MaxPayload = DefaultMaxPayload
	}
	if opts.MaxPayload > server.MAX_PENDING_SIZE {
		// A message must fit a client's outbound buffer (max_pending, 64 MiB).
		return nil, fmt.Errorf("nats server max payload %d is over %d bytes (NATS's per-client pending limit); use a smaller size", opts.MaxPayload, server.MAX_PENDING_SIZE)
	}
	if opts.Token != "" && len(opts.Users) > 0 {
		return nil, errors.New("nats server: set Token or Users, not both")
	}
	if (opts.TLSCertFile == "") != (opts.TLSKeyFile == "") {
		return nil, errors.New("nats server: TLS needs both TLSCertFile and TLSKeyFile")
	}
	if opts.TLSVerify && (opts.TLSCertFile == "" || opts.TLSCAFile == "") {
		return nil, errors.New("nats server: TLSVerify needs TLSCertFile, TLSKeyFile and TLSCAFile")
	}
	s := &Server{opts: opts}
	ns, err := s.start()
	if err != nil {
		return nil, err
	}
	s.ns = ns
	// Later restarts reuse the port the first start got, so clients holding
	// ClientURL find the server again.
	if a, ok := ns.Addr().(*net.TCPAddr); ok {
		s.opts.Port = a.Port
	}
	return s, nil
}

func (s *Server) start() (*server.Server, error) {
	o := s.opts
	hp := net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	if o.Port != 0 {
		// Probe first: nats-server reports a busy port only through its
		// logger, after ReadyForConnections has waited its whole timeout.
		l, err := net.Listen("tcp", hp)
		if err != nil {
			return nil, fmt.Errorf("nats server cannot listen on %s: %w (is another NATS server or program using the port? pick another port, or use port 0 for a random one)", hp, err)
		}
		l.Close()
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT // nats-server's 0 means its default, 4222
	}
	so := &server.Options{
		ServerName: "gstreact-embedded",
		Host:       o.Host,
		Port:       port,
		MaxPayload: int32(o.MaxPayload),
		NoSigs:     true, // the host program owns signals
		NoLog:      true, // we install our own logger below
	}
	if o.StoreDir != "" {
		if err := os.MkdirAll(o.StoreDir, 0o755); err != nil {
			return nil, fmt.Errorf("nats server JetStream store %s: %w", o.StoreDir, err)
		}
		so.JetStream = true
		so.StoreDir = o.StoreDir
	}
	so.Authorization = o.Token
	for _, name := range sortedKeys(o.Users) {
		so.Users = append(so.Users, &server.User{Username: name, Password: o.Users[name]})
	}
	if o.TLSCertFile != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
			CertFile: o.TLSCertFile, KeyFile: o.TLSKeyFile, CaFile: o.TLSCAFile, Verify: o.TLSVerify,
		})
		if err != nil {
			return nil, fmt.Errorf("nats server TLS: %w", err)
		}
		so.TLSConfig = tc
		so.TLS = true
		so.TLSVerify = o.TLSVerify
		so.TLSTimeout = 2
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("nats server options: %w", err)
	}
	lg := newLogger(o)
	ns.SetLoggerV2(lg, o.Debug, false, false)
	go ns.Start()
	deadline := time.Now().Add(readyTimeout)
	for !ns.ReadyForConnections(20 * time.Millisecond) {
		if err := lg.fatal(); err != nil {
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil, fmt.Errorf("nats server on %s: %w", hp, err)
		}
		if time.Now().After(deadline) {
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil, fmt.Errorf("nats server on %s was not ready after %s", hp, readyTimeout)
		}
	}
	return ns, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ClientURL is the URL clients connect to, e.g. "nats://127.0.0.1:40123". It
// stays the same across Restart.
func (s *Server) ClientURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

// Port is the TCP port the server listens on (the random one when Options.Port was 0).
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Port
}

// NATS is the underlying nats-server, for what this package does not wrap
// (monitoring, JetStream management); nil after Shutdown.
func (s *Server) NATS() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ns
}

// Running reports whether the server is up (started and not shut down).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ns != nil && s.ns.Running()
}

// Shutdown stops the server, closing every client connection, and returns when
// it has stopped and released its port. Calling it again is a no-op.
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdownLocked()
}

func (s *Server) shutdownLocked() {
	if s.ns == nil {
		return
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.ns = nil
}

// Restart shuts the server down (if it is running) and starts a fresh one on
// the same host and port with the same options. Clients with reconnect enabled
// find it again; subscriptions are restored by the clients, JetStream state by
// the store directory.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdownLocked()
	ns, err := s.start()
	if err != nil {
		return err
	}
	s.ns = ns
	return nil
}

// logger adapts nats-server's logger to slog. Its Fatalf records the error
// instead of exiting the process (the stock logger calls os.Exit), so Start can
// return it.
type logger struct {
	l   *slog.Logger
	mu  sync.Mutex
	err error
}

func newLogger(o Options) *logger {
	l := o.Logger
	switch {
	case o.NoLog:
		l = slog.New(slog.NewTextHandler(io.Discard, nil))
	case l == nil:
		l = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return &logger{l: l.With("component", "nats-server")}
}

func (g *logger) fatal() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *logger) Noticef(format string, v ...any) { g.l.Info(fmt.Sprintf(format, v...)) }
func (g *logger) Warnf(format string, v ...any)   { g.l.Warn(fmt.Sprintf(format, v...)) }
func (g *logger) Errorf(format string, v ...any)  { g.l.Error(fmt.Sprintf(format, v...)) }
func (g *logger) Debugf(format string, v ...any)  { g.l.Debug(fmt.Sprintf(format, v...)) }
func (g *logger) Tracef(format string, v ...any)  { g.l.Debug(fmt.Sprintf(format, v...)) }
func (g *logger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	g.l.Error(msg)
	g.mu.Lock()
	if g.err == nil {
		g.err = errors.New(msg)
	}
	g.mu.Unlock()
}
