package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// Keyer turns identifiers into Keys with a keyed hash under a secret, so
// that stores, logs and dumps never hold a user id, username, device id or
// password hash in clear, and keys cannot be recomputed without the secret.
//
// Two schemes exist, and state keyed under one is invisible under the
// other, so stores that outlive the process record which one (and which
// secret) their state was written with: see KeyerFor.
//
//   - Scheme 1, HMAC-SHA-256(secret, domain ‖ tenant ‖ 0 ‖ value),
//     truncated to 16 bytes: two SHA-256 compressions per identifier, plus
//     the HMAC's bookkeeping.
//   - Scheme 2 (current): a key per domain is derived from the secret once,
//     kd = HMAC-SHA-256(secret, "riskgate/keys/v2/" ‖ domain), and an
//     identifier's key is SHA-256(kd ‖ 0³² ‖ tenant ‖ 0 ‖ value) truncated
//     to 16 bytes, the keyed block's state computed once: one compression
//     for identifiers up to 55 bytes with their tenant. A secret-prefix
//     hash whose key fills its own block is a keyed compression function;
//     truncating the output to half the state leaves no length extension.
type Keyer struct {
	scheme      int
	fingerprint string
	ids         *idSigner // signs decision ids (decisionid.go)
	pool        sync.Pool // *keyScratch
	// states are the SHA-256 states after each domain's key block (scheme 2).
	states [numDomains][]byte
	// starts are the same states as digests, copied into a key's digest
	// by value (digestSize bytes) where the digest's type allows: see
	// restore.
	starts     [numDomains]hash.Hash
	digestSize uintptr
}

type keyScratch struct {
	mac hash.Hash // scheme 1
	buf []byte
	sum [sha256.Size]byte
}

// Domains separate the kinds of identifier, so that a username that happens
// to equal a device id does not get the same key.
const (
	domainUser     = 'u'
	domainUsername = 'n'
	domainDevice   = 'd'
	domainPassword = 'p'
	domainAttempt  = 'a'
)

var domains = [...]byte{domainUser, domainUsername, domainDevice, domainPassword, domainAttempt}

const numDomains = len(domains)

func domainIndex(d byte) int {
	switch d {
	case domainUser:
		return 0
	case domainUsername:
		return 1
	case domainDevice:
		return 2
	case domainAttempt:
		return 4
	}
	return 3
}

// Key schemes; see Keyer.
const (
	SchemeHMAC    = 1
	SchemeDerived = 2
	CurrentScheme = SchemeDerived
)

// MinSecretLen is the shortest HMAC secret accepted.
const MinSecretLen = 16

// NewKeyer returns a Keyer of the current scheme for secret, which must be
// at least MinSecretLen bytes.
func NewKeyer(secret []byte) (*Keyer, error) { return NewKeyerScheme(secret, CurrentScheme) }

// NewKeyerScheme returns a Keyer of the given scheme: a store whose state
// was written under an older scheme is read with it.
func NewKeyerScheme(secret []byte, scheme int) (*Keyer, error) {
	if len(secret) < MinSecretLen {
		return nil, errors.New("engine: hmac secret must be at least 16 bytes")
	}
	if scheme != SchemeHMAC && scheme != SchemeDerived {
		return nil, fmt.Errorf("engine: unknown key scheme %d", scheme)
	}
	s := append([]byte(nil), secret...)
	k := &Keyer{scheme: scheme, fingerprint: fingerprint(s), ids: newIDSigner(s)}
	switch scheme {
	case SchemeHMAC:
		k.pool.New = func() any {
			return &keyScratch{mac: hmac.New(sha256.New, s), buf: make([]byte, 0, 128)}
		}
	case SchemeDerived:
		for i, d := range domains {
			mac := hmac.New(sha256.New, s)
			mac.Write([]byte("riskgate/keys/v2/"))
			mac.Write([]byte{d})
			var block [sha256.BlockSize]byte
			mac.Sum(block[:0])
			h := sha256.New()
			h.Write(block[:])
			st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("engine: keyer: %w", err)
			}
			k.states[i] = st
			k.starts[i] = h
		}
		k.digestSize = plainDigestSize(k.starts[0], sha256.New())
		k.pool.New = func() any {
			return &keyScratch{mac: sha256.New(), buf: make([]byte, 0, 128)}
		}
	}
	return k, nil
}

