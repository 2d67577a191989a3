package breached

import (
	"encoding/binary"
	"math/bits"
)

// bloomHashes returns, for a 20-byte SHA-1 digest, the four base hashes that
// bits-and-blooms/bloom/v3 computes (its sum256: murmur3-128 of the data,
// then of the data followed by the byte 1), specialised to 20 bytes so that
// the builder neither allocates (bloom.Locations returns a new slice per
// call: ~1.3 GB of garbage per 10M entries at k=20, and a heap twice the
// filter's size) nor re-hashes per tier. TestBloomHashesMatchLocations checks
// it against bloom.Locations. Lookups still use bloom/v3's own Test.
func bloomHashes(d *[20]byte) [4]uint64 {
	const c1, c2 = 0x87c37b91114253d5, 0x4cf5ad432745937f
	k1, k2 := binary.LittleEndian.Uint64(d[0:8]), binary.LittleEndian.Uint64(d[8:16])
	var h1, h2 uint64
	// The one full 16-byte block.
	k1 *= c1
	k1 = bits.RotateLeft64(k1, 31)
	k1 *= c2
	h1 ^= k1
	h1 = bits.RotateLeft64(h1, 27)
	h1 += h2
	h1 = h1*5 + 0x52dce729
	k2 *= c2
	k2 = bits.RotateLeft64(k2, 33)
	k2 *= c1
	h2 ^= k2
	h2 = bits.RotateLeft64(h2, 31)
	h2 += h1
	h2 = h2*5 + 0x38495ab5
	// The 4-byte tail, then the tail with the byte 1 appended.
	tail := uint64(binary.LittleEndian.Uint32(d[16:20]))
	a, b := murmurFinish(h1, h2, tail, 20)
	c, e := murmurFinish(h1, h2, tail|1<<32, 21)
	return [4]uint64{a, b, c, e}
}

func murmurFinish(h1, h2, k1, length uint64) (uint64, uint64) {
	const c1, c2 = 0x87c37b91114253d5, 0x4cf5ad432745937f
	k1 *= c1
	k1 = bits.RotateLeft64(k1, 31)
	k1 *= c2
	h1 ^= k1
	h1 ^= length
	h2 ^= length
	h1 += h2
	h2 += h1
	h1, h2 = fmix64(h1), fmix64(h2)
	h1 += h2
	h2 += h1
	return h1, h2
}

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// bloomLocation is bloom/v3's location(h, i), before the modulo m.
func bloomLocation(h *[4]uint64, i uint64) uint64 {
	return h[i%2] + i*h[2+(((i+(i%2))%4)/2)]
}
