package main

import (
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
)

// storeOptions are the memory store's caps (issue 10 item 9: every
// structure an attacker's input grows has one).
func (m memoryFlags) storeOptions() memstore.Options {
	return memstore.Options{
		MaxUsers: m.MaxUsers, MaxWindowKeys: m.MaxWindowKeys, MaxAccountKeys: m.MaxAccountKeys,
		MaxPending: m.MaxPending, MaxDistinct: m.MaxDistinct, MaxMembers: m.MaxMembers,
	}
}

// engineOptions are the engine's own caps, whatever the store.
func (m memoryFlags) engineOptions(o *engine.Options) {
	o.RetryEntries, o.RetryMaxBytes, o.UserAgents = m.MaxRetries, m.MaxRetryBytes, m.UserAgents
	if m.MaxRetries <= 0 {
		o.RetryEntries = -1 // off
	}
}
