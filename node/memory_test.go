package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
)

// TestMemoryCapsReachTheStore (issue 10 item 9): the caps an operator
// sets reach the memory store and the engine; the zero config leaves each
// to its part's default, and a negative MaxRetries turns retries off.
// With the memory store, whose attempts keep their decisions, the zero
// MaxRetries turns the engine's retry cache off; a set one still asks
// for it.
func TestMemoryCapsReachTheStore(t *testing.T) {
	m := MemoryConfig{MaxUsers: 1, MaxWindowKeys: 2, MaxAccountKeys: 3, MaxPending: 4, MaxDistinct: 5, MaxMembers: 6, MaxRetries: 7, MaxRetryBytes: 8, UserAgents: 9}
	if got, want := m.storeOptions(), (memstore.Options{MaxUsers: 1, MaxWindowKeys: 2, MaxAccountKeys: 3, MaxPending: 4, MaxDistinct: 5, MaxMembers: 6}); !reflect.DeepEqual(got, want) {
		t.Errorf("store options %+v, want %+v", got, want)
	}
	for _, inProcess := range []bool{false, true} {
		var o engine.Options
		m.engineOptions(&o, inProcess)
		if o.RetryEntries != 7 || o.RetryMaxBytes != 8 || o.UserAgents != 9 {
			t.Errorf("in process %v: engine options %+v", inProcess, o)
		}
		m := m
		m.MaxRetries = -1
		m.engineOptions(&o, inProcess)
		if o.RetryEntries >= 0 {
			t.Errorf("in process %v: MaxRetries -1 leaves retries on (%d)", inProcess, o.RetryEntries)
		}
	}
	var zero MemoryConfig
	var o engine.Options
	zero.engineOptions(&o, false)
	if o.RetryEntries != 0 || o.RetryMaxBytes != 0 || o.UserAgents != 0 {
		t.Errorf("the zero config does not leave the engine's defaults: %+v", o)
	}
	zero.engineOptions(&o, true)
	if o.RetryEntries >= 0 {
		t.Errorf("the zero config with the memory store leaves the retry cache on (%d)", o.RetryEntries)
	}
}

// TestMemoryStoreAnswersRetries: on the memory store a node answers a
// retried attempt_id from the store's attempts, with no retry cache of
// its own unless --memory-max-retries asks for one. A retry within
// --memory-max-attempts gets its first decision and is not counted
// again; one the store has evicted is decided anew, unless the node was
// told to keep a cache, which then answers it.
func TestMemoryStoreAnswersRetries(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxRetries int
		evictedGot string // "first": the first decision; "new": another
	}{
		{"default", 0, "new"},
		{"retry cache asked for", 50_000, "first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			// 16 attempts: two a shard of the store's attempts (max/16+1).
			n, err := New(ctx, Config{Memory: MemoryConfig{MaxAttempts: 16, MaxRetries: tc.maxRetries}}, WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close(ctx)
			at := time.Now().UTC().Truncate(time.Second)
			attempt := engine.Attempt{Time: at, AttemptID: "retry-me", UserID: "u-1", IP: "81.2.69.160", Result: engine.ResultPasswordBad}
			score := func(a engine.Attempt) engine.Decision {
				t.Helper()
				d, err := n.Service().Score(ctx, a)
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			first := score(attempt)
			if again := score(attempt); again.DecisionID != first.DecisionID || again.Signals.Account.Failures1h != first.Signals.Account.Failures1h {
				t.Fatalf("retry: decision %s failures_1h %d, want %s and %d", again.DecisionID, again.Signals.Account.Failures1h, first.DecisionID, first.Signals.Account.Failures1h)
			}
			// 2,000 other attempts: two have gone to the first's shard by
			// now, and evicted it, but at odds of about 10^-54.
			for i := range 2000 {
				score(engine.Attempt{Time: at, AttemptID: fmt.Sprint("other-", i), UserID: fmt.Sprint("u-other-", i), IP: "198.51.100.7", Result: engine.ResultPasswordOK})
			}
			got := "new"
			if score(attempt).DecisionID == first.DecisionID {
				got = "first"
			}
			if got != tc.evictedGot {
				t.Errorf("a retry the store has evicted got the %s decision, want the %s", got, tc.evictedGot)
			}
		})
	}
}

// TestEvictionsAreLogged: a memory store table that evicts is warned of,
// naming the table and the setting that bounds it, once however many
// checks find more evictions within evictionLogEvery.
func TestEvictionsAreLogged(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	n, err := New(context.Background(), Config{Memory: MemoryConfig{MaxUsers: 64}}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	ms := n.Store().(*memstore.Store)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { logEvictions(log, evictingTables(ms, n.Engine()), time.Millisecond, stop); close(done) }()
	flood := func(from int) {
		for i := from; i < from+200; i++ {
			if _, err := n.Service().Score(context.Background(), engine.Attempt{IP: "81.2.69.160", UserID: fmt.Sprint("u", i), Result: engine.ResultPasswordOK}); err != nil {
				t.Fatal(err)
			}
		}
	}
	flood(0)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(buf.String(), "table=profiles"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning after evictions; log:\n%s", buf.String())
		}
	}
	flood(200)
	time.Sleep(20 * time.Millisecond) // some checks see the new evictions
	close(stop)
	<-done
	out := buf.String()
	if c := strings.Count(out, "memory store: full"); c != 1 || !strings.Contains(out, "--memory-max-users") || !strings.Contains(out, "level=WARN") {
		t.Errorf("%d warnings, want 1 naming --memory-max-users:\n%s", c, out)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's goroutine and a
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRetryEvictionsAreLogged: the retry cache that evicts decisions
// before their --attempt-window ends is warned of, naming its settings,
// as the memory store's tables are: it was counted (and before that not
// even counted), never said.
func TestRetryEvictionsAreLogged(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	n, err := New(context.Background(), Config{Memory: MemoryConfig{MaxRetries: 64}}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { logEvictions(log, evictingTables(nil, n.Engine()), time.Millisecond, stop); close(done) }()
	for i := range 500 {
		a := engine.Attempt{AttemptID: fmt.Sprint("flood-", i), IP: "81.2.69.160", UserID: fmt.Sprint("u", i), Result: engine.ResultPasswordBad}
		if _, err := n.Service().Score(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(buf.String(), "table=retries"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning after the retry cache evicted; log:\n%s", buf.String())
		}
	}
	close(stop)
	<-done
	if out := buf.String(); !strings.Contains(out, "retry cache: full") || !strings.Contains(out, "--memory-max-retries") || !strings.Contains(out, "level=WARN") {
		t.Errorf("the warning does not name the cache and its setting:\n%s", out)
	}
}
