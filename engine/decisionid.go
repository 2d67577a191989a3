package engine

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// Decision ids are signed, so that an outcome or an analyst's label for a
// decision riskgate never issued is NOT_FOUND however late it comes: a
// label may arrive days after the decision, when nothing of it is left in
// the store (its pending entry is taken by the first outcome and expires).
//
// An id stays a ULID (48 bits of milliseconds, 80 other bits): the last 40
// bits are a tag, the first 40 bits of AES(k, the id's first 88 bits ‖ a
// hash of the tenant), k derived from the HMAC secret. The 40 random bits
// left tell apart the decisions of one millisecond; forging a tag takes
// 2^39 guesses on average. An id from another tenant, or from a node with
// another secret, does not verify.

// idSigner signs and verifies decision ids.
type idSigner struct {
	block cipher.Block
}

func newIDSigner(secretKey []byte) *idSigner {
	mac := hmac.New(sha256.New, secretKey)
	mac.Write([]byte("riskgate/decision-id"))
	b, err := aes.NewCipher(mac.Sum(nil)[:16])
	if err != nil {
		panic("engine: decision id cipher: " + err.Error()) // a 16-byte key: cannot fail
	}
	return &idSigner{block: b}
}

const tagBytes = 5

// tag computes id's tag in buf, which the cipher's interface call would
// otherwise move to the heap on every decision.
func (s *idSigner) tag(tenant string, id *[16]byte, buf *[32]byte) [tagBytes]byte {
	in, out := buf[:16], buf[16:]
	copy(in[:16-tagBytes], id[:16-tagBytes])
	var th [8]byte
	binary.BigEndian.PutUint64(th[:], fnv64a(tenant))
	copy(in[16-tagBytes:], th[:tagBytes])
	s.block.Encrypt(out, in)
	var t [tagBytes]byte
	copy(t[:], out)
	return t
}

// fnv64a is FNV-1a of s, without hash/fnv's allocation.
func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// sign returns id with its tag; an id that is not a ULID is returned as
// it is (and will not verify).
func (s *idSigner) sign(tenant, id string) string {
	b, ok := decodeULID(id)
	if !ok {
		return id
	}
	var buf [32]byte
	t := s.tag(tenant, &b, &buf)
	copy(b[16-tagBytes:], t[:])
	return encodeULID(&b)
}

// verify reports whether id was signed for tenant.
func (s *idSigner) verify(tenant, id string) bool {
	b, ok := decodeULID(id)
	if !ok {
		return false
	}
	var buf [32]byte
	t := s.tag(tenant, &b, &buf)
	return hmac.Equal(t[:], b[16-tagBytes:])
}

// decodeULID decodes 26 Crockford base32 digits (upper case, as
// encodeULID writes them).
func decodeULID(id string) (b [16]byte, ok bool) {
	if len(id) != 26 || id[0] > '7' {
		return b, false
	}
	var hi, lo uint64
	for i := range 26 {
		v := crockfordValue(id[i])
		if v < 0 {
			return b, false
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return b, true
}

func crockfordValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		for i := 10; i < len(crockford); i++ {
			if crockford[i] == c {
				return i
			}
		}
	}
	return -1
}
