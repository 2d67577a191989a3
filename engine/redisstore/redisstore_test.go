package redisstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/storetest"
	"github.com/riskgate/riskgate/internal/redistest"
)

// newTestStore opens a Store on srv with a key prefix of its own, so that
// tests sharing a server never see each other's keys.
func newTestStore(t testing.TB, url string, opts Options) *Store {
	t.Helper()
	opts.URL = url
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = fmt.Sprintf("rgtest%d:", prefixSeq.Add(1))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var prefixSeq atomic.Int64

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) engine.Store { return newTestStore(t, srv.URL, Options{}) })
}

// TestConformanceSynchronousFlush runs the suite with a flush interval so
// long that buffered writes only reach Redis with the next call: what the
// suite reads must still be visible.
func TestConformanceNoBackgroundFlush(t *testing.T) {
	srv := redistest.Start(t)
	storetest.Run(t, func(t *testing.T) engine.Store {
		return newTestStore(t, srv.URL, Options{FlushInterval: time.Hour})
	})
}
