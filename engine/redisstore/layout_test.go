package redisstore

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
)

// hashTag returns what Redis Cluster hashes of key: the part between the
// first '{' and the next '}' when it is not empty, else the whole key.
func hashTag(key string) (string, bool) {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j], true
		}
	}
	return key, false
}

func TestSlotFunction(t *testing.T) {
	// Vectors from the Redis Cluster specification and CLUSTER KEYSLOT's
	// documentation.
	if got := crc16("123456789"); got != 0x31c3 {
		t.Errorf("crc16 check value = %#x, want 0x31c3", got)
	}
	for key, want := range map[string]uint16{"somekey": 11058, "foo{hash_tag}": 2515, "bar{hash_tag}": 2515, "foo{}{bar}": slot("foo{}{bar}")} {
		if got := slot(key); got != want {
			t.Errorf("slot(%q) = %d, want %d", key, got, want)
		}
	}
	if _, ok := hashTag("foo{}{bar}"); ok {
		t.Error("an empty tag counted as a tag")
	}
}

// testSmall is the exact-set size of the tests that need HyperLogLogs
// from a few members.
const testSmall = 12

// sprayed is how many accounts scoreOnce tries one password on: enough
// for the set to be pruned and found too large (at 1.5 times testSmall).
const sprayed = 2 * testSmall

// scoreOnce runs the Scores of one user that write every kind of key: a
// learned login, a pending decision, a failure with a password, each with
// an attempt id (remembered, and indexed under the user). Then
// others users try the same password from the same address, enough for
// the distinct counts to move from small sets to HyperLogLogs.
func scoreOnce(t *testing.T, url, prefix string) *Store {
	t.Helper()
	s := newTestStore(t, url, Options{KeyPrefix: prefix, FlushInterval: time.Hour, SmallSet: testSmall})
	e := newEngine(t, s, time.Second)
	ctx := context.Background()
	for i, r := range []engine.Result{engine.ResultPasswordOK, engine.ResultUnknown, engine.ResultPasswordBad, engine.ResultPasswordOK} {
		a := attempt("alice", t0, r)
		a.AttemptID = fmt.Sprint("alice-attempt-", i)
		if _, err := e.Score(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for i := range sprayed {
		a := attempt(fmt.Sprint("sprayed", i), t0, engine.ResultPasswordBad)
		a.UserID = "" // no such user: no profile, no pending decision
		if _, err := e.Score(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestKeyLayout checks the keys one user's Scores write: every key has a
// time to live, a hash tag that scopes it by tenant and names one subject,
// keys of one subject share a slot, the distinct counts are HyperLogLogs,
// and no identifier appears in clear.
func TestKeyLayout(t *testing.T) {
	srv := redistest.Start(t)
	const prefix = "rglayout:"
	s := scoreOnce(t, srv.URL, prefix)
	ctx := context.Background()
	if _, _, err := s.Profile(ctx, "acme", userKey(t, "alice")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		t.Fatal("no keys written")
	}
	subjects := map[string][]string{} // tag -> keys
	for _, k := range keys {
		tag, ok := hashTag(k)
		if !ok || !strings.HasPrefix(k, prefix+"{") {
			t.Errorf("%s: no hash tag right after the prefix", k)
			continue
		}
		if !strings.HasPrefix(tag, "t:acme") {
			t.Errorf("%s: tag %q is not scoped by the tenant", k, tag)
		}
		subjects[tag] = append(subjects[tag], k)
		ttl, err := rdb.TTL(ctx, k).Result()
		if err != nil || ttl <= 0 {
			t.Errorf("%s: TTL %v (%v), want a positive time to live", k, ttl, err)
		}
		for _, clear := range []string{"alice", "sprayed", "example.com", "laptop", "5baa61e4"} {
			if strings.Contains(k, clear) {
				t.Errorf("%s: contains %q in clear", k, clear)
			}
		}
	}
	// One tag per subject: alice (the others have no user id, so their
	// accounts are their usernames), the address, the subnet, the ASN, the
	// password, the tenant, the pending decision and alice's attempts.
	kinds := map[string]int{}
	slots := map[uint16]string{}
	for tag, ks := range subjects {
		kind := "tenant"
		if parts := strings.Split(tag, ":"); len(parts) > 2 {
			kind = parts[2]
		}
		kinds[kind]++
		sl := slot(ks[0])
		for _, k := range ks {
			if slot(k) != sl {
				t.Errorf("%s: slot %d, but %s of the same subject is in %d", k, slot(k), ks[0], sl)
			}
		}
		if other, dup := slots[sl]; dup {
			t.Logf("subjects %s and %s share slot %d by chance", other, tag, sl)
		}
		slots[sl] = tag
	}
	want := map[string]int{"u": 1 + sprayed, "ip": 1, "net": 1, "as": 1, "pw": 1, "tenant": 1, "d": 1, "a": 4}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d subjects of kind %s, want %d (tags: %v)", kinds[k], k, n, keys)
		}
	}
	if len(kinds) != len(want) {
		t.Errorf("subject kinds %v, want %v", kinds, want)
	}
	// The distinct counts are HyperLogLogs; the user's profile is folded.
	hll := 0
	for _, k := range keys {
		for _, series := range []string{":u10m:", ":u1h:", ":u24h:", ":a1h:", ":a24h:", ":a7d:"} {
			if strings.Contains(k, series) {
				hll++
				if magic, _ := rdb.GetRange(ctx, k, 0, 3).Result(); magic != "HYLL" {
					t.Errorf("%s: not a HyperLogLog (starts %q)", k, magic)
				}
			}
		}
	}
	// Usernames per address, subnet and ASN (3 windows each) and accounts
	// per password (3 windows): 12 bucket keys for one attempt time, and
	// the 12 windows' unions, once the sets outgrew the state.
	if hll != 24 {
		t.Errorf("%d HyperLogLog keys, want 24:\n%s", hll, strings.Join(keys, "\n"))
	}
	alice := s.keys.user("acme", userKey(t, "alice"), sufProfile)
	v, err := rdb.Get(ctx, alice).Result()
	if err != nil {
		t.Fatalf("alice's account: %v", err)
	}
	if a, err := accountValue(v, 0, false, nil); err != nil || a.tag == "" || a.entries != "" {
		t.Errorf("alice's account: %v, profile %v, %d bytes of learned logins: want them folded into the profile", err, a.tag != "", len(a.entries))
	}
	// Her attempts are indexed under her, for Forget.
	if n, err := rdb.ZCard(ctx, s.keys.user("acme", userKey(t, "alice"), sufAttempts)).Result(); err != nil || n != 4 {
		t.Errorf("alice's index of attempts: %d ids (%v), want 4", n, err)
	}
	t.Logf("keys written:\n%s", strings.Join(keys, "\n"))
}
