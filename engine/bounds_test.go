package engine_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/internal/enginetest"
)

// TestRetryCacheStaysBounded (issue 10 item 9): the decisions remembered
// for retries carry the attempt's strings, as large as validation allows
// (a 1 KiB user agent, 32 attributes of 320 bytes); a flood of fresh
// attempt ids with the largest attempts must stay within RetryMaxBytes,
// and fresh user agents within the user-agent cache's entries. Before the
// byte bound, 50,000 entries of such decisions held 700 MB.
func TestRetryCacheStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the engine")
	}
	const retryBytes, agents = 2 << 20, 256
	store := memstore.New(memstore.Options{Shards: 4, MaxUsers: 100, MaxWindowKeys: 100, MaxAccountKeys: 100, MaxPending: 100, MaxMembers: 1000, MaxDistinct: 10, MaxAttempts: 100})
	defer store.Close(context.Background())
	before := engine.LiveHeap()
	e := enginetest.New(t, engine.Options{Store: store, RetryEntries: 100_000, RetryMaxBytes: retryBytes, UserAgents: agents})
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i := range 3000 {
		// Each request's strings are its own, as decoded from its body.
		attrs := map[string]string{}
		for j := range engine.MaxAttributes {
			attrs[fmt.Sprintf("%064d", j)] = strings.Repeat("v", engine.MaxAttrValueLen)
		}
		ua := fmt.Sprintf("%04d", i) + strings.Repeat("Mozilla/5.0 ", 40) // 484 bytes, cached
		a := engine.Attempt{AttemptID: fmt.Sprintf("flood-%d", i), Time: at, UserID: "u", Username: fmt.Sprintf("user%d", i%50),
			IP: "81.2.69.160", UserAgent: ua, Attributes: attrs, Result: engine.ResultPasswordBad}
		if _, err := e.Score(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	grown := engine.LiveHeap() - before
	// The store's caps are tiny (well under 1 MB, TestFloodStaysBounded);
	// a cached user agent costs at most 512 bytes and its classification.
	bound := int64(retryBytes + agents*1024 + 2<<20)
	t.Logf("heap grew %d bytes; bound %d", grown, bound)
	if grown > bound {
		t.Errorf("heap grew %d bytes, over the %d the caps allow", grown, bound)
	}
	runtime.KeepAlive(e)
}