// fingerprint is a short keyed fingerprint of the secret: it tells two
// secrets apart without saying anything about either.
func fingerprint(secret []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("riskgate/key-id"))
	return hex.EncodeToString(mac.Sum(nil)[:8])
}

// Scheme returns the Keyer's scheme.
func (k *Keyer) Scheme() int { return k.scheme }

// ID identifies the keys this Keyer makes: the scheme and a fingerprint
// of the secret, as "v2:0123456789abcdef". Stores that outlive the process
// record it with their state (KeyerFor).
func (k *Keyer) ID() string { return "v" + strconv.Itoa(k.scheme) + ":" + k.fingerprint }

// parseKeyID splits an ID into scheme and fingerprint.
func parseKeyID(id string) (scheme int, fp string, err error) {
	v, fp, ok := strings.Cut(id, ":")
	if !ok || !strings.HasPrefix(v, "v") || len(fp) != 16 {
		return 0, "", fmt.Errorf("malformed key id %q", id)
	}
	scheme, err = strconv.Atoi(v[1:])
	if err != nil {
		return 0, "", fmt.Errorf("malformed key id %q", id)
	}
	return scheme, fp, nil
}

func (k *Keyer) key(domain byte, tenant string, value string, raw []byte) Key {
	s := k.pool.Get().(*keyScratch)
	out := k.keyWith(s, domain, tenant, value, raw)
	k.pool.Put(s)
	return out
}

// keyWith is key with a scratch the caller took from k.pool: a Score
// keys up to four identifiers, and takes the scratch once.
func (k *Keyer) keyWith(s *keyScratch, domain byte, tenant string, value string, raw []byte) Key {
	s.buf = s.buf[:0]
	if k.scheme == SchemeHMAC {
		s.buf = append(s.buf, domain)
	}
	s.buf = append(s.buf, tenant...)
	s.buf = append(s.buf, 0)
	s.buf = append(s.buf, value...)
	s.buf = append(s.buf, raw...)
	if k.scheme == SchemeHMAC {
		s.mac.Reset()
	} else {
		k.restore(s.mac, domainIndex(domain))
	}
	s.mac.Write(s.buf)
	sum := s.mac.Sum(s.sum[:0])
	var out Key
	copy(out[:], sum)
	return out
}

// restore sets h, a digest of the pool's, to the state after domain
// index i's key block. Every Score keys three or four identifiers, and
// UnmarshalBinary checks and decodes the state field by field (about a
// hundred instructions each time); the digest is a plain value, which
// hash.Cloner's Clone copies as such (to a new allocation), so it is
// copied here the same way, into h's memory. Where the digest is not a
// plain value (plainDigestSize), the state is unmarshalled.
// TestKeyerRestoreMatchesUnmarshal compares the two.
func (k *Keyer) restore(h hash.Hash, i int) {
	if n := k.digestSize; n != 0 {
		copy(unsafe.Slice((*byte)(dataOf(h)), n), unsafe.Slice((*byte)(dataOf(k.starts[i])), n))
		return
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(k.states[i]); err != nil {
		panic("engine: keyer state: " + err.Error()) // a state MarshalBinary made: cannot fail
	}
}

// dataOf is the data word of an interface: the pointer a digest is.
func dataOf(h hash.Hash) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&h))[1]
}

// plainDigestSize is the size of the value a and b point to when both
// are pointers of one type to a value holding no pointer (a digest's
// state: words and bytes), which a copy of its bytes then copies whole;
// else 0.
func plainDigestSize(a, b hash.Hash) uintptr {
	t := reflect.TypeOf(a)
	if t != reflect.TypeOf(b) || t.Kind() != reflect.Pointer || !pointerFree(t.Elem()) {
		return 0
	}
	return t.Elem().Size()
}

