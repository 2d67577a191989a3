package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/riskgate/riskgate/engine"
)

// SoakEnv turns on the soak test, which runs for about a minute; CI runs
// it in a step of its own.
const SoakEnv = "RISKGATE_KAFKA_SOAK"

// TestSoak produces attempts steadily while runners join and leave the
// group every few seconds (some gracefully, some with no time to drain)
// and the broker restarts once: every attempt is decided, and each user's
// decisions come out in order (a redelivery may repeat a stretch, never
// skip or reorder one).
func TestSoak(t *testing.T) {
	if os.Getenv(SoakEnv) == "" {
		t.Skipf("set %s=1 to run the soak test (about a minute)", SoakEnv)
	}
	port := 0 // the kernel's at the first start, then the same
	dir := t.TempDir()
	var mu sync.Mutex
	var c *cluster
	newCluster := func() {
		k, err := kfake.NewCluster(kfake.Ports(port), kfake.DataDir(dir),
			kfake.SeedTopics(6, tAttempts, tOutcomes, tDecisions, tAlerts, tDead),
			kfake.GroupMinSessionTimeout(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		port = listenPort(t, k)
		mu.Lock()
		c = &cluster{Cluster: k, addrs: k.ListenAddrs()}
		mu.Unlock()
	}
	newCluster()
	t.Cleanup(func() { c.Close() })
	current := func() *cluster {
		mu.Lock()
		defer mu.Unlock()
		return c
	}

	const users, duration, rate = 50, 40 * time.Second, 150 // attempts/s
	ctx, stop := context.WithTimeout(context.Background(), duration)
	defer stop()
	var produced []string
	var pmu sync.Mutex
	go func() { // the producer
		w := &kafka.Writer{Addr: kafka.TCP(fmt.Sprintf("127.0.0.1:%d", port)), Balancer: Partitioner, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
		defer w.Close()
		seq := make([]int, users)
		for ctx.Err() == nil {
			var msgs []kafka.Message
			var batch []string
			for range rate / 10 {
				u := rand.IntN(users)
				a := engine.Attempt{
					Tenant: "soak", AttemptID: fmt.Sprintf("u%d-%d", u, seq[u]), UserID: fmt.Sprintf("u-%d", u),
					IP: fmt.Sprintf("81.3.%d.%d", u, seq[u]%250+1), Result: engine.ResultPasswordBad,
					Attributes: map[string]string{"seq": strconv.Itoa(seq[u])},
				}
				seq[u]++
				msgs = append(msgs, attemptMsgs(t, []engine.Attempt{a})...)
				batch = append(batch, a.AttemptID)
			}
			// A write during the broker restart fails: retry it, as a
			// producer would.
			for ctx.Err() == nil {
				wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := w.WriteMessages(wctx, msgs...)
				cancel()
				if err == nil {
					pmu.Lock()
					produced = append(produced, batch...)
					pmu.Unlock()
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	opts := testOptions(current())
	opts.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	var runners []*running
	crashes := map[*running]bool{}
	startOne := func() {
		o := opts
		crash := rand.IntN(2) == 0
		if crash {
			o.ShutdownTimeout = time.Nanosecond // this one will stop as if it crashed
		}
		r := start(t, o, NewTestEngine(t, engine.Options{}))
		runners, crashes[r] = append(runners, r), crash
	}
	stopRunner := func(r *running) {
		if crashes[r] {
			r.crashed(t) // it may leave messages uncommitted: ErrUndrained
		} else {
			r.stop(t)
		}
	}
	startOne()
	startOne()
	began := time.Now()
	restarted := false
	for ctx.Err() == nil {
		time.Sleep(3 * time.Second)
		switch i := rand.IntN(len(runners)); {
		case !restarted && time.Since(began) > duration/2:
			current().Close()
			time.Sleep(time.Second)
			newCluster()
			restarted = true
		case len(runners) > 1 && rand.IntN(2) == 0:
			stopRunner(runners[i])
			runners = append(runners[:i], runners[i+1:]...)
		default:
			startOne()
		}
	}
	if !restarted {
		current().Close()
		newCluster()
	}
	pmu.Lock()
	want := append([]string(nil), produced...)
	pmu.Unlock()
	t.Logf("%d attempts produced; %d runners at the end", len(want), len(runners))

	var msgs []kafka.Message
	var missing []string
	defer func() {
		if len(missing) > 0 {
			t.Logf("%d attempts never decided, such as %v", len(missing), missing[:min(10, len(missing))])
		}
	}()
	waitFor(t, "every attempt to be decided", func() bool {
		msgs = readTopic(t, current(), tDecisions, -1)
		decided := map[string]bool{}
		for _, m := range msgs {
			var d engine.Decision
			if err := json.Unmarshal(m.Value, &d); err != nil {
				t.Fatal(err)
			}
			decided[d.AttemptID] = true
		}
		missing = missing[:0]
		for _, id := range want {
			if !decided[id] {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0
	})
	for _, r := range runners {
		stopRunner(r)
	}
	// Per user, the first appearance of each attempt is in order.
	next := map[string]int{}
	dups := 0
	for _, m := range msgs {
		var d engine.Decision
		_ = json.Unmarshal(m.Value, &d)
		seq, _ := strconv.Atoi(d.Signals.Attempt.Attributes["seq"])
		u := d.Signals.Attempt.UserID
		switch {
		case seq == next[u]:
			next[u]++
		case seq < next[u]:
			dups++
		default:
			t.Fatalf("user %s: attempt %d decided before attempt %d", u, seq, next[u])
		}
	}
	t.Logf("%d decisions, %d of them redeliveries", len(msgs), dups)
}
