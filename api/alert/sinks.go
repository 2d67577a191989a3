package alert

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
)

// LogSink writes each alert as one structured log line. It is what the
// dispatcher uses when no sink is configured. The line names the alert,
// the decision and the rules, but carries none of the attempt's values
// (address, user agent, user id): logs are not where those belong. Point
// a file, webhook or Kafka sink at your SIEM for the full alert.
type LogSink struct {
	log *slog.Logger
}

// NewLogSink returns a LogSink writing to log (slog.Default when nil).
func NewLogSink(log *slog.Logger) *LogSink {
	if log == nil {
		log = slog.Default()
	}
	return &LogSink{log: log}
}

// Name implements Sink.
func (s *LogSink) Name() string { return "log" }

// Send implements Sink.
func (s *LogSink) Send(ctx context.Context, alerts []*Alert) (int, error) {
	for _, a := range alerts {
		if n := a.Notification; n != nil {
			// Who and where stay out of logs, as for alerts.
			s.log.LogAttrs(ctx, slog.LevelInfo, "notification", slog.String("notification_id", n.NotificationID),
				slog.String("tenant", n.Tenant), slog.String("decision_id", n.DecisionID),
				slog.Any("kinds", n.Kinds), slog.String("completed_by", n.CompletedBy))
			continue
		}
		rules := make([]string, 0, len(a.Rules))
		for _, r := range a.Rules {
			rules = append(rules, r.ID)
		}
		attrs := []slog.Attr{
			slog.String("alert_id", a.AlertID), slog.String("tenant", a.Tenant),
			slog.String("decision_id", a.DecisionID), slog.String("attempt_id", a.AttemptID),
			slog.String("action", a.Action.String()), slog.Int("score", a.Score),
			slog.Any("triggers", a.Triggers), slog.Any("rules", rules), slog.String("rules_version", a.RulesVersion),
		}
		if a.User.UsernameHash != "" {
			attrs = append(attrs, slog.String("username_hash", a.User.UsernameHash))
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "alert", attrs...)
	}
	return len(alerts), nil
}

// Close implements Sink.
func (s *LogSink) Close(context.Context) error { return nil }

// WriterSink writes alerts as JSON lines (JSONL) to a writer, one Write per
// batch, so that lines from concurrent writers never interleave.
type WriterSink struct {
	name string
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
}

// NewWriterSink returns a sink writing JSON lines to w, labelled name in
// metrics. For standard output use NewWriterSink("stdout", os.Stdout).
func NewWriterSink(name string, w io.Writer) *WriterSink {
	return &WriterSink{name: name, w: w}
}

// Name implements Sink.
func (s *WriterSink) Name() string { return s.name }

// Send implements Sink. A failed write is retried whole, so a reader of
// the file may see a line twice (compare alert_id), never half of one
// followed by another.
func (s *WriterSink) Send(_ context.Context, alerts []*Alert) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.buf[:0]
	for _, a := range alerts {
		var err error
		if buf, err = Append(buf, a); err != nil {
			return 0, Permanent(err)
		}
	}
	if cap(buf) <= 1<<20 {
		s.buf = buf
	}
	if _, err := s.w.Write(buf); err != nil {
		return 0, fmt.Errorf("alert: %s: write: %w", s.name, err)
	}
	return len(alerts), nil
}

// Close implements Sink; it does not close the writer.
func (s *WriterSink) Close(context.Context) error { return nil }

// FileSink appends alerts as JSON lines to a file, created with mode 0600
// when missing. Reopen it after moving the file away (log rotation).
type FileSink struct {
	WriterSink
	path string
	f    *os.File
}

// OpenFileSink opens path for appending.
func OpenFileSink(path string) (*FileSink, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	s := &FileSink{path: path, f: f}
	s.name, s.w = "file", f
	return s, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("alert: open alert file: %w", err)
	}
	return f, nil
}

// Reopen opens the path again, for a file that was renamed by a log
// rotator; alerts being written finish in the old file.
func (s *FileSink) Reopen() error {
	f, err := openAppend(s.path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.f
	s.f, s.w = f, f
	s.mu.Unlock()
	return old.Close()
}

// Close implements Sink: it syncs and closes the file.
func (s *FileSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return fmt.Errorf("alert: sync alert file: %w", err)
	}
	return s.f.Close()
}
