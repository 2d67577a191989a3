package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/segmentio/kafka-go"

	"github.com/riskgate/riskgate/api/alert"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
)

// TestScoresFromTopic is the whole path: attempts produced to a topic of
// four partitions are scored by the runner, and the decisions and alerts
// read back equal those of the same attempts scored directly, one per
// attempt, keyed and partitioned as documented; every alert matches the
// alert schema. One per attempt unless the group took the runner for gone
// on a loaded machine (see TestPerUserOrder): then a repeat is the first
// decision, and its alert the first alert, again.
func TestScoresFromTopic(t *testing.T) {
	c := startCluster(t, 4)
	var journeys [][]engine.Attempt
	var all []engine.Attempt
	for u := range 12 {
		j := userJourney(u)
		journeys = append(journeys, j)
		all = append(all, j...)
	}
	want := direct(t, journeys)
	produce(t, c, attemptMsgs(t, all)...)
	var alerting []string
	for id, d := range want {
		if d.Alert {
			alerting = append(alerting, id)
		}
	}

	// Through the service layer, as the node runs it.
	r := start(t, testOptions(c), service.New(NewTestEngine(t, engine.Options{}), nil))
	readUntilAll(t, c, tDecisions, ids(all), decisionAttempt)
	readUntilAll(t, c, tAlerts, alerting, func(t testing.TB, m kafka.Message) string {
		var a alert.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatalf("alert %s: %v", m.Value, err)
		}
		return a.AttemptID
	})
	r.stop(t)
	decs, alerts := readTopic(t, c, tDecisions, -1), readTopic(t, c, tAlerts, -1)

	got, repeated := delivered(t, decs)
	mayRepeat(t, repeated, r)
	for _, a := range all {
		if err := sameDecision(t, got[a.AttemptID], want[a.AttemptID]); err != nil {
			t.Fatalf("attempt %s: %v", a.AttemptID, err)
		}
	}
	for _, m := range decs {
		var d engine.Decision
		_ = json.Unmarshal(m.Value, &d)
		key := Key(d.Tenant, d.Signals.Attempt.UserID)
		if !bytes.Equal(m.Key, key) || m.Partition != Partition(key, 4) {
			t.Fatalf("decision keyed %q in partition %d, want %q in %d", m.Key, m.Partition, key, Partition(key, 4))
		}
	}

	schema := compileAlertSchema(t)
	byAttempt := alertsByAttempt(t, alerts)
	if len(alerting) < 2*len(journeys) {
		t.Fatalf("only %d alerts: the journeys no longer alert", len(alerting))
	}
	for id, d := range want {
		as := byAttempt[id]
		if !d.Alert {
			if len(as) != 0 {
				t.Fatalf("alert for %s, whose decision does not alert", id)
			}
			continue
		}
		if len(as) == 0 || len(as) > 1 && repeated == 0 {
			t.Fatalf("attempt %s: %d alerts, %d decisions repeated", id, len(as), repeated)
		}
		gotD := got[id]
		for _, a := range as {
			if a.AlertID != alert.ID(gotD.Tenant, gotD.DecisionID) || a.Action != d.Action || a.Score != d.Score || len(a.Rules) != len(d.Reasons) {
				t.Fatalf("alert %+v does not match decision %+v", a, d)
			}
		}
	}
	for _, m := range alerts {
		if err := validateJSON(schema, m.Value); err != nil {
			t.Fatalf("alert does not match the schema: %v\n%s", err, m.Value)
		}
	}
	if repeated > 0 {
		return // the counters count the repeats too
	}
	if n := testutil.ToFloat64(r.m.consumed.WithLabelValues(tAttempts)); int(n) != len(all) {
		t.Fatalf("consumed{%s} = %v, want %d", tAttempts, n, len(all))
	}
	if n := testutil.ToFloat64(r.m.produced.WithLabelValues(tDecisions)); int(n) != len(all) {
		t.Fatalf("produced{%s} = %v, want %d", tDecisions, n, len(all))
	}
	if n := testutil.ToFloat64(r.m.produced.WithLabelValues(tAlerts)); int(n) != len(alerting) {
		t.Fatalf("produced{%s} = %v, want %d", tAlerts, n, len(alerting))
	}
}

