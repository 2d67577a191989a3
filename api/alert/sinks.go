package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// LogSink writes each alert as one structured log line. It is what the
// dispatcher uses when no sink is configured. The line names the alert,
// the decision and the rules, but carries none of the attempt's values
// (address, user agent, user id): logs are not where those belong. Point
// a file, webhook or Kafka sink at your SIEM for the full alert.
type LogSink struct {
	log  *slog.Logger
	thin *thinning // nil: every alert is logged
}

// NewLogSink returns a LogSink writing to log (slog.Default when nil).
func NewLogSink(log *slog.Logger) *LogSink {
	if log == nil {
		log = slog.Default()
	}
	return &LogSink{log: log}
}

// thinned makes s log at most perSecond alerts a second (see thinning);
// 0 leaves it logging every alert.
func (s *LogSink) thinned(perSecond int, now func() time.Time) *LogSink {
	if perSecond > 0 {
		s.thin = newThinning(perSecond, now)
	}
	return s
}

func (s *LogSink) takeThinned() int {
	if s.thin == nil {
		return 0
	}
	return s.thin.take()
}

func (s *LogSink) summarizeThinned(force bool) {
	if s.thin != nil {
		s.thin.summarize(context.Background(), s.log, force)
	}
}

// Name implements Sink.
func (s *LogSink) Name() string { return "log" }

// holder is a log handler whose lines can be held and written together
// (internal/logbatch's, which riskgate serve logs through).
type holder interface {
	Hold()
	Release() error
}

// Send implements Sink. When the logger's handler can hold its lines, a
// batch's lines go out in one write.
func (s *LogSink) Send(ctx context.Context, alerts []*Alert) (int, error) {
	if h, ok := s.log.Handler().(holder); ok && len(alerts) > 1 {
		h.Hold()
		// A failed write of log lines is not a failed delivery: the
		// handler would not have reported it either.
		defer func() { _ = h.Release() }()
	}
	var now time.Time
	if s.thin != nil {
		now = s.thin.now()
		defer s.thin.summarize(ctx, s.log, false)
	}
	for _, a := range alerts {
		if n := a.Notification; n != nil {
			// Who and where stay out of logs, as for alerts.
			s.log.LogAttrs(ctx, slog.LevelInfo, "notification", slog.String("notification_id", n.NotificationID),
				slog.String("tenant", n.Tenant), slog.String("decision_id", n.DecisionID),
				slog.Any("kinds", n.Kinds), slog.String("completed_by", n.CompletedBy))
			continue
		}
		if s.thin != nil && !s.thin.admit(a, now) {
			continue
		}
		// A fixed array keeps the attributes off the heap (LogAttrs
		// copies them), and the two lists are logged through logList,
		// which renders them as the handlers render a []string without
		// fmt's or encoding/json's reflection, nor a []string of the
		// rules' ids made for the purpose.
		var attrs [10]slog.Attr
		attrs[0] = slog.String("alert_id", a.AlertID)
		attrs[1] = slog.String("tenant", a.Tenant)
		attrs[2] = slog.String("decision_id", a.DecisionID)
		attrs[3] = slog.String("attempt_id", a.AttemptID)
		attrs[4] = slog.String("action", a.Action.String())
		attrs[5] = slog.Int("score", a.Score)
		attrs[6] = slog.Any("triggers", logList{strs: a.Triggers})
		attrs[7] = slog.Any("rules", logList{rules: a.Rules, isRules: true})
		attrs[8] = slog.String("rules_version", a.RulesVersion)
		n := 9
		if a.User.UsernameHash != "" {
			attrs[9] = slog.String("username_hash", a.User.UsernameHash)
			n = 10
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "alert", attrs[:n]...)
	}
	return len(alerts), nil
}

// Close implements Sink: it logs what was thinned since the last summary.
func (s *LogSink) Close(context.Context) error {
	s.summarizeThinned(true)
	return nil
}

// logList is a list of strings (or of the rules' ids) as LogSink logs it:
// the same text as slog's handlers give a []string (fmt's "[a b]" for the
// text handler, a JSON array for the JSON one), without their reflection.
type logList struct {
	strs    []string
	rules   []Rule
	isRules bool
}

func (l logList) len() int {
	if l.isRules {
		return len(l.rules)
	}
	return len(l.strs)
}

func (l logList) at(i int) string {
	if l.isRules {
		return l.rules[i].ID
	}
	return l.strs[i]
}

// MarshalText is what the text handler writes (quoted by it as needed):
// fmt's %+v of a []string.
func (l logList) MarshalText() ([]byte, error) {
	n := l.len()
	b := make([]byte, 0, 2+8*n)
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, l.at(i)...)
	}
	return append(b, ']'), nil
}

// MarshalJSON is what the JSON handler writes: encoding/json's array of
// strings. Strings of plain printable ASCII (rule ids, triggers) need no
// escapes; anything else goes through encoding/json.
func (l logList) MarshalJSON() ([]byte, error) {
	if !l.isRules && l.strs == nil {
		return []byte("null"), nil // as encoding/json writes a nil slice
	}
	n := l.len()
	b := make([]byte, 0, 2+10*n)
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		s := l.at(i)
		if !plainJSON(s) {
			// As slog's JSON handler encodes: no HTML escaping.
			var q bytes.Buffer
			enc := json.NewEncoder(&q)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(s); err != nil {
				return nil, err
			}
			b = append(b, bytes.TrimSuffix(q.Bytes(), []byte("\n"))...)
			continue
		}
		b = append(b, '"')
		b = append(b, s...)
		b = append(b, '"')
	}
	return append(b, ']'), nil
}

// plainJSON reports whether s is written as it is inside a JSON string by
// encoding/json, with or without HTML escaping.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

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
	return s.write(alerts)
}

// write is Send under s.mu.
func (s *WriterSink) write(alerts []*Alert) (int, error) {
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
