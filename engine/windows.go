package engine

import "time"

// Window is one sliding window of the attack counters, kept at bucket
// resolution: Buckets buckets of Width seconds, the newest being the one the
// current time falls in. Both stores keep exactly this layout (memstore in
// process, redisstore in Redis, where its Lua scripts read the same numbers
// from a generated preamble), so a count means the same on either.
type Window struct {
	Width   int64  // seconds per bucket
	Buckets int64  // buckets in the window
	Name    string // "10m": how metrics, keys and docs name it
}

// Length is how far back the window reaches.
func (w Window) Length() time.Duration { return time.Duration(w.Width*w.Buckets) * time.Second }

// Windows is a set of three windows, shortest first: the counts of Counts
// come in this order.
type Windows [3]Window

// The two window sets. Addresses, subnets, ASNs and tenants need short
// windows (bursts); accounts and passwords long ones (slow brute force, slow
// spraying).
var (
	shortWindows = Windows{{60, 10, "10m"}, {300, 12, "1h"}, {3600, 24, "24h"}}
	longWindows  = Windows{{300, 12, "1h"}, {3600, 24, "24h"}, {21600, 28, "7d"}}
)

// ShortWindows are the windows of addresses, subnets, ASNs and tenants:
// 10 minutes at 1-minute buckets, 1 hour at 5 minutes, 24 hours at 1 hour.
func ShortWindows() Windows { return shortWindows }

// LongWindows are the windows of accounts and passwords: 1 hour at 5-minute
// buckets, 24 hours at 1 hour, 7 days at 6 hours.
func LongWindows() Windows { return longWindows }
