package stream

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// farLink is a connection to a broker far away: each answer arrives rtt
// after the request that asked for it, and a read deadline that passes
// before then fails the read, as it would over a long link.
type farLink struct {
	net.Conn
	rtt  time.Duration
	mu   sync.Mutex
	sent time.Time // the last request
}

func (c *farLink) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.sent = time.Now()
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *farLink) Read(b []byte) (int, error) {
	c.mu.Lock()
	due := c.sent.Add(c.rtt)
	c.mu.Unlock()
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
	return c.Conn.Read(b)
}

// TestFarBroker: a node whose brokers are 400 ms away (another continent,
// a satellite link) consumes its partitions. Each fetch waited at most
// 250 ms for its answer: every fetch timed out, was retried on a new
// connection, and the partition never moved.
func TestFarBroker(t *testing.T) {
	c := startCluster(t, 1)
	var as []engine.Attempt
	for u := range 3 {
		as = append(as, userJourney(u)[0])
	}
	produce(t, c, attemptMsgs(t, as)...)
	opts := testOptions(c)
	opts.SessionTimeout = 10 * time.Second // heartbeats cross the long link too
	startWith(t, opts, NewTestEngine(t, engine.Options{}), func(r *Runner) {
		r.conn.dialer.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &farLink{Conn: conn, rtt: 400 * time.Millisecond}, nil
		}
	})
	if decs := decisionsByAttempt(t, readTopic(t, c, tDecisions, len(as))); len(decs) != len(as) {
		t.Fatalf("%d attempts decided, want %d", len(decs), len(as))
	}
}
