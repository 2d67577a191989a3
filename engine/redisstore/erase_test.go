package redisstore

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
)

// TestForgetAcrossTheUpgrade: an attempt remembered by a node of a
// version before the index of a user's attempts (its key holds the record
// as it always did, and no index names it) is still served to a
// redelivery after the upgrade, and, not found by Forget, expires with the
// attempt window: Forget neither fails on it nor touches it. An attempt
// the index names whose key expired is not brought back as an erased
// mark.
func TestForgetAcrossTheUpgrade(t *testing.T) {
	srv := redistest.Start(t)
	s := newTestStore(t, srv.URL, Options{})
	defer s.Close(context.Background())
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	user, id := userKey(t, "judy"), testKeyer(t).Attempt("acme", "before-upgrade")
	record := []byte("fingerpr{\"reasons\":[]}")
	if err := rdb.Set(ctx, s.keys.attempt("acme", id), record, 10*time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	gone := testKeyer(t).Attempt("acme", "expired")
	if err := rdb.ZAdd(ctx, s.keys.user("acme", user, sufAttempts), redis.Z{Score: float64(time.Now().Unix() + 600), Member: string(gone[:])}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx, "acme", user); err != nil {
		t.Fatal(err)
	}
	ev := &engine.Event{Tenant: "acme", Time: t0, IP: netipMust("81.2.69.160"), Subnet: engine.SubnetOf(netipMust("81.2.69.160")),
		User: user, Account: user, Attempt: true, AttemptID: id}
	var st engine.State
	if err := s.Observe(ctx, ev, &st); err != nil {
		t.Fatal(err)
	}
	if !st.Replayed || st.Erased || !bytes.Equal(st.Decided, record) {
		t.Errorf("a record from before the upgrade: Replayed %v, Erased %v, Decided %q; want it served", st.Replayed, st.Erased, st.Decided)
	}
	if ttl, err := rdb.TTL(ctx, s.keys.attempt("acme", id)).Result(); err != nil || ttl <= 0 || ttl > 10*time.Minute {
		t.Errorf("its time to live: %v (%v), want the attempt window's", ttl, err)
	}
	if n, err := rdb.Exists(ctx, s.keys.attempt("acme", gone)).Result(); err != nil || n != 0 {
		t.Errorf("an expired attempt the index named: %d keys (%v), want none", n, err)
	}
	if n, err := rdb.Exists(ctx, s.keys.user("acme", user, sufAttempts)).Result(); err != nil || n != 0 {
		t.Errorf("the erased user's index: %d keys (%v), want none", n, err)
	}
}
