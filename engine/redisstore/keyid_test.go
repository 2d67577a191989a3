package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
)

// TestKeepKeyID: a store told to keep its key id records it again when
// the server lost it (FLUSHDB; a restart without persistence, noticed at
// once through the lost function library), goes down when another id
// takes its place, and comes back when its own is there again; each is
// counted. KeyID waits for a running node to record the id instead of
// reporting state without one.
func TestKeepKeyID(t *testing.T) {
	rds := redistest.Start(t)
	ctx := context.Background()
	s, err := New(ctx, Options{URL: rds.URL, KeyIDInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	const mine, theirs = "v2:0123456789abcdef", "v2:fedcba9876543210"
	if got, err := s.SetKeyID(ctx, mine); err != nil || got != mine {
		t.Fatalf("SetKeyID: %q %v", got, err)
	}
	s.KeepKeyID(mine)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s; stats %+v", what, s.Stats())
			}
		}
	}
	rc := redis.NewClient(&redis.Options{Addr: rds.Addr})
	defer rc.Close()
	recorded := func() string { v, _ := rc.Get(ctx, "rg:keyid").Result(); return v }

	// Flushed while a node writes state: the id is back, and a node
	// starting meanwhile finds it rather than state without one.
	if _, err := rds.Do("FLUSHDB"); err != nil {
		t.Fatal(err)
	}
	if _, err := rds.Do("SET", "rg:{t:default:u:00}:profile", "x"); err != nil {
		t.Fatal(err)
	}
	other, err := New(ctx, Options{URL: rds.URL, KeyIDInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if id, empty, err := other.KeyID(ctx); err != nil || id != mine || empty {
		t.Errorf("KeyID of a flushed store with state: %q empty %v %v, want %q", id, empty, err, mine)
	}
	waitFor("restored after FLUSHDB", func() bool { return s.Stats().KeyIDRestored == 1 && recorded() == mine })

	// Another id in its place: the store goes down, and up again once
	// its own is back.
	if _, err := rds.Do("SET", "rg:keyid", theirs); err != nil {
		t.Fatal(err)
	}
	waitFor("down on another key id", func() bool { return !s.Up() && s.Stats().KeyIDChanged == 1 })
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "key id is not this node's") {
		t.Errorf("the health check while the key id differs: %v", err)
	}
	if recorded() != theirs {
		t.Errorf("the other id was overwritten: %q", recorded())
	}
	if _, err := rds.Do("SET", "rg:keyid", mine); err != nil {
		t.Fatal(err)
	}
	waitFor("up once its own key id is back", s.Up)

	// A restart without persistence: the lost function library makes
	// the next Score's call check at once.
	rds.Restart()
	e := newEngine(t, s, 5*time.Second)
	for deadline := time.Now().Add(10 * time.Second); recorded() != mine; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("key id not recorded again after a restart: %q", recorded())
		}
		_, _ = e.Score(ctx, attempt("restart", t0, engine.ResultPasswordOK))
	}
	if got := s.Stats().KeyIDRestored; got != 2 {
		t.Errorf("restored %d times, want 2", got)
	}
}
