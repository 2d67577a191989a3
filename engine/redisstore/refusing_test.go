package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
)

// TestRefusingWrites: a server that answers PING but refuses the batch
// function's writes fails every Score's call. Ping (the store's health
// check, riskgate_store_up) must say so, and the calls' errors must mean
// "state unavailable", so that APIs answer 503 and streams retry, until
// the server accepts writes again.
func TestRefusingWrites(t *testing.T) {
	primary := redistest.Start(t)
	cases := []struct {
		name, want    string
		refuse, allow []string
	}{
		{
			name:   "out of memory under noeviction",
			want:   "OOM",
			refuse: []string{"CONFIG", "SET", "maxmemory", "1"},
			allow:  []string{"CONFIG", "SET", "maxmemory", "0"},
		},
		{
			name:   "a replica after a failover",
			want:   "READONLY",
			refuse: []string{"REPLICAOF", "127.0.0.1", strconv.Itoa(primary.Port)},
			allow:  []string{"REPLICAOF", "NO", "ONE"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := redistest.Start(t, "--maxmemory-policy", "noeviction")
			s := newTestStore(t, srv.URL, Options{})
			defer s.Close(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e := newEngine(t, s, 5*time.Second)
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("ping of a healthy server: %v", err)
			}
			if _, err := srv.Do(c.refuse...); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Do("PING"); err != nil {
				t.Fatalf("the server should still answer PING: %v", err)
			}
			err := s.Ping(ctx)
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, engine.ErrUnavailable) {
				t.Fatalf("ping of a server refusing writes: %v; want an unavailable error naming %s", err, c.want)
			}
			var st engine.State
			ev := engine.Event{Tenant: "acme", User: userKey(t, "a"), Account: userKey(t, "a"), IP: netipMust("192.0.2.1"), Time: time.Now(), Attempt: true}
			if err := s.Observe(ctx, &ev, &st); !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("observe on a server refusing writes: %v; want an unavailable error naming %s", err, c.want)
			}
			d, err := e.Score(ctx, attempt("a", time.Now(), engine.ResultPasswordOK))
			if err != nil {
				t.Fatal(err)
			}
			if d.Signals.State.Available {
				t.Fatal("a Score on a server refusing writes was not marked as decided without state")
			}
			if _, err := srv.Do(c.allow...); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, func() bool { return s.Ping(ctx) == nil })
			d, err = e.Score(ctx, attempt("a", time.Now(), engine.ResultPasswordOK))
			if err != nil {
				t.Fatal(err)
			}
			if !d.Signals.State.Available {
				t.Fatal("decided without state after the server accepted writes again")
			}
		})
	}
}

// TestPingReloadsTheLibrary: a server that lost the function library
// (restarted without persistence) is healthy once Ping has loaded it
// again, without waiting for a Score to do so.
func TestPingReloadsTheLibrary(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.URL, Options{})
	defer s.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := srv.Do("FUNCTION", "FLUSH"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping after the library was flushed: %v", err)
	}
	libs, err := s.Client().FunctionList(ctx, redis.FunctionListQuery{LibraryNamePattern: s.lib.name}).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(libs) != 1 {
		t.Fatalf("ping did not load the library again: %d libraries named %s", len(libs), s.lib.name)
	}
}
