package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/proto"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/engine"
)

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestPoisonGoesToDeadLetters puts undecodable and invalid messages between
// good ones on one partition: each bad one reaches the dead-letter topic
// with its error and origin, and the partition moves on.
func TestPoisonGoesToDeadLetters(t *testing.T) {
	c := startCluster(t, 1)
	good := func(i int) kafka.Message {
		return kafka.Message{Topic: tAttempts, Key: []byte("acme/u1"), Value: []byte(fmt.Sprintf(`{"tenant":"acme","attempt_id":"g%d","user_id":"u1","ip":"81.2.69.%d"}`, i, i+1))}
	}
	bad := []struct {
		value, ctype string
		field        string
		msg          string
		dead         string // the dead letter's value, when not the original
	}{
		{`{"tenant":"acme","ip":`, "", "", "truncated JSON", ""},
		{`{"tenant":"acme","ip":"81.2.69.999"}`, "", "ip", "not an IPv4 or IPv6 address", ""},
		// A plain password is redacted (TestSecretsStayOutOfDeadLetters).
		{`{"tenant":"acme","ip":"81.2.69.1","password":"hunter2"}`, "", "password", "unknown field",
			`{"tenant":"acme","ip":"81.2.69.1","password":"[redacted by riskgate]"}`},
		{`{"tenant":"acme","ip":"81.2.69.1","result":"perhaps"}`, "", "result", "unknown result", ""},
		{`{"ip":"81.2.69.1"}`, "text/csv", "", "content-type", ""},
		{"\x0a\x03\xff", "application/x-protobuf", "", "riskgate.v1.Attempt", ""},
	}
	var msgs []kafka.Message
	for i, b := range bad {
		msgs = append(msgs, good(i))
		m := kafka.Message{Topic: tAttempts, Key: []byte("acme/u1"), Value: []byte(b.value), Headers: []kafka.Header{{Key: "trace", Value: []byte(strconv.Itoa(i))}}}
		if b.ctype != "" {
			m.Headers = append(m.Headers, kafka.Header{Key: HeaderContentType, Value: []byte(b.ctype)})
		}
		msgs = append(msgs, m)
	}
	msgs = append(msgs, good(len(bad)))
	produce(t, c, msgs...)
	r := start(t, testOptions(c), NewTestEngine(t, engine.Options{}))
	decs := readTopic(t, c, tDecisions, len(bad)+1)
	dead := readTopic(t, c, tDead, len(bad))
	r.stop(t)

	for i, d := range decs {
		var dec engine.Decision
		if err := json.Unmarshal(d.Value, &dec); err != nil || dec.AttemptID != fmt.Sprintf("g%d", i) {
			t.Fatalf("decision %d: %s (%v)", i, d.Value, err)
		}
	}
	for i, m := range dead {
		b := bad[i]
		want := b.value
		if b.dead != "" {
			want = b.dead
		}
		if string(m.Value) != want || string(m.Key) != "acme/u1" {
			t.Fatalf("dead letter %d: %q, want %q", i, m.Value, want)
		}
		if got := header(m, HeaderError); !strings.Contains(got, b.msg) {
			t.Fatalf("dead letter %d: error %q, want it to say %q", i, got, b.msg)
		}
		if got := header(m, HeaderErrorField); got != b.field {
			t.Fatalf("dead letter %d: field %q, want %q", i, got, b.field)
		}
		wantOffset := strconv.Itoa(2*i + 1)
		if header(m, HeaderOriginalTopic) != tAttempts || header(m, HeaderOriginalPartition) != "0" || header(m, HeaderOriginalOffset) != wantOffset {
			t.Fatalf("dead letter %d: origin %s/%s/%s, want %s/0/%s", i, header(m, HeaderOriginalTopic),
				header(m, HeaderOriginalPartition), header(m, HeaderOriginalOffset), tAttempts, wantOffset)
		}
		if header(m, "trace") != strconv.Itoa(i) {
			t.Fatalf("dead letter %d lost the original headers: %v", i, m.Headers)
		}
	}
	if n := testutil.ToFloat64(r.m.deadLettered.WithLabelValues(tAttempts)); int(n) != len(bad) {
		t.Fatalf("dead_lettered{%s} = %v", tAttempts, n)
	}
}

