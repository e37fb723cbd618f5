package publish

import (
	"fmt"
	"strings"
	"time"

	"github.com/gst-react/gst-react/internal/natsauth"
	"github.com/gst-react/gst-react/internal/wire"
)

// Defaults. DefaultStreamID is reactcloud's default too (both are the wire's),
// so both elements name the stream alike when neither is configured.
const (
	DefaultStreamID        = wire.DefaultStreamID
	DefaultSubjectPrefix   = "react.detections."
	DefaultJetStreamStream = "REACT_DETECTIONS"
	DefaultMaxPending      = 10000
	DefaultMaxPendingBytes = 64 << 20
	DefaultDrainTimeout    = 5 * time.Second
	// Stdout is the Location that writes to standard output.
	Stdout = "-"
)

// Config says where records go. Field comments name the reactpublish
// property each field is set from; error messages use those names.
type Config struct {
	// Location is a file to write JSON lines to (created or truncated), or
	// "-" for standard output. Exactly one of Location and Server is set.
	Location string // location
	// Server is the NATS URL (or comma-separated URLs) to publish to.
	Server string // server
	// Subject is the NATS subject; "" = "react.detections.<StreamID>".
	Subject string // subject
	// StreamID names the stream in every record: 1..64 of A-Z a-z 0-9 . _ -.
	StreamID string // stream-id
	// JetStream publishes through JetStream: each record is kept and retried
	// until the server acknowledges it, and stored in the stream
	// JetStreamStream (created when missing: file storage, subjects
	// react.detections.> or the subject itself when it is elsewhere).
	JetStream       bool   // jetstream
	JetStreamStream string // jetstream-stream
	// JetStreamReplicas is how many cluster nodes keep the stream when the
	// publisher creates it: 3 in a 3-node cluster lets it survive the loss
	// of a node. 0 or 1: one copy. An existing stream is used as it is.
	JetStreamReplicas int
	// MaxPending bounds the records waiting to be published (queued or
	// awaiting their ack); a record offered beyond it, or beyond
	// MaxPendingBytes of record text, is dropped and counted.
	MaxPending      int // max-pending
	MaxPendingBytes int // max-pending-bytes
	// DrainTimeout is how long Close waits for pending records to go out.
	DrainTimeout time.Duration // drain-timeout
	// ClientName is the NATS connection name; "" = "gstreact-publish-<StreamID>".
	ClientName string
	// Auth holds the NATS credentials and TLS files (user, password, token,
	// creds-file, nkey-seed-file, tls-ca-file, tls-cert-file, tls-key-file).
	Auth natsauth.Options
}

// DefaultConfig is a Config with every default filled in and no destination.
func DefaultConfig() Config {
	return Config{
		StreamID:        DefaultStreamID,
		JetStreamStream: DefaultJetStreamStream,
		MaxPending:      DefaultMaxPending,
		MaxPendingBytes: DefaultMaxPendingBytes,
		DrainTimeout:    DefaultDrainTimeout,
	}
}

// EffectiveSubject is Subject, or the default derived from StreamID.
func (c Config) EffectiveSubject() string {
	if c.Subject != "" {
		return c.Subject
	}
	return DefaultSubjectPrefix + c.StreamID
}

// Validate reports the first setting out of range, naming the property to fix.
func (c Config) Validate() error {
	if !wire.ValidStreamID(c.StreamID) {
		return fmt.Errorf("stream-id %q must be 1..%d characters of A-Z a-z 0-9 . _ - (e.g. %q)", c.StreamID, wire.MaxStreamIDLen, DefaultStreamID)
	}
	switch {
	case c.Location == "" && c.Server == "":
		return fmt.Errorf("no destination: set location=FILE (or location=- for standard output) or server=nats://HOST:4222")
	case c.Location != "" && c.Server != "":
		return fmt.Errorf("both location (%q) and server (%q) are set: set only one (use two reactpublish elements after a tee for both)", c.Location, natsauth.Redact(c.Server))
	case c.JetStream && c.Server == "":
		return fmt.Errorf("jetstream=true needs server=nats://HOST:4222 (location writes a file, which has no JetStream)")
	}
	if c.Server != "" {
		if err := validSubject(c.EffectiveSubject()); err != nil {
			return fmt.Errorf("subject %q %v", c.EffectiveSubject(), err)
		}
		if err := c.Auth.Validate(); err != nil {
			return err
		}
	}
	if c.JetStream && !validStreamName(c.JetStreamStream) {
		return fmt.Errorf("jetstream-stream %q must be 1..255 printable characters without spaces, '.', '*', '>', '/' or '\\' (e.g. %q)", c.JetStreamStream, DefaultJetStreamStream)
	}
	switch {
	case c.JetStreamReplicas < 0 || c.JetStreamReplicas > 5:
		return fmt.Errorf("jetstream replicas %d must be in 0..5 (JetStream's limit; 0 = 1)", c.JetStreamReplicas)
	case c.MaxPending < 1 || c.MaxPending > 1000000:
		return fmt.Errorf("max-pending %d must be in 1..1000000 records", c.MaxPending)
	case c.MaxPendingBytes < 1024:
		return fmt.Errorf("max-pending-bytes %d must be at least 1024", c.MaxPendingBytes)
	case c.DrainTimeout < 0:
		return fmt.Errorf("drain-timeout %v must not be negative", c.DrainTimeout)
	}
	return nil
}

// validSubject accepts a NATS subject to publish on: dot-separated non-empty
// tokens, no wildcards, no whitespace.
func validSubject(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("must not contain spaces")
	}
	for _, tok := range strings.Split(s, ".") {
		switch tok {
		case "":
			return fmt.Errorf("has an empty token (leading, trailing or double '.')")
		case "*", ">":
			return fmt.Errorf("must not contain wildcards (%q): records are published to one subject", tok)
		}
	}
	return nil
}

func validStreamName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(".*>/\\", r) {
			return false
		}
	}
	return true
}

// streamSubjects is what a stream created by the publisher captures: every
// default subject (react.detections.>) when the subject is under it, else
// just the subject.
func streamSubjects(subject string) []string {
	if strings.HasPrefix(subject, DefaultSubjectPrefix) {
		return []string{DefaultSubjectPrefix + ">"}
	}
	return []string{subject}
}

// subjectMatches reports whether the literal subject is matched by pattern
// (which may use * and >).
func subjectMatches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}
