package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
)

// TestCloseGivesTheStoreItsTime: with an alert webhook that fails (it
// answers 500, or refuses connections), the alerts' flush takes the whole
// shutdown budget, and the state store closes beside it with a live
// context: its buffered writes are flushed, and Close's error is about the
// undelivered alerts, not the store.
func TestCloseGivesTheStoreItsTime(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/hook"
	l.Close()
	rds := redistest.Start(t)

	for _, tc := range []struct {
		name, webhook, store, closer string
	}{
		{"500, redis", failing.URL, rds.URL, "redis store"},
		{"refused, redis", refused, rds.URL, "redis store"},
		{"500, memory", failing.URL, "", "memory store"},
		{"refused, memory", refused, "", "memory store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := rds.Do("FLUSHALL"); err != nil {
				t.Fatal(err)
			}
			cfg := Config{Store: tc.store}
			cfg.Alerts.WebhookURL = tc.webhook
			cfg.Alerts.WebhookSecret = "webhook-secret-0123456789"
			ctx := context.Background()
			n, err := New(ctx, cfg, WithLogger(slog.New(slog.DiscardHandler)), WithSecret([]byte("a-long-enough-secret-0123")))
			if err != nil {
				t.Fatal(err)
			}
			// The store's close, recorded: how much of the budget it had.
			var (
				mu       sync.Mutex
				calls    int
				ctxErr   error
				closeErr error
			)
			for i, c := range n.closers {
				if c.name == tc.closer {
					n.closers[i].close = func(ctx context.Context) error {
						err := c.close(ctx)
						mu.Lock()
						calls, ctxErr, closeErr = calls+1, ctx.Err(), err
						mu.Unlock()
						return err
					}
				}
			}
			// Credential stuffing: the last attempts alert.
			for i := range 12 {
				a := engine.Attempt{Tenant: "acme", Username: fmt.Sprintf("user%d@example.com", i), IP: "203.0.113.7", Result: engine.ResultNoSuchUser}
				if _, err := n.Service().Score(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			err = n.Close(cctx)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Close took %v with a 500ms budget", took)
			}
			mu.Lock()
			defer mu.Unlock()
			if calls != 1 || ctxErr != nil || closeErr != nil {
				t.Errorf("the store closed %d times, with its context %v, returning %v; want once, live, nil", calls, ctxErr, closeErr)
			}
			if err == nil || !strings.Contains(err.Error(), "alerts not delivered before the shutdown deadline") || strings.Contains(err.Error(), "store") {
				t.Errorf("Close = %v, want the undelivered alerts and nothing about the store", err)
			}
		})
	}
}
