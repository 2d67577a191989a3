package stream

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/riskgate/riskgate/engine"
)

// produceLarge is produce with room for messages of up to 8 MiB (the
// broker's limit permitting), as a
// producer configured for a broker that takes them would send them.
func produceLarge(t testing.TB, c *cluster, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(c.addrs...), Balancer: Partitioner, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, BatchBytes: 8 << 20}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// setTopicConfig sets a topic's configuration, as kafka-configs.sh would.
func setTopicConfig(t testing.TB, c *cluster, topic, name, value string) {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(c.addrs...), Timeout: 10 * time.Second}
	res, err := cl.IncrementalAlterConfigs(context.Background(), &kafka.IncrementalAlterConfigsRequest{
		Resources: []kafka.IncrementalAlterConfigsRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
			Configs: []kafka.IncrementalAlterConfigsRequestConfig{{Name: name, Value: value, ConfigOperation: kafka.ConfigOperationSet}},
		}},
	})
	if err == nil && len(res.Resources) == 1 {
		err = res.Resources[0].Error
	}
	if err != nil {
		t.Fatalf("set %s=%s on %s: %v", name, value, topic, err)
	}
}

// committed is the group's committed offset of a topic's partition 0.
func committed(t testing.TB, c *cluster, group, topic string) int64 {
	t.Helper()
	cl := &kafka.Client{Addr: kafka.TCP(c.addrs...), Timeout: 10 * time.Second}
	res, err := cl.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: {0}}})
	if err == nil {
		err = res.Error
	}
	if errors.Is(err, kafka.GroupIdNotFound) {
		return -1 // nothing committed yet
	}
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	for _, p := range res.Topics[topic] {
		if p.Partition == 0 {
			return p.CommittedOffset
		}
	}
	return -1
}

// invalidAttempt is a JSON attempt of exactly size bytes, with a username
// far too long, as a producer with a bug would send it.
func invalidAttempt(size int) []byte {
	const head, tail = `{"tenant":"acme","user_id":"u1","ip":"81.2.69.1","username":"`, `"}`
	return []byte(head + strings.Repeat("a", size-len(head)-len(tail)) + tail)
}

// TestOversizedPoisonMovesOn puts an invalid attempt too big to be
// dead-lettered whole (for the writer, for the broker, or even cut for a
// dead-letter topic with a small limit) between a small invalid one and
// a valid one on one partition: the valid one is decided, the big one's
// dead letter is cut to its first 64 KiB and says so, or is dropped and
// counted when even that is refused, and the partition moves on, its
// offsets committed, with the brokers still seen as connected.
func TestOversizedPoisonMovesOn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		broker map[string]string // broker configuration
		dlMax  string            // max.message.bytes of the dead-letter topic
		size   int               // of the big invalid attempt
		// dropped: the cut dead letter is refused too.
		dropped bool
	}{
		// The broker takes 20 MB; the writer sends at most 1 MiB.
		{name: "over the writer's limit", broker: map[string]string{"message.max.bytes": "20000000"}, size: 5 << 20},
		// The attempt fits the broker's limit, its dead letter (its
		// headers added) would not.
		{name: "at the broker's limit", broker: map[string]string{"message.max.bytes": "300000"}, size: 300000 - 120},
		{name: "dead letter refused", dlMax: "16384", size: 100 << 10, dropped: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var extra []kfake.Opt
			if tc.broker != nil {
				extra = append(extra, kfake.BrokerConfigs(tc.broker))
			}
			c := startCluster(t, 1, extra...)
			if tc.dlMax != "" {
				setTopicConfig(t, c, tDead, "max.message.bytes", tc.dlMax)
			}
			small := []byte(`{"tenant":"acme","user_id":"u1","ip":"81.2.69.999"}`)
			big := invalidAttempt(tc.size)
			key := []byte("acme/u1")
			// One at a time: the big one alone is within the broker's limit.
			for _, m := range []kafka.Message{
				{Topic: tAttempts, Key: key, Value: small},
				{Topic: tAttempts, Key: key, Value: big, Headers: []kafka.Header{{Key: "trace", Value: []byte("big")}}},
				{Topic: tAttempts, Key: key, Value: []byte(`{"tenant":"acme","attempt_id":"ok","user_id":"u1","ip":"81.2.69.1"}`)},
			} {
				produceLarge(t, c, m)
			}
			opts := testOptions(c)
			r := start(t, opts, NewTestEngine(t, engine.Options{}))

			decs := decisionsByAttempt(t, readTopic(t, c, tDecisions, 1))
			if len(decs["ok"]) != 1 {
				t.Fatalf("decisions %+v, want one for the valid attempt", decs)
			}
			waitFor(t, "the offsets to be committed", func() bool { return committed(t, c, opts.Group, tAttempts) == 3 })
			// By original offset: delivery is at least once.
			dead := map[string]kafka.Message{}
			for _, m := range readTopic(t, c, tDead, -1) {
				dead[header(m, HeaderOriginalOffset)] = m
			}
			if m, ok := dead["0"]; !ok || !bytes.Equal(m.Value, small) || header(m, HeaderTruncatedFrom) != "" {
				t.Fatalf("the small invalid attempt's dead letter: %v", m)
			}
			refused := testutil.ToFloat64(r.m.refused.WithLabelValues(tDead, "too_large"))
			m, ok := dead["1"]
			if tc.dropped {
				if ok || refused < 1 {
					t.Fatalf("big one's dead letter written %v, %v refused: want it dropped and counted", ok, refused)
				}
			} else {
				if !ok || refused != 0 {
					t.Fatalf("big one's dead letter written %v, %v refused: want it written", ok, refused)
				}
				if len(m.Value) != deadLetterValueMax || !bytes.Equal(m.Value, big[:deadLetterValueMax]) {
					t.Fatalf("dead letter of %d bytes, want the first %d of the attempt", len(m.Value), deadLetterValueMax)
				}
				if got := header(m, HeaderTruncatedFrom); got != strconv.Itoa(len(big)) {
					t.Fatalf("%s: %q, want %d", HeaderTruncatedFrom, got, len(big))
				}
				if header(m, HeaderError) == "" || header(m, "trace") != "big" || string(m.Key) != "acme/u1" {
					t.Fatalf("dead letter headers %v, key %q", m.Headers, m.Key)
				}
			}
			if n := testutil.ToFloat64(r.m.writeErrors.WithLabelValues(tDead)); n != 0 {
				t.Fatalf("write_errors{%s} = %v: a refused write was retried", tDead, n)
			}
			if got := testutil.ToFloat64(r.m.connected); got != 1 {
				t.Fatalf("connected = %v, want 1: the brokers answered", got)
			}
			if got := testutil.ToFloat64(r.m.lag.WithLabelValues(tAttempts, "0")); got != 0 {
				t.Fatalf("lag = %v after the commit", got)
			}
			r.stop(t)
		})
	}
}