func compileAlertSchema(t testing.TB) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(alert.SchemaJSON()))
	if err != nil {
		t.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	comp.AssertFormat()
	if err := comp.AddResource("alert.v1.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := comp.Compile("alert.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateJSON(s *jsonschema.Schema, data []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// TestPerUserOrder produces interleaved sequences for many users over six
// partitions and requires each user's decisions to come out in sequence,
// with four workers deciding concurrently. Delivery is at least once: when
// the group takes the runner for gone (its session expired on a machine
// too loaded for its heartbeats: a loaded run saw "decision for attempt 2 after
// 11"), its commits are refused and what it decided since its last commit
// is delivered again. A repeat must then be the first decision again,
// after it, and only such a loss may repeat one (delivered, mayRepeat).
// The second case makes the loss happen: heartbeats and commits answered
// as the coordinator answers a member it has dropped, from the 100th
// attempt until the runner's next generation.
func TestPerUserOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose bool
	}{
		{"clean", false},
		{"session lost", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, 6)
			const users, per = 24, 12
			var msgs []kafka.Message
			var ids []string
			for i := range per {
				for u := range users {
					a := engine.Attempt{
						Tenant: "acme", AttemptID: fmt.Sprintf("u%d-%d", u, i), UserID: fmt.Sprintf("u-%d", u),
						IP: fmt.Sprintf("81.2.%d.%d", u, i+1), Result: engine.ResultPasswordBad,
						Attributes: map[string]string{"seq": strconv.Itoa(i)},
					}
					msgs = append(msgs, attemptMsgs(t, []engine.Attempt{a})...)
					ids = append(ids, a.AttemptID)
				}
			}
			produce(t, c, msgs...)
			opts := testOptions(c)
			opts.Workers, opts.BatchSize = 4, 8
			e := NewTestEngine(t, engine.Options{})
			var scorer Scorer = e
			var lost atomic.Bool
			if tc.lose {
				var n atomic.Int64
				scorer = scorerFunc{score: func(ctx context.Context, a engine.Attempt) (engine.Decision, error) {
					if n.Add(1) == 100 {
						lost.Store(true)
					}
					return e.Score(ctx, a)
				}, report: e.Report}
				dropped(c, &lost)
			}
			r := start(t, opts, scorer)
			if tc.lose {
				waitFor(t, "the 100th attempt", lost.Load)
				waitFor(t, "the runner's next generation", func() bool { return testutil.ToFloat64(r.m.rebalances) >= 2 })
				lost.Store(false)
			}
			readUntilAll(t, c, tDecisions, ids, decisionAttempt)
			r.stop(t)
			// Read again once the runner is done: a repeat may have come since.
			first, repeated := delivered(t, readTopic(t, c, tDecisions, -1))
			mayRepeat(t, repeated, r)
			if tc.lose && repeated == 0 {
				t.Fatal("no decision repeated: the session's loss was not exercised")
			}
			seen := map[string]bool{}
			for _, d := range first {
				seen[d.Signals.Attempt.UserID] = true
				// Failures of one account from its own addresses: the
				// account window counts every earlier attempt exactly
				// once, a redelivered one included.
				seq, _ := strconv.Atoi(d.Signals.Attempt.Attributes["seq"])
				if got := d.Signals.Account.Failures1h; got != seq+1 {
					t.Fatalf("user %s attempt %d: account.failures_1h = %d, want %d", d.Signals.Attempt.UserID, seq, got, seq+1)
				}
			}
			if len(first) != len(ids) || len(seen) != users {
				t.Fatalf("decisions for %d attempts of %d users, want %d of %d", len(first), len(seen), len(ids), users)
			}
		})
	}
}

// scorerFunc adapts functions to Scorer, for wrapping an engine.
type scorerFunc struct {
	score  func(context.Context, engine.Attempt) (engine.Decision, error)
	report func(context.Context, engine.Outcome) error
}

func (s scorerFunc) Score(ctx context.Context, a engine.Attempt) (engine.Decision, error) {
	return s.score(ctx, a)
}

func (s scorerFunc) Report(ctx context.Context, o engine.Outcome) error { return s.report(ctx, o) }
