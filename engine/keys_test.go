package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

var testSecret = []byte("keys-test-secret-0123456789")

// TestSchemeOneIsTheOriginalHMAC: state written before key schemes existed
// was keyed with HMAC-SHA-256 over domain, tenant, 0, value; scheme 1 must
// find it again.
func TestSchemeOneIsTheOriginalHMAC(t *testing.T) {
	k, err := NewKeyerScheme(testSecret, SchemeHMAC)
	if err != nil {
		t.Fatal(err)
	}
	hm := func(msg string) Key {
		m := hmac.New(sha256.New, testSecret)
		m.Write([]byte(msg))
		var out Key
		copy(out[:], m.Sum(nil))
		return out
	}
	pw := [20]byte{1, 2, 3}
	for _, c := range []struct {
		got, want Key
	}{
		{k.User("acme", "u-1"), hm("uacme\x00u-1")},
		{k.Username("acme", "alice"), hm("nacme\x00alice")},
		{k.Device("acme", "dev"), hm("dacme\x00dev")},
		{k.Password("acme", &pw), hm("pacme\x00" + string(pw[:]))},
	} {
		if c.got != c.want {
			t.Errorf("scheme 1 key %s, the original HMAC gives %s", c.got, c.want)
		}
	}
}

// TestSchemeTwo pins the current scheme's output (a change would make
// every stored key unreachable, and must come with a new scheme number)
// and checks that domains, tenants, values and secrets separate keys.
func TestSchemeTwo(t *testing.T) {
	k, err := NewKeyer(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if k.Scheme() != SchemeDerived {
		t.Fatalf("scheme %d", k.Scheme())
	}
	// The pinned value was computed independently, with Python's hmac and
	// hashlib.
	if got, want := k.User("acme", "u-1").String(), "2f71af97e7c5e3c671cc5c8128241972"; got != want {
		t.Errorf("User(acme, u-1) = %s, pinned %s", got, want)
	}
	other, _ := NewKeyer([]byte("keys-test-secret-9876543210"))
	long := strings.Repeat("x", 200) // more than one SHA-256 block
	keys := map[Key]string{}
	for name, key := range map[string]Key{
		"user":            k.User("acme", "alice"),
		"username":        k.Username("acme", "alice"),
		"device":          k.Device("acme", "alice"),
		"other tenant":    k.User("acme2", "alice"),
		"shifted":         k.User("acm", "ealice"),
		"other value":     k.User("acme", "alicf"),
		"other secret":    other.User("acme", "alice"),
		"long":            k.User("acme", long),
		"long, other end": k.User("acme", long[:199]+"y"),
	} {
		if prev, dup := keys[key]; dup {
			t.Errorf("%s and %s share a key", name, prev)
		}
		keys[key] = name
	}
	again, _ := NewKeyer(testSecret)
	if k.User("acme", "alice") != again.User("acme", "alice") {
		t.Error("keys are not deterministic")
	}
}

func TestKeyID(t *testing.T) {
	a, _ := NewKeyer(testSecret)
	a1, _ := NewKeyerScheme(testSecret, SchemeHMAC)
	b, _ := NewKeyer([]byte("keys-test-secret-9876543210"))
	if !strings.HasPrefix(a.ID(), "v2:") || !strings.HasPrefix(a1.ID(), "v1:") || a.ID()[3:] != a1.ID()[3:] || a.ID() == b.ID() {
		t.Errorf("ids %s %s %s", a.ID(), a1.ID(), b.ID())
	}
	if strings.Contains(a.ID(), hex.EncodeToString(testSecret)[:8]) {
		t.Error("the id shows the secret")
	}
	for _, bad := range []string{"", "v2", "2:0123456789abcdef", "vx:0123456789abcdef", "v2:0123"} {
		if _, _, err := parseKeyID(bad); err == nil {
			t.Errorf("parseKeyID(%q) accepted", bad)
		}
	}
	if _, err := NewKeyerScheme(testSecret, 3); err == nil {
		t.Error("unknown scheme accepted")
	}
}

// keyIDStore is a Store that keeps a key id the way redisstore does, for
// KeyerFor's decisions (redisstore's own test and the binary's test run
// the real thing).
type keyIDStore struct {
	Store
	id    string
	state bool
}

func (s *keyIDStore) KeyID(context.Context) (string, bool, error) { return s.id, !s.state, nil }
func (s *keyIDStore) SetKeyID(_ context.Context, id string) (string, error) {
	if s.id == "" {
		s.id = id
	}
	return s.id, nil
}

func TestKeyerFor(t *testing.T) {
	ctx := context.Background()
	fresh := &keyIDStore{}
	k, _, err := KeyerFor(ctx, fresh, testSecret)
	if err != nil || k.Scheme() != CurrentScheme || fresh.id != k.ID() {
		t.Fatalf("fresh store: %v %v %q", k, err, fresh.id)
	}
	if k2, _, err := KeyerFor(ctx, fresh, testSecret); err != nil || k2.ID() != k.ID() {
		t.Errorf("same secret again: %v", err)
	}
	if _, _, err := KeyerFor(ctx, fresh, []byte("keys-test-secret-9876543210")); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("another secret: %v", err)
	}
	legacy := &keyIDStore{state: true}
	k, _, err = KeyerFor(ctx, legacy, testSecret)
	if err != nil || k.Scheme() != SchemeHMAC || !strings.HasPrefix(legacy.id, "v1:") {
		t.Errorf("state without an id: %v %v %q", k, err, legacy.id)
	}
	bad := &keyIDStore{id: "v9:0123456789abcdef", state: true}
	if _, _, err := KeyerFor(ctx, bad, testSecret); err == nil {
		t.Error("unknown scheme in the store accepted")
	}
}

// BenchmarkKeys is the three keys of an ordinary Score (user, username,
// device) under each scheme.
func BenchmarkKeys(b *testing.B) {
	for _, scheme := range []int{SchemeHMAC, SchemeDerived} {
		k, _ := NewKeyerScheme(testSecret, scheme)
		b.Run("scheme"+string(rune('0'+scheme)), func(b *testing.B) {
			for b.Loop() {
				k.User("default", "user-12345")
				k.Username("default", "user12345@example.com")
				k.Device("default", "dev-12345")
			}
		})
	}
}

// TestKeyerRestoreMatchesUnmarshal: a key's digest set by copying the
// domain's starting digest (restore) gives the keys unmarshalling the
// state gives, for every domain, short and long values, after keys of
// other domains in the same scratch.
func TestKeyerRestoreMatchesUnmarshal(t *testing.T) {
	k, err := NewKeyer(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if k.digestSize == 0 {
		t.Fatal("SHA-256's digest is not copied as a value: restore unmarshals, and Scores pay for it")
	}
	slow, _ := NewKeyer(testSecret)
	slow.digestSize = 0
	pw := [20]byte{1, 2, 3}
	for _, v := range []string{"", "a", "alice", strings.Repeat("x", 40), strings.Repeat("y", 55), strings.Repeat("z", 56), strings.Repeat("w", 200)} {
		for _, tenant := range []string{"default", "acme"} {
			for _, d := range domains {
				if got, want := k.key(d, tenant, v, nil), slow.key(d, tenant, v, nil); got != want {
					t.Errorf("domain %c, %q, %q: restored %s, unmarshalled %s", d, tenant, v, got, want)
				}
			}
			if got, want := k.Password(tenant, &pw), slow.Password(tenant, &pw); got != want {
				t.Errorf("password, %q: restored %s, unmarshalled %s", tenant, got, want)
			}
		}
	}
}