// TestRefusedDecisionDeadLettersItsAttempt makes the decisions topic
// refuse every decision (a max.message.bytes below their size): the
// attempt goes to the dead-letter topic with why, or is logged and
// counted without one, rather than holding its partition forever.
func TestRefusedDecisionDeadLettersItsAttempt(t *testing.T) {
	for _, tc := range []struct {
		name string
		dlt  bool
	}{
		{"dead-letter topic", true},
		{"no dead-letter topic", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, 1)
			setTopicConfig(t, c, tDecisions, "max.message.bytes", "200")
			valid := []byte(`{"tenant":"acme","attempt_id":"a1","user_id":"u1","ip":"81.2.69.1"}`)
			produce(t, c, kafka.Message{Topic: tAttempts, Key: []byte("acme/u1"), Value: valid})
			opts := testOptions(c)
			if !tc.dlt {
				opts.DeadLetterTopic = ""
			}
			r := start(t, opts, NewTestEngine(t, engine.Options{}))
			waitFor(t, "the offsets to be committed", func() bool { return committed(t, c, opts.Group, tAttempts) == 1 })
			if tc.dlt {
				dead := readTopic(t, c, tDead, 1)
				m := dead[0]
				if !bytes.Equal(m.Value, valid) || header(m, HeaderOriginalOffset) != "0" ||
					!strings.Contains(header(m, HeaderError), tDecisions) || !strings.Contains(header(m, HeaderError), "Message Size Too Large") {
					t.Fatalf("dead letter %q with headers %v", m.Value, m.Headers)
				}
			}
			if got := testutil.ToFloat64(r.m.refused.WithLabelValues(tDecisions, "too_large")); got != 1 {
				t.Fatalf("refused{%s} = %v, want 1", tDecisions, got)
			}
			if got := testutil.ToFloat64(r.m.deadLettered.WithLabelValues(tAttempts)); got != 1 {
				t.Fatalf("dead_lettered{%s} = %v, want 1", tAttempts, got)
			}
			if got := testutil.ToFloat64(r.m.connected); got != 1 {
				t.Fatalf("connected = %v, want 1", got)
			}
			r.stop(t)
		})
	}
}

// TestLagShowsStall holds the scoring of a partition's first attempt: the
// lag shows the messages fetched behind it, though nothing is committed,
// and falls to 0 once they are.
func TestLagShowsStall(t *testing.T) {
	c := startCluster(t, 1)
	all := journeys(0, 2)
	produce(t, c, attemptMsgs(t, all)...)
	e := NewTestEngine(t, engine.Options{})
	release := make(chan struct{})
	first := true
	r := start(t, testOptions(c), scorerFunc{
		score: func(ctx context.Context, a engine.Attempt) (engine.Decision, error) {
			if first { // one worker scores a partition: no race
				first = false
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
			return e.Score(ctx, a)
		},
		report: e.Report,
	})
	lag := func() float64 { return testutil.ToFloat64(r.m.lag.WithLabelValues(tAttempts, "0")) }
	waitFor(t, "the lag to show the stalled partition", func() bool { return lag() == float64(len(all)) })
	close(release)
	readTopic(t, c, tDecisions, len(all))
	waitFor(t, "the lag to fall to 0", func() bool { return lag() == 0 })
	r.stop(t)
}
