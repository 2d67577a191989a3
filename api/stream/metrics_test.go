package stream

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
)

// TestKnownTopicSeries: the topics configured have their counters at 0
// before any message, and those written a refusal series for every
// reason refusal gives, so that increase() counts the first of each.
func TestKnownTopicSeries(t *testing.T) {
	m := newMetrics()
	m.known([]string{"attempts", ""}, []string{"decisions", "", "dead"})
	if n := testutil.CollectAndCount(m.consumed); n != 3 {
		t.Errorf("%d consumed series, want 3 (a topic each)", n)
	}
	if n := testutil.CollectAndCount(m.refused); n != 2*len(refusalReasons) {
		t.Errorf("%d refused series, want %d", n, 2*len(refusalReasons))
	}
	for _, reason := range refusalReasons {
		if v := testutil.ToFloat64(m.refused.WithLabelValues("dead", reason)); v != 0 {
			t.Errorf("refused dead/%s = %v", reason, v)
		}
	}
	if n := testutil.CollectAndCount(m.refused); n != 2*len(refusalReasons) {
		t.Errorf("refusal reasons are not those refusal gives: %d series after reading them", n)
	}
}

// TestMessageDelay: each consumed message's delay, from its record
// timestamp to its commit, is observed once its offset is committed: ten
// attempts produced 90 seconds late are over a minute, ten produced now
// under it, and one whose producer's clock is an hour ahead counts 0, not
// minus an hour.
func TestMessageDelay(t *testing.T) {
	c := startCluster(t, 2)
	now := time.Now()
	var msgs []kafka.Message
	for i := range 21 {
		a := engine.Attempt{Tenant: "acme", UserID: fmt.Sprintf("u-%d", i), IP: "203.0.113.9", Result: engine.ResultPasswordOK}
		m := attemptMsgs(t, []engine.Attempt{a})[0]
		switch {
		case i < 10:
			m.Time = now.Add(-90 * time.Second)
		case i < 20:
			m.Time = now
		default:
			m.Time = now.Add(time.Hour)
		}
		msgs = append(msgs, m)
	}
	produce(t, c, msgs...)
	r := start(t, testOptions(c), service.New(NewTestEngine(t, engine.Options{}), nil))
	readTopic(t, c, tDecisions, len(msgs))
	h := func() *dto.Histogram {
		var m dto.Metric
		if err := r.m.delay.WithLabelValues(tAttempts).(prometheus.Metric).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram()
	}
	waitFor(t, "the delays of every committed message", func() bool { return h().GetSampleCount() == uint64(len(msgs)) })
	r.stop(t)
	got := h()
	var underMinute uint64
	for _, b := range got.GetBucket() {
		if b.GetUpperBound() == 60 {
			underMinute = b.GetCumulativeCount()
		}
	}
	if underMinute != 11 {
		t.Errorf("%d delays under a minute, want 11 (ten on time, one from the future)", underMinute)
	}
	// Ten of at least 90 s: a future message counted as negative would
	// take an hour off the sum.
	if sum := got.GetSampleSum(); sum < 900 || sum > 900+20*60 {
		t.Errorf("delays sum to %.0f s, want 900 s and the decisions' own time", sum)
	}
	if n := testutil.CollectAndCount(r.m.delay); n != 2 {
		t.Errorf("%d delay series, want one a consumed topic (attempts, outcomes)", n)
	}
}

// TestMessageDelayAfterFailedCommit: a commit that fails without a
// rebalance (the coordinator timed out) leaves its messages for the next
// commit of their partition, which covers their offsets: their delays are
// observed then, not lost.
func TestMessageDelayAfterFailedCommit(t *testing.T) {
	c := startCluster(t, 1)
	failed := make(chan struct{})
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := commitTimedOut(req)
		close(failed) // one commit only: the control is dropped once it answered
		return resp, nil, true
	})
	msgs := func(from, n int) []kafka.Message {
		var out []kafka.Message
		for i := from; i < from+n; i++ {
			a := engine.Attempt{Tenant: "acme", UserID: fmt.Sprintf("u-%d", i), IP: "203.0.113.9", Result: engine.ResultPasswordOK}
			m := attemptMsgs(t, []engine.Attempt{a})[0]
			m.Time = time.Now().Add(-time.Minute)
			out = append(out, m)
		}
		return out
	}
	produce(t, c, msgs(0, 5)...)
	r := start(t, testOptions(c), service.New(NewTestEngine(t, engine.Options{}), nil))
	select {
	case <-failed:
	case <-time.After(time.Minute):
		t.Fatal("no commit was made")
	}
	produce(t, c, msgs(5, 5)...)
	readTopic(t, c, tDecisions, 10)
	count := func() uint64 {
		var m dto.Metric
		if err := r.m.delay.WithLabelValues(tAttempts).(prometheus.Metric).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount()
	}
	waitFor(t, "the delays of all ten messages, the failed commit's too", func() bool { return count() == 10 })
	r.stop(t)
	if n := count(); n != 10 {
		t.Errorf("%d delays observed, want 10: one a message", n)
	}
	if n := testutil.ToFloat64(r.m.commitErrors); n != 1 {
		t.Errorf("%v commit errors, want 1", n)
	}
}
