package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/syncbuf"
)

// commitTimedOut answers an offset commit with a timeout for every
// partition, as a coordinator that did not write it in time does.
func commitTimedOut(req kmsg.Request) kmsg.Response {
	r := req.(*kmsg.OffsetCommitRequest)
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = kerr.RequestTimedOut.Code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// usersMsgs are n attempts of users from..from+n, for the attempts topic.
func usersMsgs(t *testing.T, from, n int) []kafka.Message {
	var as []engine.Attempt
	for i := from; i < from+n; i++ {
		as = append(as, engine.Attempt{Tenant: "acme", UserID: fmt.Sprintf("u-%d", i), IP: "203.0.113.9", Result: engine.ResultPasswordOK})
	}
	return attemptMsgs(t, as)
}

// runUntilCommitFails runs a runner that decides and commits five
// attempts, then five more whose commit the broker fails (once, or every
// time while failing is set). It returns the runner, its Run's result
// and its cancel, and its log.
func runUntilCommitFails(t *testing.T, c *cluster, keep func() bool) (*Runner, chan error, context.CancelFunc, *syncbuf.Buffer) {
	t.Helper()
	produce(t, c, usersMsgs(t, 0, 5)...)
	var logs syncbuf.Buffer
	r, err := New(testOptions(c), Deps{Scorer: NewTestEngine(t, engine.Options{}), Alerts: testBuilder(t),
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()
	group := testOptions(c).Group
	waitFor(t, "the first five committed", func() bool { return committed(t, c, group, tAttempts) == 5 })
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if keep != nil {
			c.KeepControl()
			if !keep() {
				return nil, nil, false
			}
		}
		return commitTimedOut(req), nil, true
	})
	produce(t, c, usersMsgs(t, 5, 5)...)
	readTopic(t, c, tDecisions, 10)
	waitFor(t, "a failed commit", func() bool { return testutil.ToFloat64(r.m.commitErrors) >= 1 })
	return r, done, cancel, &logs
}

// TestCommitFailingAtShutdownIsUndrained: the messages of a commit that
// failed, and that nothing committed since (the partition's last batch),
// are left uncommitted by the shutdown when committing fails again: Run
// says how many (ErrUndrained, the process exits 1), and they are
// delivered again, as it says. The shutdown used to return nil.
func TestCommitFailingAtShutdownIsUndrained(t *testing.T) {
	c := startCluster(t, 1)
	var failing atomic.Bool
	failing.Store(true)
	_, done, cancel, logs := runUntilCommitFails(t, c, failing.Load)
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of shutdown")
	}
	if !errors.Is(err, ErrUndrained) {
		t.Fatalf("Run = %v, want ErrUndrained", err)
	}
	if !strings.Contains(err.Error(), ": 5 left uncommitted") {
		t.Errorf("Run = %q, want the five messages whose commit failed", err)
	}
	if !strings.Contains(logs.String(), "shutdown: committing offsets failed; their messages will be delivered again") {
		t.Errorf("the log does not say so:\n%s", logs)
	}
	if n := committed(t, c, testOptions(c).Group, tAttempts); n != 5 {
		t.Errorf("committed offset %d, want 5", n)
	}
	// Delivered again, to the next member of the group.
	failing.Store(false)
	r2 := start(t, testOptions(c), service.New(NewTestEngine(t, engine.Options{}), nil))
	readTopic(t, c, tDecisions, 15)
	r2.stop(t)
}

// TestCommitRetriedAtTheEndOfAGeneration: a commit that failed once,
// the partition's last, is tried again when the partition's generation
// ends (here, a shutdown): it succeeds, so the shutdown is clean and the
// messages are not delivered again.
func TestCommitRetriedAtTheEndOfAGeneration(t *testing.T) {
	c := startCluster(t, 1)
	_, done, cancel, logs := runUntilCommitFails(t, c, nil)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want a clean shutdown", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of shutdown")
	}
	if n := committed(t, c, testOptions(c).Group, tAttempts); n != 10 {
		t.Errorf("committed offset %d, want 10", n)
	}
	if !strings.Contains(logs.String(), "kafka commit retried at the end of the partition's generation") {
		t.Errorf("the retry is not in the log:\n%s", logs)
	}
}
