package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
	"sync"
)

// Keyer turns identifiers into Keys with HMAC-SHA-256 under a secret, so
// that stores, logs and dumps never hold a user id, username, device id or
// password hash in clear, and keys cannot be recomputed without the secret.
type Keyer struct {
	pool sync.Pool // *keyScratch
}

type keyScratch struct {
	mac hash.Hash
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
)

// MinSecretLen is the shortest HMAC secret accepted.
const MinSecretLen = 16

// NewKeyer returns a Keyer for secret, which must be at least MinSecretLen
// bytes.
func NewKeyer(secret []byte) (*Keyer, error) {
	if len(secret) < MinSecretLen {
		return nil, errors.New("engine: hmac secret must be at least 16 bytes")
	}
	s := append([]byte(nil), secret...)
	k := &Keyer{}
	k.pool.New = func() any {
		return &keyScratch{mac: hmac.New(sha256.New, s), buf: make([]byte, 0, 128)}
	}
	return k, nil
}

func (k *Keyer) key(domain byte, tenant string, value string, raw []byte) Key {
	s := k.pool.Get().(*keyScratch)
	s.buf = append(s.buf[:0], domain)
	s.buf = append(s.buf, tenant...)
	s.buf = append(s.buf, 0)
	s.buf = append(s.buf, value...)
	s.buf = append(s.buf, raw...)
	s.mac.Reset()
	s.mac.Write(s.buf)
	sum := s.mac.Sum(s.sum[:0])
	var out Key
	copy(out[:], sum)
	k.pool.Put(s)
	return out
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

// Password keys a password's SHA-1 within a tenant.
func (k *Keyer) Password(tenant string, sha1 *[20]byte) Key {
	return k.key(domainPassword, tenant, "", sha1[:])
}
