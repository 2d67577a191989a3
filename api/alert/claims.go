package alert

import (
	"hash/maphash"
	"sync"

	"github.com/riskgate/riskgate/engine"
)

// Claim marks an attempt whose alert the caller publishes itself to the
// destination of the sinks configured with SkipClaimed: the stream runner
// claims each attempt before scoring it and writes its alert to the alerts
// topic before committing the message, so the dispatcher's alerts-topic
// sink must not write it again. Every Claim needs a Release.
func (d *Dispatcher) Claim(tenant, attemptID string) { d.claims.add(tenant, attemptID, 1) }

// Release ends a Claim.
func (d *Dispatcher) Release(tenant, attemptID string) { d.claims.add(tenant, attemptID, -1) }

// claimSet counts claims by tenant and attempt id, sharded to keep the
// stream's workers off one lock.
type claimSet struct {
	seed   maphash.Seed
	shards [16]claimShard
}

type claimShard struct {
	mu sync.Mutex
	m  map[claimKey]int
}

type claimKey struct{ tenant, id string }

func (c *claimSet) init() {
	c.seed = maphash.MakeSeed()
	for i := range c.shards {
		c.shards[i].m = make(map[claimKey]int)
	}
}

func (c *claimSet) shard(k claimKey) *claimShard {
	return &c.shards[maphash.Comparable(c.seed, k)%uint64(len(c.shards))]
}

func (c *claimSet) add(tenant, id string, n int) {
	if tenant == "" {
		tenant = engine.DefaultTenant
	}
	k := claimKey{tenant, id}
	s := c.shard(k)
	s.mu.Lock()
	if v := s.m[k] + n; v > 0 {
		s.m[k] = v
	} else {
		delete(s.m, k)
	}
	s.mu.Unlock()
}

func (c *claimSet) has(tenant, id string) bool {
	k := claimKey{tenant, id}
	s := c.shard(k)
	s.mu.Lock()
	_, ok := s.m[k]
	s.mu.Unlock()
	return ok
}
