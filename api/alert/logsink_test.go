package alert

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/logbatch"
)

// oldLogLine is how LogSink wrote an alert before logList: the lists as
// []string through slog.Any. LogSink's lines must stay the same.
func oldLogLine(log *slog.Logger, a *Alert) {
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
	log.LogAttrs(context.Background(), slog.LevelWarn, "alert", attrs...)
}

var logTime = regexp.MustCompile(`(time=|"time":")[^ "]+`)

func TestLogSinkLinesUnchanged(t *testing.T) {
	alerts := []*Alert{
		{AlertID: "a1", Tenant: "t", DecisionID: "d", AttemptID: "at", Action: engine.ActionStepUp, Score: 50,
			Triggers: []string{TriggerRule}, Rules: []Rule{{ID: "impossible-travel"}, {ID: "new-country"}},
			RulesVersion: "sha256:1", User: User{UsernameHash: "h"}},
		{AlertID: "a2", Tenant: "t 2", Action: engine.ActionDeny, Triggers: []string{TriggerRule, TriggerDeny}},
		{AlertID: "a3", Triggers: nil, Rules: nil},
		{AlertID: "a4", Triggers: []string{}, Rules: []Rule{{ID: `q"u\o<t>&e` + "\n\x01é\u2028"}, {ID: ""}, {ID: "a b"}}},
	}
	for _, format := range []string{"text", "json"} {
		for _, a := range alerts {
			var got, want bytes.Buffer
			handler := func(b *bytes.Buffer) slog.Handler {
				if format == "json" {
					return slog.NewJSONHandler(b, nil)
				}
				return slog.NewTextHandler(b, nil)
			}
			if _, err := NewLogSink(slog.New(handler(&got))).Send(context.Background(), []*Alert{a}); err != nil {
				t.Fatal(err)
			}
			oldLogLine(slog.New(handler(&want)), a)
			g := logTime.ReplaceAllString(got.String(), "${1}T")
			w := logTime.ReplaceAllString(want.String(), "${1}T")
			if g != w {
				t.Errorf("%s, alert %s:\n got %s\nwant %s", format, a.AlertID, g, w)
			}
		}
	}
}

// BenchmarkLogSink is LogSink's cost per alert, to a discarding handler.
func BenchmarkLogSink(b *testing.B) {
	s := NewLogSink(slog.New(slog.NewTextHandler(discard{}, nil)))
	a := []*Alert{{AlertID: "45174906ce6966a824ccbda6def65f0e", Tenant: "bench", DecisionID: "01M90A62JJW7AV76YHGXJVB2B1",
		AttemptID: "01M90A62JJW7AV76YHGXJVB2B1", Action: engine.ActionStepUp, Score: 50, Triggers: []string{TriggerRule},
		Rules: []Rule{{ID: "impossible-travel"}, {ID: "new-country"}}, RulesVersion: "sha256:1e7ca68cc234", User: User{UsernameHash: "699cb5f668"}}}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = s.Send(context.Background(), a)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestLogSinkBatchIsOneWrite: on a logger whose handler can hold its
// lines (riskgate serve's), a batch of alerts is one write of the same
// lines as one write each.
func TestLogSinkBatchIsOneWrite(t *testing.T) {
	alerts := []*Alert{
		{AlertID: "a1", Tenant: "t", Action: engine.ActionStepUp, Score: 50, Rules: []Rule{{ID: "impossible-travel"}}},
		{AlertID: "a2", Tenant: "t", Action: engine.ActionDeny, Triggers: []string{TriggerDeny}},
		{AlertID: "a3", Tenant: "t", Notification: &Notification{NotificationID: "n1", Kinds: []string{"new_device"}}},
	}
	var held writes
	w := logbatch.New(&held)
	if _, err := NewLogSink(slog.New(logbatch.Handler(slog.NewTextHandler(w, nil), w))).Send(context.Background(), alerts); err != nil {
		t.Fatal(err)
	}
	var plain writes
	if _, err := NewLogSink(slog.New(slog.NewTextHandler(&plain, nil))).Send(context.Background(), alerts); err != nil {
		t.Fatal(err)
	}
	if len(plain.w) != len(alerts) || len(held.w) != 1 {
		t.Fatalf("writes: %d plain, %d held; want %d and 1", len(plain.w), len(held.w), len(alerts))
	}
	g := logTime.ReplaceAllString(held.w[0], "${1}T")
	p := logTime.ReplaceAllString(strings.Join(plain.w, ""), "${1}T")
	if g != p {
		t.Errorf("held lines:\n%s\nwant:\n%s", g, p)
	}
}

// writes keeps each Write as one string.
type writes struct{ w []string }

func (w *writes) Write(p []byte) (int, error) { w.w = append(w.w, string(p)); return len(p), nil }
