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
func TestMemoryCapsReachTheStore(t *testing.T) {
	m := MemoryConfig{MaxUsers: 1, MaxWindowKeys: 2, MaxAccountKeys: 3, MaxPending: 4, MaxDistinct: 5, MaxMembers: 6, MaxRetries: 7, MaxRetryBytes: 8, UserAgents: 9}
	if got, want := m.storeOptions(), (memstore.Options{MaxUsers: 1, MaxWindowKeys: 2, MaxAccountKeys: 3, MaxPending: 4, MaxDistinct: 5, MaxMembers: 6}); !reflect.DeepEqual(got, want) {
		t.Errorf("store options %+v, want %+v", got, want)
	}
	var o engine.Options
	m.engineOptions(&o)
	if o.RetryEntries != 7 || o.RetryMaxBytes != 8 || o.UserAgents != 9 {
		t.Errorf("engine options %+v", o)
	}
	m.MaxRetries = -1
	m.engineOptions(&o)
	if o.RetryEntries >= 0 {
		t.Errorf("MaxRetries -1 leaves retries on (%d)", o.RetryEntries)
	}
	var zero MemoryConfig
	zero.engineOptions(&o)
	if o.RetryEntries != 0 || o.RetryMaxBytes != 0 || o.UserAgents != 0 {
		t.Errorf("the zero config does not leave the engine's defaults: %+v", o)
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
	go func() { logEvictions(log, ms, time.Millisecond, stop); close(done) }()
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
