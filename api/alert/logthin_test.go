package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/riskgate/riskgate/internal/syncbuf"
)

// logRecords are the JSON log lines in buf whose msg is msg.
func logRecords(t *testing.T, buf *bytes.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestLogSinkThinsPastItsRate: past its rate in a second the log sink
// counts alerts instead of logging them, by their alerting rules, and
// says so once a summary period has passed; the next second logs again.
func TestLogSinkThinsPastItsRate(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 7, 13, 0, 0, 100, time.UTC)
	s := NewLogSink(slog.New(slog.NewJSONHandler(&buf, nil))).thinned(3, func() time.Time { return now })
	send := func(alerts ...*Alert) {
		t.Helper()
		if n, err := s.Send(context.Background(), alerts); n != len(alerts) || err != nil {
			t.Fatalf("Send: %d of %d, %v", n, len(alerts), err)
		}
	}
	burst := func(n int, rules ...Rule) []*Alert {
		out := make([]*Alert, n)
		for i := range out {
			out[i] = &Alert{AlertID: fmt.Sprintf("a%d", i), Rules: rules}
		}
		return out
	}
	stuffing := Rule{ID: "stuffing-address-burst", Alert: true}
	scripted := Rule{ID: "scripted-client"} // matched, not alerting
	send(burst(10, stuffing, scripted)...)
	send(&Alert{AlertID: "deny-only", Triggers: []string{TriggerDeny}})
	if got := len(logRecords(t, &buf, "alert")); got != 3 {
		t.Fatalf("%d alert lines in the first second, want 3", got)
	}
	if got := s.takeThinned(); got != 8 {
		t.Fatalf("thinned %d, want 8", got)
	}
	if got := s.takeThinned(); got != 0 {
		t.Fatalf("thinned again %d, want 0", got)
	}
	if got := len(logRecords(t, &buf, "alerts thinned from the log")); got != 0 {
		t.Fatalf("summary before its period: %s", buf.String())
	}

	now = now.Add(time.Second)
	send(burst(2, stuffing)...)
	if got := len(logRecords(t, &buf, "alert")); got != 5 {
		t.Fatalf("%d alert lines after the next second, want 5", got)
	}

	now = now.Add(thinSummaryEvery)
	send(burst(4, stuffing)...) // 3 logged, 1 thinned, then the summary
	sums := logRecords(t, &buf, "alerts thinned from the log")
	if len(sums) != 1 {
		t.Fatalf("%d summaries, want 1:\n%s", len(sums), buf.String())
	}
	if sums[0]["thinned"] != float64(9) || sums[0]["rules"] != "stuffing-address-burst=8 deny=1" || sums[0]["per_second"] != float64(3) {
		t.Fatalf("summary: %v", sums[0])
	}
	if got := len(logRecords(t, &buf, "alert")); got != 8 {
		t.Fatalf("%d alert lines, want 8", got)
	}
	// Nothing thinned since: Close has nothing to say.
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(logRecords(t, &buf, "alerts thinned from the log")); got != 1 {
		t.Fatalf("%d summaries after Close, want 1", got)
	}

	// Close says what the last period thinned, whatever its length.
	send(burst(5, stuffing)...)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sums := logRecords(t, &buf, "alerts thinned from the log"); len(sums) != 2 || sums[1]["thinned"] != float64(5) {
		t.Fatalf("summaries after the second Close: %v", sums)
	}
}

// TestThinningRulesBounded: the rules a summary counts apart are bounded
// (rule ids come from the ruleset, but a bound costs nothing), and the
// line names the largest. The first alert, r000's, is logged (the rate
// is 1), so r001-r063 are counted apart and the rest as "other".
func TestThinningRulesBounded(t *testing.T) {
	th := newThinning(1, time.Now)
	now := time.Now()
	for i := range thinRuleKinds + 10 {
		for range i + 1 {
			th.admit(&Alert{Rules: []Rule{{ID: fmt.Sprintf("r%03d", i), Alert: true}}}, now)
		}
	}
	if len(th.byRule) != thinRuleKinds {
		t.Fatalf("%d rules counted apart, bound %d", len(th.byRule), thinRuleKinds)
	}
	got := th.rulesLocked()
	if !strings.HasPrefix(got, "other=") || !strings.Contains(got, " r063=64 ") || !strings.HasSuffix(got, "more rules: "+fmt.Sprint(th.thinned-sumShown(th))+")") {
		t.Fatalf("rules: %q", got)
	}
}

// sumShown is what the first thinRulesShown rules of th's summary count.
func sumShown(th *thinning) int {
	n := 0
	for i, f := range strings.Fields(th.rulesLocked()) {
		if i == thinRulesShown {
			break
		}
		var c int
		if _, err := fmt.Sscanf(f[strings.IndexByte(f, '=')+1:], "%d", &c); err == nil {
			n += c
		}
	}
	return n
}

// TestDispatcherThinsTheLog: a dispatcher without sinks logs at most its
// LogPerSecond alerts a second; the rest are counted as dropped (reason
// log_rate), not as sent, and Close's summary line says how many.
func TestDispatcherThinsTheLog(t *testing.T) {
	var buf bytes.Buffer
	d, reg := newDispatcher(t, Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil)), LogPerSecond: 2})
	decisions(t, testEngine(t, d), stuffing("acme", 40)) // 36 alerts
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	logged := len(logRecords(t, &buf, "alert"))
	sent := testutil.ToFloat64(d.queues[0].m.sent)
	thinned := testutil.ToFloat64(d.queues[0].m.dropLogRate)
	// However many seconds the run straddled, few were logged.
	if logged < 2 || logged > 8 || float64(logged) != sent {
		t.Fatalf("%d alert lines, %v sent", logged, sent)
	}
	if sent+thinned != 36 {
		t.Fatalf("sent %v + thinned %v, want 36 alerts", sent, thinned)
	}
	var summed float64
	for _, s := range logRecords(t, &buf, "alerts thinned from the log") {
		summed += s["thinned"].(float64)
	}
	if summed != thinned {
		t.Fatalf("summaries count %v, metric %v:\n%s", summed, thinned, buf.String())
	}
	// queue_full, rejected, shutdown, closed, log_rate, tenant_share.
	if n, err := testutil.GatherAndCount(reg, "riskgate_alerts_dropped_total"); err != nil || n != 6 {
		t.Fatalf("riskgate_alerts_dropped_total: %d series, %v", n, err)
	}
}

// TestDispatcherSummarizesAnIncidentsTail: with no alert after a burst to
// bring it out, the dispatcher's periodic report logs what the log sink
// thinned, before any Close.
func TestDispatcherSummarizesAnIncidentsTail(t *testing.T) {
	var logs syncbuf.Buffer
	d, _ := newDispatcher(t, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), LogPerSecond: 1, dropReport: 20 * time.Millisecond})
	decisions(t, testEngine(t, d), stuffing("acme", 40)) // 36 alerts
	var thinned float64
	waitFor(t, func() bool {
		var n float64
		for _, s := range logRecords(t, bytes.NewBuffer(logs.Bytes()), "alerts thinned from the log") {
			n += s["thinned"].(float64)
		}
		thinned = n
		return n > 0 && n == testutil.ToFloat64(d.queues[0].m.dropLogRate)
	})
	if thinned < 30 {
		t.Fatalf("%v thinned at 1 a second, of 36", thinned)
	}
	if err := closeWithin(t, d, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
