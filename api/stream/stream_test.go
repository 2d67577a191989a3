package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
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
// alert schema.
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

	// Through the service layer, as the node runs it.
	r := start(t, testOptions(c), service.New(NewTestEngine(t, engine.Options{}), nil))
	decs := readTopic(t, c, tDecisions, len(all))
	var nAlerts int
	for _, d := range want {
		if d.Alert {
			nAlerts++
		}
	}
	alerts := readTopic(t, c, tAlerts, nAlerts)
	r.stop(t)

	got := decisionsByAttempt(t, decs)
	for _, a := range all {
		ds := got[a.AttemptID]
		if len(ds) != 1 {
			t.Fatalf("attempt %s: %d decisions", a.AttemptID, len(ds))
		}
		if err := sameDecision(t, ds[0], want[a.AttemptID]); err != nil {
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
	if nAlerts < 2*len(journeys) {
		t.Fatalf("only %d alerts: the journeys no longer alert", nAlerts)
	}
	for id, d := range want {
		as := byAttempt[id]
		if !d.Alert {
			if len(as) != 0 {
				t.Fatalf("alert for %s, whose decision does not alert", id)
			}
			continue
		}
		if len(as) != 1 {
			t.Fatalf("attempt %s: %d alerts", id, len(as))
		}
		a := as[0]
		gotD := got[id][0]
		if a.AlertID != alert.ID(gotD.Tenant, gotD.DecisionID) || a.Action != d.Action || a.Score != d.Score || len(a.Rules) != len(d.Reasons) {
			t.Fatalf("alert %+v does not match decision %+v", a, d)
		}
	}
	for _, m := range alerts {
		if err := validateJSON(schema, m.Value); err != nil {
			t.Fatalf("alert does not match the schema: %v\n%s", err, m.Value)
		}
	}
	if n := testutil.ToFloat64(r.m.consumed.WithLabelValues(tAttempts)); int(n) != len(all) {
		t.Fatalf("consumed{%s} = %v, want %d", tAttempts, n, len(all))
	}
	if n := testutil.ToFloat64(r.m.produced.WithLabelValues(tDecisions)); int(n) != len(all) {
		t.Fatalf("produced{%s} = %v, want %d", tDecisions, n, len(all))
	}
	if n := testutil.ToFloat64(r.m.produced.WithLabelValues(tAlerts)); int(n) != nAlerts {
		t.Fatalf("produced{%s} = %v, want %d", tAlerts, n, nAlerts)
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
// with four workers deciding concurrently.
func TestPerUserOrder(t *testing.T) {
	c := startCluster(t, 6)
	const users, per = 24, 12
	var msgs []kafka.Message
	for i := range per {
		for u := range users {
			a := engine.Attempt{
				Tenant: "acme", AttemptID: fmt.Sprintf("u%d-%d", u, i), UserID: fmt.Sprintf("u-%d", u),
				IP: fmt.Sprintf("81.2.%d.%d", u, i+1), Result: engine.ResultPasswordBad,
				Attributes: map[string]string{"seq": strconv.Itoa(i)},
			}
			msgs = append(msgs, attemptMsgs(t, []engine.Attempt{a})...)
		}
	}
	produce(t, c, msgs...)
	opts := testOptions(c)
	opts.Workers, opts.BatchSize = 4, 8
	r := start(t, opts, NewTestEngine(t, engine.Options{}))
	decs := readTopic(t, c, tDecisions, len(msgs))
	r.stop(t)
	next := map[string]int{}
	for _, m := range decs { // in partition and offset order
		var d engine.Decision
		if err := json.Unmarshal(m.Value, &d); err != nil {
			t.Fatal(err)
		}
		seq, _ := strconv.Atoi(d.Signals.Attempt.Attributes["seq"])
		u := d.Signals.Attempt.UserID
		if seq != next[u] {
			t.Fatalf("user %s: decision for attempt %d after %d", u, seq, next[u]-1)
		}
		next[u]++
		// Failures of one account from its own addresses: the account
		// window counts every earlier attempt exactly once.
		if got := d.Signals.Account.Failures1h; got != seq+1 {
			t.Fatalf("user %s attempt %d: account.failures_1h = %d, want %d", u, seq, got, seq+1)
		}
	}
	if len(next) != users {
		t.Fatalf("decisions for %d users, want %d", len(next), users)
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
