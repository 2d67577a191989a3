package simulator

import (
	"crypto/sha1"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"time"
)

// Streams of randomness. Every user and every attack draws from its own
// PCG stream derived from the seed, so that changing the attack mix does
// not change a single legitimate login, and adding users does not change
// the existing ones.
const (
	streamUsers      = 1 << 32 // + user index
	streamStuffing   = 1
	streamSpray      = 2
	streamTakeover   = 3
	streamHijack     = 4
	streamBruteForce = 5
	streamPick       = 6 // victim selection
	streamProxies    = 7
	streamBursts     = 8
)

func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream^0x9e3779b97f4a7c15))
}

// poisson draws from a Poisson distribution (Knuth for small means, a
// rounded normal approximation above 30).
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// logNormal draws a value whose logarithm is normal, with the given median.
func logNormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

// between draws a duration uniformly in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// expDur draws an exponentially distributed duration with the given mean:
// the gaps of a Poisson process.
func expDur(r *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(r.ExpFloat64() * float64(mean))
}

// weighted picks an index with probability proportional to w[i].
func weighted(r *rand.Rand, w []float64) int {
	total := 0.0
	for _, x := range w {
		total += x
	}
	x := r.Float64() * total
	for i, v := range w {
		if x < v {
			return i
		}
		x -= v
	}
	return len(w) - 1
}

func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// token is a random identifier, as a device cookie holds.
func token(r *rand.Rand) string {
	var b [12]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b[:])
}

// sha1Hex is the Have I Been Pwned convention for a typed password.
func sha1Hex(password string) string {
	h := sha1.Sum([]byte(password))
	return hex.EncodeToString(h[:])
}

// randomPassword is a password nobody else has: what a password manager
// or a careful person picks.
func randomPassword(r *rand.Rand) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#%&*+-=?@"
	b := make([]byte, 10+r.IntN(8))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}
