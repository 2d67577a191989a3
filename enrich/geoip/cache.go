package geoip

import (
	"net/netip"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// cache is a bounded LRU of lookup results keyed by address, split into
// shards so that concurrent scorers rarely wait on the same lock (an LRU
// hit is a write: it moves the entry to the front).
//
// Entries carry the generation of the databases they were read from; a
// reload bumps the generation, so an entry read from the old files is a
// miss even if it was stored after the swap by a lookup that started
// before it.
type cache struct {
	shards []cacheShard
	mask   uint64
}

type cacheShard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[netip.Addr, cached] // not safe for concurrent use: mu guards it
	// hits and misses are counted under mu, which the lookup holds
	// anyway: no shared atomic on the hot path.
	hits, misses uint64
	_            [32]byte // keep shards' locks on separate cache lines
}

type cached struct {
	gen uint64
	r   Result
}

// newCache returns a cache of about size entries; size <= 0 disables it.
func newCache(size int) *cache {
	if size <= 0 {
		return nil
	}
	n := 1
	for n < 64 && n*1024 < size {
		n <<= 1
	}
	c := &cache{shards: make([]cacheShard, n), mask: uint64(n - 1)}
	per := max(1, (size+n-1)/n)
	for i := range c.shards {
		// NewLRU fails only for a size <= 0.
		c.shards[i].lru, _ = simplelru.NewLRU[netip.Addr, cached](per, nil)
	}
	return c
}

func (c *cache) shard(addr netip.Addr) *cacheShard {
	b := addr.As16()
	hi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 | uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	h := (hi*0x9E3779B97F4A7C15 ^ lo) * 0xBF58476D1CE4E5B9
	return &c.shards[(h>>32)&c.mask]
}

// get copies the entry for addr into r when it is of generation gen.
func (c *cache) get(addr netip.Addr, gen uint64, r *Result) bool {
	s := c.shard(addr)
	s.mu.Lock()
	v, ok := s.lru.Get(addr)
	ok = ok && v.gen == gen
	if ok {
		s.hits++
		*r = v.r
	} else {
		s.misses++
	}
	s.mu.Unlock()
	return ok
}

func (c *cache) add(addr netip.Addr, gen uint64, r *Result) {
	s := c.shard(addr)
	s.mu.Lock()
	s.lru.Add(addr, cached{gen: gen, r: *r})
	s.mu.Unlock()
}

// purge empties the cache, releasing the memory of stale entries.
func (c *cache) purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.lru.Purge()
		s.mu.Unlock()
	}
}

// stats returns the number of entries, hits and misses.
func (c *cache) stats() (entries int, hits, misses uint64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		entries += s.lru.Len()
		hits += s.hits
		misses += s.misses
		s.mu.Unlock()
	}
	return entries, hits, misses
}
