package stream

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/riskgate/riskgate/engine"
)

// Delivery is at least once: a runner whose group session expires (a
// machine so loaded that its heartbeats stop for longer than the session
// timeout, as a -race run of every package on two busy cores can) is taken
// for dead, its commits are refused, and what it decided since its last
// commit is delivered again. The tests of a whole run check what the
// stream promises then (per-user order of the first decisions, each
// repeat the first decision again) rather than exactly one decision per
// attempt, and that only such a loss repeats anything.

// readUntilAll reads topic until every attempt of ids has a message
// there (idOf names the attempt a message is for), and returns what it
// read, in partition and offset order. Reading a count of messages is
// not enough: repeats would stand in for the attempts not decided yet.
func readUntilAll(t testing.TB, c *cluster, topic string, ids []string, idOf func(testing.TB, kafka.Message) string) []kafka.Message {
	t.Helper()
	all := func(msgs []kafka.Message) bool {
		seen := make(map[string]bool, len(msgs))
		for _, m := range msgs {
			seen[idOf(t, m)] = true
		}
		for _, id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	}
	msgs := readTopic(t, c, topic, len(ids))
	if !all(msgs) {
		waitFor(t, "a message for every attempt on "+topic, func() bool {
			msgs = readTopic(t, c, topic, -1)
			return all(msgs)
		})
	}
	return msgs
}

// decisionAttempt is the attempt a decision message is for.
func decisionAttempt(t testing.TB, m kafka.Message) string {
	var d engine.Decision
	if err := json.Unmarshal(m.Value, &d); err != nil {
		t.Fatalf("decision %s: %v", m.Value, err)
	}
	return d.AttemptID
}

// delivered checks decisions read in partition and offset order against
// what the stream promises: each user's first decisions come in the order
// of their attempts (attribute "seq", from 0, with no gap), and a
// decision repeated by a redelivery comes after the first and is the
// first again (its id, action, score, reasons; not its signals, which are
// read anew). It returns the first decision of each attempt, and how many
// decisions repeated one.
func delivered(t testing.TB, msgs []kafka.Message) (first map[string]engine.Decision, repeated int) {
	t.Helper()
	first = map[string]engine.Decision{}
	next := map[string]int{} // by user (key)
	for _, m := range msgs {
		var d engine.Decision
		if err := json.Unmarshal(m.Value, &d); err != nil {
			t.Fatalf("decision %s: %v", m.Value, err)
		}
		seq, err := strconv.Atoi(d.Signals.Attempt.Attributes["seq"])
		if err != nil {
			t.Fatalf("decision for %s: attribute seq: %v", d.AttemptID, err)
		}
		user := string(decisionKey(&d))
		switch {
		case seq == next[user]:
			first[d.AttemptID] = d
			next[user]++
		case seq > next[user]:
			t.Fatalf("user %s: decision for attempt %d before attempt %d's", user, seq, next[user])
		default:
			f, ok := first[d.AttemptID]
			if !ok {
				t.Fatalf("user %s: attempt %s (seq %d) is not the attempt decided at seq %d", user, d.AttemptID, seq, seq)
			}
			if err := sameFirstDecision(d, f); err != nil {
				t.Fatalf("user %s: attempt %d decided again after attempt %d: not the first decision: %v", user, seq, next[user]-1, err)
			}
			repeated++
		}
	}
	return first, repeated
}

// sameFirstDecision compares a repeated decision with the first, through
// JSON as the topic carries them, signals aside.
func sameFirstDecision(got, first engine.Decision) error {
	got.Signals, first.Signals = engine.Env{}, engine.Env{}
	g, _ := json.Marshal(got)
	f, _ := json.Marshal(first)
	if string(g) != string(f) {
		return fmt.Errorf("decision differs:\n got %s\nfirst %s", g, f)
	}
	return nil
}

// mayRepeat fails the test when decisions were repeated although nothing
// that repeats one happened to the runners rs: no commit refused (a
// generation lost, its decided messages delivered again) and no write
// retried (the brokers may have appended a write whose answer was lost).
// A clean run, clean handovers included, repeats nothing. Call it once
// the runners have stopped. It logs what happened, the evidence when a
// loaded machine made the stream redeliver.
func mayRepeat(t testing.TB, repeated int, rs ...*running) {
	t.Helper()
	var generations, commitErrors, writeErrors float64
	var produceErrors int64
	for _, r := range rs {
		generations += testutil.ToFloat64(r.m.rebalances)
		commitErrors += testutil.ToFloat64(r.m.commitErrors)
		writeErrors += testutil.ToFloat64(r.m.writeErrors.WithLabelValues(tDecisions)) + testutil.ToFloat64(r.m.writeErrors.WithLabelValues(tAlerts))
		produceErrors += r.writer.Stats().Errors // kafka-go's own retries of a produce request
	}
	if repeated > 0 || commitErrors > 0 {
		t.Logf("%d decisions repeated; %v generations, %v commits refused, %v writes retried, %d produce requests failed",
			repeated, generations, commitErrors, writeErrors, produceErrors)
	}
	if repeated > 0 && commitErrors == 0 && writeErrors == 0 && produceErrors == 0 {
		t.Fatalf("%d decisions repeated, with no commit refused and no write retried: a clean run repeats nothing", repeated)
	}
}

// dropped makes the cluster answer the group's heartbeats and offset
// commits, while lost holds, as the coordinator answers a member whose
// session expired: the member rejoins (a new generation), and what it
// decided meanwhile is not committed.
func dropped(c *cluster, lost *atomic.Bool) {
	c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !lost.Load() {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.RebalanceInProgress.Code
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !lost.Load() {
			return nil, nil, false
		}
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.IllegalGeneration.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}
