package publish

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fileSink writes one record per line through a buffer, flushed whenever
// the queue runs empty (so a reader tailing the file sees each frame soon).
type fileSink struct {
	path string
	f    *os.File
	w    *bufio.Writer
	own  bool // close f at the end (not standard output)
}

func openFile(path string) (*fileSink, error) {
	if path == Stdout {
		return &fileSink{path: "standard output", f: os.Stdout, w: bufio.NewWriterSize(os.Stdout, 64<<10)}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("location %q cannot be written: %w (choose a writable file path, or - for standard output)", path, err)
	}
	return &fileSink{path: path, f: f, w: bufio.NewWriterSize(f, 64<<10), own: true}, nil
}

func (s *fileSink) publish(_ context.Context, batch []Entry) outcome {
	for i := range batch {
		s.w.Write(batch[i].Data)
		if err := s.w.WriteByte('\n'); err != nil {
			// bufio keeps the first error: every later write fails too.
			return outcome{done: len(batch), published: 0, lost: len(batch), failed: len(batch), fatal: true,
				err: fmt.Errorf("writing %s failed: %w", s.path, err)}
		}
	}
	return outcome{done: len(batch), published: len(batch)}
}

func (s *fileSink) idle() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("writing %s failed: %w", s.path, err)
	}
	return nil
}

func (s *fileSink) close(time.Duration) error {
	err := s.w.Flush()
	if s.own {
		if cerr := s.f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("writing %s failed: %w", s.path, err)
	}
	return nil
}

func (s *fileSink) maxBatch() int    { return 256 }
func (s *fileSink) describe() string { return "file " + s.path }

// coreSink publishes on core NATS: at most once. While the connection is
// down, records stay queued; a record is settled once handed to the client.
type coreSink struct {
	nc      *nats.Conn
	subject string
	server  string
}

func (s *coreSink) publish(_ context.Context, batch []Entry) outcome {
	var out outcome
	if !s.nc.IsConnected() {
		out.err = fmt.Errorf("not connected to the NATS server at %s (%s)", s.server, s.nc.Status())
		return out
	}
	for i := range batch {
		err := s.nc.Publish(s.subject, batch[i].Data)
		switch {
		case err == nil:
			out.published++
		case errors.Is(err, nats.ErrMaxPayload):
			out.lost++
			out.failed++
		default:
			out.failed++
			out.err = fmt.Errorf("publishing to %s on %s: %w", s.subject, s.server, err)
			return out
		}
		out.done++
	}
	return out
}

func (s *coreSink) idle() error { return nil }

func (s *coreSink) close(timeout time.Duration) error {
	if s.nc.IsConnected() {
		_ = s.nc.FlushTimeout(timeout)
	}
	s.nc.Close()
	return nil
}

func (s *coreSink) maxBatch() int { return 256 }
func (s *coreSink) describe() string {
	return fmt.Sprintf("NATS subject %s on %s", s.subject, s.server)
}

// jsBatch is how many records the JetStream sink has in flight at once.
const jsBatch = 256

// jsAckTimeout bounds the wait for one publish acknowledgement.
const jsAckTimeout = 5 * time.Second

// jsSink publishes through JetStream: records are published asynchronously
// in batches and popped only once acknowledged, in order; the first
// failure stops the batch and everything from it on is retried. Each message
// carries a Nats-Msg-Id unique to this run and record, so a retry of a
// record the server did store (its ack was lost) is recognised as a
// duplicate and stored once.
type jsSink struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	subject  string
	stream   string
	server   string
	runID    string
	replicas int  // of a stream this sink creates
	ready    bool // the stream has been created or bound
	futs     []jetstream.PubAckFuture
}

func newJSSink(nc *nats.Conn, subject, stream, server string, replicas int) (*jsSink, error) {
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(jsBatch),
		jetstream.WithPublishAsyncTimeout(jsAckTimeout))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &jsSink{nc: nc, js: js, subject: subject, stream: stream, server: server, replicas: max(1, replicas),
		runID: nats.NewInbox()[len(nats.InboxPrefix):]}, nil
}

// configError is a JetStream setup problem that retrying cannot fix.
type configError struct{ error }

