package useragent

import (
	"hash/maphash"
	"sync/atomic"
)

// Cache remembers recent classifications. Logins come from a few thousand
// distinct user agents at most, and a lookup (a hash and a compare, tens of
// nanoseconds) is much cheaper than a parse. It is a direct-mapped table of
// immutable entries behind atomic pointers: lookups take no lock and a
// collision simply replaces the slot. The zero Cache is not usable; use
// NewCache.
type Cache struct {
	seed  maphash.Seed
	slots []atomic.Pointer[cacheEntry]
}

// DefaultCacheSize is NewCache's number of entries.
const DefaultCacheSize = 4096

type cacheEntry struct {
	ua   string
	info Info
}

// maxCachedLen keeps pathological user agents out of the cache: they are
// parsed every time rather than pinned in memory.
const maxCachedLen = 512

// NewCache returns an empty cache of DefaultCacheSize entries.
func NewCache() *Cache { return NewCacheSize(DefaultCacheSize) }

// NewCacheSize returns an empty cache of n entries (at most n x
// maxCachedLen bytes of user agents); n <= 0 means DefaultCacheSize.
func NewCacheSize(n int) *Cache {
	if n <= 0 {
		n = DefaultCacheSize
	}
	return &Cache{seed: maphash.MakeSeed(), slots: make([]atomic.Pointer[cacheEntry], n)}
}

// Parse is Parse with the cache in front. An entry is allocated only when a
// user agent is first seen (or after its slot was taken by another).
func (c *Cache) Parse(ua string) Info {
	if ua == "" || len(ua) > maxCachedLen {
		return Parse(ua)
	}
	slot := &c.slots[maphash.String(c.seed, ua)%uint64(len(c.slots))]
	if e := slot.Load(); e != nil && e.ua == ua {
		return e.info
	}
	info := Parse(ua)
	slot.Store(&cacheEntry{ua: ua, info: info})
	return info
}
