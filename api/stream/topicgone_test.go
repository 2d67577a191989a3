package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
)

// A consumed topic deleted while the runner runs: the other consumed
// topic goes on being consumed, riskgate_kafka_topic_missing says which
// is missing, and once the topic is made again (at its partition count,
// as before) it is consumed again. Before, kafka-go's partition watch
// ended every generation at once while a topic was missing (a rejoin loop
// of hundreds a second), its leader assigned no partition of any topic,
// and once the topic was back nothing changed for the watch: the group
// stayed assigned nothing, every attempt unscored, until a restart.
func TestConsumedTopicDeletedAndMadeAgain(t *testing.T) {
	c := startCluster(t, 3)
	r := startWith(t, testOptions(c), service.New(NewTestEngine(t, engine.Options{}), nil), func(r *Runner) {
		r.topicEvery = 100 * time.Millisecond
	})
	missing := func() float64 { return testutil.ToFloat64(r.m.topicMissing.WithLabelValues(tOutcomes)) }
	decided := 0
	batch := func(name string) {
		t.Helper()
		var as []engine.Attempt
		for u := range 6 {
			as = append(as, engine.Attempt{
				AttemptID: fmt.Sprintf("%s-%d", name, u), Time: time.Date(2026, 5, 4, 10, 0, u, 0, time.UTC),
				UserID: fmt.Sprintf("u%d", u), IP: "81.2.69.160", Result: engine.ResultPasswordOK,
			})
		}
		produce(t, c, attemptMsgs(t, as)...)
		decided += len(as)
		got := map[string]bool{}
		for _, m := range readTopic(t, c, tDecisions, decided) {
			var d engine.Decision
			if err := json.Unmarshal(m.Value, &d); err != nil {
				t.Fatal(err)
			}
			got[d.AttemptID] = true
		}
		for _, a := range as {
			if !got[a.AttemptID] {
				t.Fatalf("%s: attempt %s not decided", name, a.AttemptID)
			}
		}
	}
	admin := func(f func(*kafka.Conn) error) {
		t.Helper()
		conn, err := kafka.Dial("tcp", c.addrs[0])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := f(conn); err != nil {
			t.Fatal(err)
		}
	}

	batch("before")
	if missing() != 0 {
		t.Fatal("the outcomes topic is reported missing before it is deleted")
	}
	admin(func(c *kafka.Conn) error { return c.DeleteTopics(tOutcomes) })
	waitFor(t, "the outcomes topic reported missing", func() bool { return missing() == 1 })
	rebalances := testutil.ToFloat64(r.m.rebalances)
	batch("while missing")
	// Let a storm show if there is one: the watch looks every 100 ms.
	time.Sleep(time.Second)
	if n := testutil.ToFloat64(r.m.rebalances) - rebalances; n > 2 {
		t.Errorf("%v generations in the second after the topic went: a rejoin loop", n)
	}

	admin(func(c *kafka.Conn) error {
		return c.CreateTopics(kafka.TopicConfig{Topic: tOutcomes, NumPartitions: 3, ReplicationFactor: 1})
	})
	waitFor(t, "the outcomes topic reported back", func() bool { return missing() == 0 })
	batch("after")
	// The outcomes topic is consumed again.
	before := testutil.ToFloat64(r.m.consumed.WithLabelValues(tOutcomes))
	o, _ := json.Marshal(engine.Outcome{DecisionID: "01KAV2X0M8Q6E4W9S1B3N7T5YC", Outcome: engine.LoginFailed})
	// kafka-go's shared transport keeps the metadata it read of the
	// topic deleted for a while: a write to it may be refused until then.
	w := &kafka.Writer{Addr: kafka.TCP(c.addrs...), Balancer: Partitioner, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	waitFor(t, "an outcome written to the topic made again", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return w.WriteMessages(ctx, kafka.Message{Topic: tOutcomes, Key: Key("", "u0"), Value: o}) == nil
	})
	waitFor(t, "the outcome consumed", func() bool { return testutil.ToFloat64(r.m.consumed.WithLabelValues(tOutcomes)) > before })
}

// A consumed topic deleted and made again between two looks of the
// topics' watch, at its partition count: the group's and the readers'
// offsets are the old topic's, past the end of the new one. Each
// partition is moved to where --kafka-start-offset starts (earliest), so
// every attempt of the topic made again is decided, and the resets are
// counted. kafka-go retried the old offsets for ever: the attempts went
// undecided, without an error, until the topic grew past them.
func TestConsumedTopicMadeAgainUnseen(t *testing.T) {
	c := startCluster(t, 2)
	r := startWith(t, testOptions(c), service.New(NewTestEngine(t, engine.Options{}), nil), func(r *Runner) {
		r.topicEvery = time.Hour // the watch never looks
	})
	attempts := func(name string, n int) []engine.Attempt {
		var as []engine.Attempt
		for u := range n {
			as = append(as, engine.Attempt{
				AttemptID: fmt.Sprintf("%s-%d", name, u), Time: time.Date(2026, 5, 4, 10, 0, u%60, 0, time.UTC),
				UserID: fmt.Sprintf("u%d", u), IP: "81.2.69.160", Result: engine.ResultPasswordOK,
			})
		}
		return as
	}
	old := attempts("old", 60)
	produce(t, c, attemptMsgs(t, old)...)
	readTopic(t, c, tDecisions, len(old))

	conn, err := kafka.Dial("tcp", c.addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.DeleteTopics(tAttempts); err != nil {
		t.Fatal(err)
	}
	if err := conn.CreateTopics(kafka.TopicConfig{Topic: tAttempts, NumPartitions: 2, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	// Fewer than the old topic held: every partition's new end is before
	// its old offset.
	fresh := attempts("new", 6)
	w := &kafka.Writer{Addr: kafka.TCP(c.addrs...), Balancer: Partitioner, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	waitFor(t, "the attempts written to the topic made again", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return w.WriteMessages(ctx, attemptMsgs(t, fresh)...) == nil
	})
	got := map[string]bool{}
	for _, m := range readTopic(t, c, tDecisions, len(old)+len(fresh)) {
		var d engine.Decision
		if err := json.Unmarshal(m.Value, &d); err != nil {
			t.Fatal(err)
		}
		got[d.AttemptID] = true
	}
	for _, a := range fresh {
		if !got[a.AttemptID] {
			t.Errorf("attempt %s of the topic made again not decided", a.AttemptID)
		}
	}
	if n := testutil.ToFloat64(r.m.offsetResets.WithLabelValues(tAttempts)); n == 0 {
		t.Error("no offset reset counted")
	}
}
