package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
)

func TestTTLMemo(t *testing.T) {
	var m ttlMemo
	m.init(180 * 24 * time.Hour)
	alice, bob := userKey(t, "alice"), userKey(t, "bob")
	now := int64(1_800_000_000) / 86400 * 86400
	for _, c := range []struct {
		tenant string
		user   *engine.Key
		at     int64
		want   bool
	}{
		{"acme", &alice, now, true},
		{"acme", &alice, now + 3600, false},      // the same day
		{"other", &alice, now + 3600, true},      // another tenant's account
		{"acme", &bob, now + 3600, true},         // another account
		{"acme", &alice, now + 86399, false},     // still the same day
		{"acme", &alice, now + 86400, true},      // the next day
		{"acme", &alice, now + 86400 + 1, false}, //
	} {
		if got := m.refresh(c.tenant, c.user, c.at); got != c.want {
			t.Errorf("refresh(%s, %x, %d) = %v, want %v", c.tenant, c.user[:4], c.at-now, got, c.want)
		}
	}
	var short ttlMemo
	short.init(100 * time.Second) // a period of one second
	if !short.refresh("acme", &alice, now) || short.refresh("acme", &alice, now) || !short.refresh("acme", &alice, now+1) {
		t.Error("with a ProfileTTL of 100s, want a refresh every second")
	}
}

// TestLearnRefreshesTTLOncePerPeriod checks the script's side: a learned
// login sets the account's time to live again only when the Store's memo
// says so (once a day), and a new Store (another node) sets it at once.
func TestLearnRefreshesTTLOncePerPeriod(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	key := userKey(t, "carol")
	learn := func(s *Store, i int) {
		t.Helper()
		l := &engine.Login{Tenant: "acme", User: key, Time: t0.Add(time.Duration(i) * time.Minute), Country: "FR", Device: engine.Key{byte(i)}}
		if err := s.Commit(ctx, &engine.Commit{Learn: l}); err != nil {
			t.Fatal(err)
		}
		if err := s.flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	opts := Options{KeyPrefix: "rgttl:"}
	acct := (&keyspace{prefix: opts.KeyPrefix}).user("acme", key, sufProfile)
	ttl := func() time.Duration {
		t.Helper()
		d, err := rdb.TTL(ctx, acct).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	s := newTestStore(t, srv.URL, opts)
	defer s.Close(ctx)
	learn(s, 0)
	if d := ttl(); d < 179*24*time.Hour {
		t.Fatalf("TTL %v after the first login, want about 180 days", d)
	}
	if err := rdb.Expire(ctx, acct, 1000*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	learn(s, 1)
	if d := ttl(); d > 1000*time.Second {
		t.Errorf("TTL %v after a second login the same day on the same node, want it left (at most 1000s)", d)
	}
	if n, err := rdb.StrLen(ctx, acct).Result(); err != nil || n < 20 {
		t.Errorf("account of %d bytes (%v): want both logins appended", n, err)
	}
	other := newTestStore(t, srv.URL, opts)
	defer other.Close(ctx)
	learn(other, 2)
	if d := ttl(); d < 179*24*time.Hour {
		t.Errorf("TTL %v after a login on another node, want about 180 days again", d)
	}
}
