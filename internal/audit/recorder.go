package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// Sink stores events somewhere: the store (store.AuditLog satisfies it), a
// JSON-lines file, Elasticsearch later.
type Sink interface {
	AppendAudit(ctx context.Context, ev Event) error
}

// Recorder writes each event to every sink. A failing sink does not stop the
// others; failures are logged (without the event's details) and counted by
// OnError, never returned to the request that caused the event: an audit
// outage must not turn into a login outage, and the metrics alert on it.
type Recorder struct {
	sinks   []Sink
	logger  *slog.Logger
	OnError func(sink int, err error)
}

// NewRecorder returns a recorder writing to sinks in order.
func NewRecorder(logger *slog.Logger, sinks ...Sink) *Recorder {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{sinks: sinks, logger: logger}
}

// Record writes ev to every sink. The timestamp is made UTC.
func (r *Recorder) Record(ctx context.Context, ev Event) {
	if r == nil {
		return
	}
	ev.Timestamp = ev.Timestamp.UTC()
	// The event must outlive a cancelled request: a client that hangs up
	// after a failed login is still audited.
	ctx = context.WithoutCancel(ctx)
	for i, s := range r.sinks {
		if err := s.AppendAudit(ctx, ev); err != nil {
			r.logger.LogAttrs(ctx, slog.LevelError, "audit event not recorded",
				slog.Int("sink", i), slog.String("action", ev.Action), slog.String("error", err.Error()))
			if r.OnError != nil {
				r.OnError(i, err)
			}
		}
	}
}

// FileSink appends events as JSON lines to a file, for a log shipper. Each
// event is one write of one line, so a shipper tailing the file never sees a
// partial line from this process, and the file is opened O_APPEND so several
// processes (serve and the user commands) can share it.
type FileSink struct {
	mu   sync.Mutex // one write at a time keeps lines whole
	f    *os.File
	path string
}

// OpenFileSink opens (creating, mode 0600) the JSON-lines file at path.
func OpenFileSink(path string) (*FileSink, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("opening the audit file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the audit file: %w", err)
	}
	return &FileSink{f: f, path: path}, nil
}

// Path returns the file's path.
func (s *FileSink) Path() string { return s.path }

// AppendAudit writes ev as one line.
func (s *FileSink) AppendAudit(_ context.Context, ev Event) error {
	line, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding audit event %s: %w", ev.Action, err)
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("audit file is closed")
	}
	_, err = s.f.Write(line)
	return err
}

// Close closes the file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// WriterSink writes JSON lines to any writer (tests, stdout).
type WriterSink struct {
	mu sync.Mutex
	W  io.Writer
}

// AppendAudit writes ev as one line.
func (s *WriterSink) AppendAudit(_ context.Context, ev Event) error {
	line, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.W.Write(append(line, '\n'))
	return err
}
