package engine

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

type atomicTime = atomic.Int64

// idSource makes ULIDs: 48 bits of milliseconds and 80 random bits in
// Crockford base32, so decision ids sort by time and cannot be guessed.
type idSource struct {
	pool sync.Pool // *mrand.ChaCha8
}

func newIDSource() *idSource {
	s := &idSource{}
	s.pool.New = func() any {
		var seed [32]byte
		_, _ = rand.Read(seed[:]) // never fails on Linux since Go 1.24
		return mrand.NewChaCha8(seed)
	}
	return s
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ULID returns a new id for time t.
func (s *idSource) ULID(t time.Time) string {
	b := s.bytes(t)
	return encodeULID(&b)
}

// bytes returns a new id for time t, not yet encoded.
func (s *idSource) bytes(t time.Time) [16]byte {
	r := s.pool.Get().(*mrand.ChaCha8)
	b := idBytes(r, t)
	s.pool.Put(r)
	return b
}

// idBytes returns a new id for time t with r's random bits, not yet
// encoded. r is one of an idSource's.
func idBytes(r *mrand.ChaCha8, t time.Time) [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	binary.BigEndian.PutUint16(b[6:8], uint16(r.Uint64()))
	return b
}

func encodeULID(b *[16]byte) string {
	var out [26]byte
	// 128 bits as 26 base32 digits, the first carrying 3 bits: eight
	// digits to each 40 bits from the right, taken from one word each
	// (every Score makes an id; shifting the 128 bits across two words
	// for each digit cost twice as much). TestEncodeULIDDigits compares
	// it with a digit at a time.
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	digits8((*[8]byte)(out[18:]), lo)
	digits8((*[8]byte)(out[10:]), lo>>40|hi<<24)
	digits8((*[8]byte)(out[2:]), hi>>16)
	out[1] = crockford[hi>>56&31]
	out[0] = crockford[hi>>61]
	return string(out[:])
}

// digits8 writes the low 40 bits of v as eight base32 digits.
func digits8(d *[8]byte, v uint64) {
	d[0], d[1], d[2], d[3] = crockford[v>>35&31], crockford[v>>30&31], crockford[v>>25&31], crockford[v>>20&31]
	d[4], d[5], d[6], d[7] = crockford[v>>15&31], crockford[v>>10&31], crockford[v>>5&31], crockford[v&31]
}

// SeededIDs returns a decision-id source that yields the same ids for the
// same seed and times: replays and rule tests use it so that their output
// is reproducible byte for byte. Never use it for live traffic.
func SeededIDs(seed uint64) func(time.Time) string {
	var mu sync.Mutex
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	r := mrand.NewChaCha8(s)
	return func(t time.Time) string {
		mu.Lock()
		defer mu.Unlock()
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
		binary.BigEndian.PutUint64(b[8:], r.Uint64())
		binary.BigEndian.PutUint16(b[6:8], uint16(r.Uint64()))
		return encodeULID(&b)
	}
}
