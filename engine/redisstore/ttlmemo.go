package redisstore

import (
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// A learned login sets its account's time to live again (Options.ProfileTTL
// from the last login learned), which is one more command in Redis per
// Score, for a deadline that moves by a day in 180. So each Store sets it at
// most once a period per account (a day, or ProfileTTL/100 when shorter):
// a profile is erased between ProfileTTL less a period and ProfileTTL after
// its last learned login. The memo is a fixed table of 2^14 slots (128 KiB),
// each the period of the last refresh and a 32-bit tag of the account; two
// accounts sharing a slot evict each other, which costs refreshes only: a
// refresh is skipped only for the slot's own tag, refreshed this period.

const ttlSlots = 1 << 14

type ttlMemo struct {
	period int64 // seconds
	slots  [ttlSlots]atomic.Uint64
}

func (m *ttlMemo) init(profileTTL time.Duration) {
	m.period = int64(min(profileTTL/100, 24*time.Hour) / time.Second)
}

// refresh reports whether a login learned now for user must set its
// account's time to live, and notes that it will.
func (m *ttlMemo) refresh(tenant string, user *engine.Key, now int64) bool {
	if m.period <= 0 {
		return true
	}
	h := uint64(14695981039346656037) // FNV-1a over the tenant, mixed into the key's bits
	for i := 0; i < len(tenant); i++ {
		h = (h ^ uint64(tenant[i])) * 1099511628211
	}
	k := uint64(user[0]) | uint64(user[1])<<8 | uint64(user[2])<<16 | uint64(user[3])<<24 |
		uint64(user[4])<<32 | uint64(user[5])<<40 | uint64(user[6])<<48 | uint64(user[7])<<56
	k ^= h
	slot := &m.slots[k%ttlSlots]
	v := (k>>32)<<32 | uint64(uint32(now/m.period))
	if slot.Load() == v {
		return false
	}
	slot.Store(v)
	return true
}