// pointerFree reports whether values of t hold no pointer of any kind.
func pointerFree(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return pointerFree(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !pointerFree(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// User keys a user id within a tenant.
func (k *Keyer) User(tenant, userID string) Key { return k.key(domainUser, tenant, userID, nil) }

// Username keys a normalised username within a tenant.
func (k *Keyer) Username(tenant, username string) Key {
	return k.key(domainUsername, tenant, username, nil)
}

// Device keys a device id within a tenant.
func (k *Keyer) Device(tenant, deviceID string) Key {
	return k.key(domainDevice, tenant, deviceID, nil)
}

// Attempt keys an attempt_id within a tenant.
func (k *Keyer) Attempt(tenant, attemptID string) Key {
	return k.key(domainAttempt, tenant, attemptID, nil)
}

// Outcome keys the outcome of an attempt reported by its attempt_id, apart
// from the attempt's own key (Attempt): attempt ids hold no NUL, so no
// attempt id keys to it. fp is the attempt's fingerprint: an id reused for
// another attempt (another user, another address) keys another outcome.
func (k *Keyer) Outcome(tenant, attemptID string, fp []byte) Key {
	return k.key(domainAttempt, tenant, attemptID, append([]byte("\x00outcome"), fp...))
}

// Password keys a password's SHA-1 within a tenant.
func (k *Keyer) Password(tenant string, sha1 *[20]byte) Key {
	return k.key(domainPassword, tenant, "", sha1[:])
}

// KeyIDKeeper is implemented by stores whose state outlives the process
// (Redis): they record the ID of the Keyer their state was written with.
type KeyIDKeeper interface {
	// KeyID returns the recorded ID, "" when none is; empty reports
	// whether the store holds no state at all.
	KeyID(ctx context.Context) (id string, empty bool, err error)
	// SetKeyID records id unless an ID is recorded already, and returns
	// the ID recorded.
	SetKeyID(ctx context.Context, id string) (string, error)
}

// NoteUnrecordedState begins KeyerFor's note when it found state but no
// key id: state written before key ids were recorded, or a store that lost
// its key id and kept, or was given, state while no node was there to
// record it again. The caller should say so loudly.
const NoteUnrecordedState = "the store holds state but no key id"

// ErrKeyMismatch is wrapped by KeyerFor's error when the store's state
// was keyed with another secret.
var ErrKeyMismatch = errors.New("state keyed with another HMAC secret")

// KeyerFor returns the Keyer for secret and the state in store, and what
// it found, for the log. A store that keeps no key id (in memory: its
// state dies with the process) gets the current scheme. Otherwise:
//
//   - a store with no state records the current scheme's ID with this
//     secret and uses it;
//   - a store with state but no ID (written before IDs were recorded) was
//     keyed with scheme 1: it records scheme 1's ID with this secret,
//     trusting it to be the one the state was written with;
//   - a store with an ID is read with its scheme, and only with the secret
//     it names: another secret would silently make every user unknown, so
//     KeyerFor refuses with ErrKeyMismatch.
func KeyerFor(ctx context.Context, store Store, secret []byte) (*Keyer, string, error) {
	kk, ok := store.(KeyIDKeeper)
	if !ok {
		k, err := NewKeyer(secret)
		return k, "", err
	}
	id, empty, err := kk.KeyID(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("engine: reading the store's key id: %w", err)
	}
	note := ""
	scheme := CurrentScheme
	switch {
	case id != "":
		s, fp, err := parseKeyID(id)
		if err != nil {
			return nil, "", fmt.Errorf("engine: the store's key id: %w", err)
		}
		k, err := NewKeyerScheme(secret, s)
		if err != nil {
			return nil, "", fmt.Errorf("engine: the store's key id %s: %w", id, err)
		}
		if fp != k.fingerprint {
			return nil, "", fmt.Errorf("engine: %w: the store's key id is %s, this secret's is %s; start with the secret the state was written with, "+
				"or rotate as the README's \"Rotating the HMAC secret\" says (a new, empty store: every baseline is learned again)", ErrKeyMismatch, id, k.ID())
		}
		return k, "key id " + id + " matches the store's", nil
	case !empty:
		scheme = SchemeHMAC
		note = NoteUnrecordedState + ": taken as written before key ids, keyed with scheme 1; recorded this secret's fingerprint as the one it was written with"
	default:
		note = "new store: recorded key id"
	}
	k, err := NewKeyerScheme(secret, scheme)
	if err != nil {
		return nil, "", err
	}
	got, err := kk.SetKeyID(ctx, k.ID())
	if err != nil {
		return nil, "", fmt.Errorf("engine: recording the store's key id: %w", err)
	}
	if got != k.ID() {
		// Another node recorded an ID between our read and write: decide
		// on what it recorded.
		return KeyerFor(ctx, store, secret)
	}
	return k, note + " " + k.ID(), nil
}