// TestOutcomesTopic reports outcomes from their topic: a passed step-up
// teaches the baseline (the next login from there is not new), and an
// outcome for an unknown decision is counted, not dead-lettered.
func TestOutcomesTopic(t *testing.T) {
	c := startCluster(t, 2)
	e := NewTestEngine(t, engine.Options{})
	lat, lon := 48.85, 2.35
	first := engine.Attempt{Tenant: "acme", AttemptID: "a1", UserID: "u1", IP: "81.2.69.160", DeviceID: "d1", Result: engine.ResultUnknown,
		Time: time.Date(2026, 5, 9, 8, 0, 0, 0, time.UTC), Geo: &engine.GeoHint{Country: "FR", Lat: &lat, Lon: &lon}}
	produce(t, c, attemptMsgs(t, []engine.Attempt{first})...)
	r := start(t, testOptions(c), e)
	decs := decisionsByAttempt(t, readTopic(t, c, tDecisions, 1))
	d := decs["a1"][0]
	if d.Action != engine.ActionStepUp && d.Action != engine.ActionAllow {
		t.Fatalf("first login: %s", d.Action)
	}
	// The identity server stepped the user up (or let them in) and says so.
	outcome := "step_up_passed"
	if d.Action == engine.ActionAllow {
		outcome = "login_succeeded"
	}
	o, _ := json.Marshal(map[string]string{"tenant": "acme", "decision_id": d.DecisionID, "outcome": outcome})
	unknown := []byte(`{"tenant":"acme","decision_id":"01NOSUCHDECISION","outcome":"login_failed"}`)
	pbo, _ := proto.Marshal(&pb.ReportRequest{Tenant: "acme", DecisionId: "01ALSOUNKNOWN", Outcome: pb.Outcome_OUTCOME_LOGIN_FAILED})
	produce(t, c,
		kafka.Message{Topic: tOutcomes, Key: []byte("acme/u1"), Value: o},
		kafka.Message{Topic: tOutcomes, Key: []byte("acme/u1"), Value: unknown},
		kafka.Message{Topic: tOutcomes, Key: []byte("acme/u1"), Value: pbo, Headers: []kafka.Header{{Key: HeaderContentType, Value: []byte("application/x-protobuf")}}},
		kafka.Message{Topic: tOutcomes, Key: []byte("acme/u1"), Value: []byte(`{"outcome":"login_failed"}`)},
	)
	dead := readTopic(t, c, tDead, 1)
	if header(dead[0], HeaderErrorField) != "decision_id" || header(dead[0], HeaderOriginalTopic) != tOutcomes {
		t.Fatalf("dead letter %s with headers %v", dead[0].Value, dead[0].Headers)
	}
	waitFor(t, "the unknown decisions to be counted", func() bool {
		return testutil.ToFloat64(r.m.skipped.WithLabelValues("unknown_decision")) == 2
	})
	r.stop(t)
	p, ok, err := e.Profile(context.Background(), "acme", "u1")
	if err != nil || !ok || p.Logins != 1 {
		t.Fatalf("profile after the outcome: %+v, %v, %v", p, ok, err)
	}
}

