package redisstore

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
)

// TestBackground (issue 10 item 3): with Background, a server that does
// not answer at New gives a store that is down (calls fail at once with
// engine.ErrUnavailable) and comes up once the server answers and Verify
// accepts it; without Background, New fails.
func TestBackground(t *testing.T) {
	rds := redistest.Start(t)
	rds.Kill()
	ctx := context.Background()
	if _, err := New(ctx, Options{URL: rds.URL, DialTimeout: 200 * time.Millisecond}); err == nil {
		t.Fatal("New without Background succeeded with the server down")
	}
	var accept atomic.Bool
	var verified atomic.Int32
	s, err := New(ctx, Options{URL: rds.URL, DialTimeout: 200 * time.Millisecond, Background: true, Verify: func(context.Context) error {
		verified.Add(1)
		if !accept.Load() {
			return errors.New("not this one")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if s.Up() {
		t.Fatal("up with the server down")
	}
	if err := s.Ping(ctx); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("ping while down: %v", err)
	}
	if _, _, err := s.Profile(ctx, "default", engine.Key{}); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("profile while down: %v", err)
	}
	rds.Restart()
	waitUntil(t, func() bool { return verified.Load() > 0 })
	if s.Up() {
		t.Fatal("up although Verify refused the server")
	}
	accept.Store(true)
	waitUntil(t, s.Up)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping once up: %v", err)
	}
}

func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