// ensure creates the stream, or binds to it when it exists and takes the
// subject.
func (s *jsSink) ensure(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, jsAckTimeout)
	defer cancel()
	st, err := s.js.Stream(ctx, s.stream)
	if err == nil {
		subjects := st.CachedInfo().Config.Subjects
		for _, pat := range subjects {
			if subjectMatches(pat, s.subject) {
				return nil
			}
		}
		return configError{fmt.Errorf("JetStream stream %q exists with subjects %v, which do not include subject %q: add the subject to the stream, or set jetstream-stream to another stream name", s.stream, subjects, s.subject)}
	}
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
		errors.Is(err, nats.ErrNoResponders) {
		// No responders: nothing serves the JetStream API (JetStream off,
		// or a restarted server not ready yet).
		return fmt.Errorf("JetStream is not enabled on the NATS server at %s, or not ready yet (run nats-server with -js): %w", s.server, err)
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("looking up JetStream stream %q: %w", s.stream, err)
	}
	_, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        s.stream,
		Description: "gst-react per-frame detections (reactpublish)",
		Subjects:    streamSubjects(s.subject),
		Storage:     jetstream.FileStorage,
		Replicas:    s.replicas,
	})
	if err == nil || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil // created (or by someone else just now)
	}
	if other, lerr := s.js.StreamNameBySubject(ctx, s.subject); lerr == nil && other != "" && other != s.stream {
		return configError{fmt.Errorf("subject %q is already stored by JetStream stream %q, so stream %q cannot take it: set jetstream-stream=%s, or another subject", s.subject, other, s.stream, other)}
	}
	return fmt.Errorf("creating JetStream stream %q: %w", s.stream, err)
}

func (s *jsSink) publish(ctx context.Context, batch []Entry) outcome {
	var out outcome
	if !s.ready {
		if err := s.ensure(ctx); err != nil {
			var ce configError
			out.err, out.fatal = err, errors.As(err, &ce)
			return out
		}
		s.ready = true
	}
	futs := s.futs[:0]
	var sendErr error
	for i := range batch {
		m := &nats.Msg{Subject: s.subject, Data: batch[i].Data, Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, s.runID+"-"+strconv.FormatUint(batch[i].Seq, 10))
		f, err := s.js.PublishMsgAsync(m)
		if err != nil {
			sendErr = err
			break
		}
		futs = append(futs, f)
	}
	// Wait for every ack, even after a failure: the client may still read a
	// record's buffer until its future resolves (the ack timeout bounds it).
	failedAt, firstErr := -1, error(nil)
	for i, f := range futs {
		select {
		case ack := <-f.Ok():
			if failedAt < 0 {
				out.published++
				out.done++
				if ack.Duplicate {
					out.dups++
				}
			}
		case err := <-f.Err():
			out.failed++
			if failedAt < 0 {
				failedAt, firstErr = i, err
			}
		case <-ctx.Done():
			out.err = ctx.Err()
			s.futs = futs[:0]
			return out
		}
	}
	clear(futs)
	s.futs = futs[:0]
	if firstErr != nil {
		if errors.Is(firstErr, jetstream.ErrNoStreamResponse) || errors.Is(firstErr, nats.ErrNoResponders) {
			s.ready = false // the stream may be gone: look again before the retry
		}
		out.err = fmt.Errorf("JetStream publish to %s (stream %s) on %s: %w", s.subject, s.stream, s.server, firstErr)
		return out
	}
	if sendErr != nil {
		if out.done == len(futs) && errors.Is(sendErr, nats.ErrMaxPayload) {
			// Too big for the server: can never be stored.
			out.done++
			out.lost++
			out.failed++
			return out
		}
		out.failed++
		out.err = fmt.Errorf("JetStream publish to %s on %s: %w", s.subject, s.server, sendErr)
	}
	return out
}

func (s *jsSink) idle() error { return nil }

func (s *jsSink) close(timeout time.Duration) error {
	if s.nc.IsConnected() {
		_ = s.nc.FlushTimeout(timeout)
	}
	s.nc.Close()
	return nil
}

func (s *jsSink) maxBatch() int { return jsBatch }
func (s *jsSink) describe() string {
	return fmt.Sprintf("JetStream stream %s, subject %s on %s", s.stream, s.subject, s.server)
}