// TestProtobufAttempts decodes protobuf attempts, by header and by the
// configured default.
func TestProtobufAttempts(t *testing.T) {
	c := startCluster(t, 1)
	enc := func(id string) []byte {
		b, err := proto.Marshal(&pb.Attempt{Tenant: "acme", AttemptId: id, UserId: "u1", Ip: "81.2.69.160", Result: pb.Result_RESULT_PASSWORD_BAD})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	produce(t, c,
		kafka.Message{Topic: tAttempts, Key: []byte("acme/u1"), Value: enc("p1")},
		kafka.Message{Topic: tAttempts, Key: []byte("acme/u1"), Value: []byte(`{"tenant":"acme","attempt_id":"j1","ip":"81.2.69.1"}`),
			Headers: []kafka.Header{{Key: HeaderContentType, Value: []byte("application/json; charset=utf-8")}}},
	)
	opts := testOptions(c)
	opts.AttemptFormat = "protobuf"
	r := start(t, opts, NewTestEngine(t, engine.Options{}))
	decs := decisionsByAttempt(t, readTopic(t, c, tDecisions, 2))
	r.stop(t)
	if d := decs["p1"]; len(d) != 1 || d[0].Signals.Attempt.Result != "password_bad" || d[0].Tenant != "acme" {
		t.Fatalf("protobuf attempt: %+v", d)
	}
	if len(decs["j1"]) != 1 {
		t.Fatalf("json attempt by header: %+v", decs)
	}
}

// TestAttemptWithoutIDOrTime gets its id from its coordinates and its time
// from the message, and a redelivery of it is recognised.
func TestAttemptWithoutIDOrTime(t *testing.T) {
	c := startCluster(t, 1)
	at := time.Date(2026, 5, 9, 10, 0, 0, 0, time.UTC)
	produce(t, c, kafka.Message{Topic: tAttempts, Key: []byte("acme/u1"), Value: []byte(`{"tenant":"acme","user_id":"u1","ip":"81.2.69.1","result":"password_bad"}`), Time: at})
	e := NewTestEngine(t, engine.Options{})
	opts := testOptions(c)
	r := start(t, opts, e)
	decs := decisionsByAttempt(t, readTopic(t, c, tDecisions, 1))
	r.stop(t)
	id := fmt.Sprintf("%s/0/0@%d", tAttempts, at.UnixMilli())
	d := decs[id]
	if len(d) != 1 || !d[0].Time.Equal(at) {
		t.Fatalf("decisions %+v, want one for %s at %s", decs, id, at)
	}
	// The same message again (a redelivery): the same decision, and the
	// account is not counted twice.
	opts.Group = "another-group"
	r2 := start(t, opts, e)
	decs = decisionsByAttempt(t, readTopic(t, c, tDecisions, 2))
	r2.stop(t)
	if again := decs[id]; len(again) != 2 || again[1].DecisionID != d[0].DecisionID || again[1].Signals.Account.Failures1h != 1 {
		t.Fatalf("redelivery decided %+v, want the first decision again", again)
	}
}

// TestAttemptsWithoutIDAfterOffsetsStartAgain: the attempts topic made
// again (or the cluster replaced) starts its partitions at offset 0 again;
// the attempts produced then, without attempt_id, are new attempts, not
// redeliveries of those decided at the same coordinates before. Before,
// their ids were the coordinates alone: within --attempt-window one of
// another user was dead-lettered ("attempt_id: already used for a
// different attempt"), and one of the same user from the same address
// got the earlier decision back and was not counted.
func TestAttemptsWithoutIDAfterOffsetsStartAgain(t *testing.T) {
	e := NewTestEngine(t, engine.Options{})
	at := time.Date(2026, 5, 9, 10, 0, 0, 0, time.UTC)
	msg := func(user string, sec int) kafka.Message {
		return kafka.Message{Topic: tAttempts, Key: []byte("acme/" + user), Time: at.Add(time.Duration(sec) * time.Second),
			Value: []byte(`{"tenant":"acme","user_id":"` + user + `","ip":"81.2.69.1","result":"password_bad"}`)}
	}
	c1 := startCluster(t, 1)
	produce(t, c1, msg("u1", 0), msg("u2", 1))
	r1 := start(t, testOptions(c1), e)
	first := decisionsByAttempt(t, readTopic(t, c1, tDecisions, 2))
	r1.stop(t)

	c2 := startCluster(t, 1) // its offsets start at 0 again
	produce(t, c2, msg("u1", 60), msg("u3", 61))
	r2 := start(t, testOptions(c2), e)
	dead := func() float64 { return testutil.ToFloat64(r2.m.deadLettered.WithLabelValues(tAttempts)) }
	waitFor(t, "both attempts decided or dead-lettered", func() bool {
		return dead()+testutil.ToFloat64(r2.m.produced.WithLabelValues(tDecisions)) >= 2
	})
	if n := dead(); n != 0 {
		t.Fatalf("%v attempts dead-lettered after the offsets started again", n)
	}
	second := readTopic(t, c2, tDecisions, 2)
	r2.stop(t)
	for _, m := range second {
		var d engine.Decision
		if err := json.Unmarshal(m.Value, &d); err != nil {
			t.Fatal(err)
		}
		if _, ok := first[d.AttemptID]; ok {
			t.Errorf("attempt of %s decided as %s, an id of the first cluster's", d.Signals.Attempt.UserID, d.AttemptID)
		}
		if d.Signals.Attempt.UserID == "u1" && d.Signals.Account.Failures1h != 2 {
			t.Errorf("u1's second failure: account failures in the hour %d, want 2 (counted)", d.Signals.Account.Failures1h)
		}
	}
}

// TestOutcomeWithAttemptWithoutIDRedelivered: an outcome sent with its
// attempt, which has no attempt_id, is applied once however often it is
// delivered, as an attempt without one is counted once: it gets its id
// from its coordinates. Before, each redelivery (a crash before the
// commit, a rebalance) counted the failure again.
func TestOutcomeWithAttemptWithoutIDRedelivered(t *testing.T) {
	c := startCluster(t, 1)
	at := time.Date(2026, 5, 9, 10, 0, 0, 0, time.UTC)
	produce(t, c, kafka.Message{Topic: tOutcomes, Key: []byte("acme/u9"), Time: at,
		Value: []byte(`{"outcome":"login_failed","attempt":{"tenant":"acme","user_id":"u9","ip":"81.2.69.9","time":"2026-05-09T10:00:00Z"}}`)})
	e := NewTestEngine(t, engine.Options{})
	opts := testOptions(c)
	for _, group := range []string{"first", "second"} { // the second reads it again: a redelivery
		opts.Group = group
		r := start(t, opts, e)
		waitFor(t, "the outcome consumed", func() bool { return testutil.ToFloat64(r.m.consumed.WithLabelValues(tOutcomes)) == 1 })
		r.stop(t)
	}
	d, err := e.Score(context.Background(), engine.Attempt{Tenant: "acme", UserID: "u9", IP: "81.2.69.9", Time: at.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if n := d.Signals.Account.Failures1h; n != 1 {
		t.Errorf("account failures in the hour after one outcome delivered twice: %d, want 1", n)
	}
}

// TestMisKeyedAttemptsAreCounted: attempts keyed <tenant>/<user> (by
// user_id, else the username trimmed and lower-cased) count nothing;
// one keyed otherwise or not at all is decided and counted, since its
// producer spreads a user's attempts over partitions.
func TestMisKeyedAttemptsAreCounted(t *testing.T) {
	c := startCluster(t, 1)
	msgs := []kafka.Message{
		{Key: []byte("acme/u1"), Value: []byte(`{"tenant":"acme","attempt_id":"k1","user_id":"u1","ip":"81.2.69.1"}`)},
		{Key: []byte("acme/bob@example.com"), Value: []byte(`{"tenant":"acme","attempt_id":"k2","username":" Bob@Example.com","ip":"81.2.69.2"}`)},
		{Key: []byte("default/u3"), Value: []byte(`{"attempt_id":"k3","user_id":"u3","ip":"81.2.69.3"}`)},
		{Key: []byte("u1"), Value: []byte(`{"tenant":"acme","attempt_id":"k4","user_id":"u1","ip":"81.2.69.4"}`)},
		{Value: []byte(`{"tenant":"acme","attempt_id":"k5","user_id":"u1","ip":"81.2.69.5"}`)},
	}
	for i := range msgs {
		msgs[i].Topic = tAttempts
	}
	produce(t, c, msgs...)
	r := start(t, testOptions(c), NewTestEngine(t, engine.Options{}))
	readTopic(t, c, tDecisions, len(msgs))
	if got := testutil.ToFloat64(r.m.misKeyed.WithLabelValues(tAttempts)); got != 2 {
		t.Errorf("mis-keyed attempts counted %v, want 2 (the key \"u1\" and no key)", got)
	}
	r.stop(t)
}
