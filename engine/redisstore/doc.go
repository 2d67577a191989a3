// Package redisstore is the Redis engine.Store: state shared by any number
// of scoring nodes, on one Redis server, a Sentinel-managed failover group
// or a Redis Cluster (go-redis v9 underneath; see Options.URL). It needs
// Redis 7 (Functions).
//
// # One round trip per Score
//
// Everything a call does runs in one Lua function, riskgate_batch (a
// Redis Function library, loaded by New and again on a server that lost
// it), called with a list of items: one key each, and what to do with it.
// Its code is lua/batch.lua, after the generated lua/preamble.lua: the
// constants it shares with the Go code (item kinds, window layout).
// An Observe's items are the attempt's account, address, subnet, ASN and
// password, plus the writes earlier Commits queued; on a single server or
// a Sentinel group all of them go in one FCALL, sent as one command. On a
// Redis Cluster a function may only touch keys of one hash slot, so the
// items are grouped by slot, one FCALL per group, sent as one pipeline:
// go-redis sends each node its part in parallel, so a Score still costs
// one round trip to each node involved, concurrently.
//
// Why one function rather than plain commands: the windows need
// conditional updates (a ring advancing, a small set turning into
// HyperLogLogs) that plain commands would either race on or need several
// round trips for, and a command per key and window would be some thirty
// go-redis commands per Score, each an allocation and a reply to parse.
//
// Concurrent Observes are coalesced (coalesce.go): while two calls are in
// flight, further Observes wait and then go together, up to 16 in one
// call. A lone Score goes at once; under load Redis reads and answers one
// request for many Scores, which is much of what a small request costs it.
//
// What the decision implies (Commit: a login to learn, a pending
// decision) is not needed for the decision, so Commit queues it and
// returns. The queue rides in the next call that goes to Redis anyway (a
// steady stream of Scores thus stays at one round trip each) and a
// background flush sends it after Options.FlushInterval (2ms) when no call
// comes. Close flushes it. Reads that depend on a queued write (the user's
// profile, a pending decision) put the queue ahead of their own items in
// the same call, and first wait for any call already carrying a write for
// that user or decision: a Commit is visible to every later call on the
// same Store. Other nodes see it once it is flushed, within milliseconds.
//
// # What Redis spends
//
// Lua in Redis 7 is slow per operation: a redis.call, a struct.pack or a
// string.sub costs thousands of instructions, and every string a script
// makes is hashed byte by byte. So the function does the few things that
// must happen next to the data, in fixed-layout binary strings edited by
// splices and written back only when they changed (a sighting in a bucket
// already recorded writes nothing; an attempt that did not fail touches no
// failure counter; a sighting or a failure in a state whose time to live
// need not move is written in place, SETRANGE or APPEND of the bytes that
// change), and returns the state values as they are: the client does the
// window arithmetic (windows.go), adding what was written in place. benchmarks/README.md ("Redis
// store") has the measurements.
//
// # Keys
//
// Every key is tenant-scoped and hash-tagged by its subject (keys.go has
// the full layout), for example
//
//	rg:{t:acme:u:9f86d081884c7d659a2feaa0c55ad015}:profile
//	rg:{t:acme:ip:203.0.113.9}:s
//	rg:{t:acme:net:203.0.113.0/24}:u10m:29340123
//
// so that everything on one account, one address, one password... is in
// one slot, and different subjects spread over the cluster. Users,
// usernames, devices and passwords appear only as the engine's keyed
// hashes. Every key has a time to live: window state its longest window
// plus a bucket from the last time it was set (set again whenever the
// longest window's wall-clock bucket has moved on), each HyperLogLog
// bucket its window plus a bucket, accounts Options.ProfileTTL from the
// last login learned (set again at most once a day per account and node),
// pending decisions Options.PendingTTL, attempt ids
// (rg:{t:acme:a:<keyed attempt_id>}, with the decision once committed)
// and a user's index of them (rg:{t:acme:u:<key>}:attempts)
// Options.AttemptWindow.
//
// # Attempt ids
//
// An Observe whose event carries an attempt id (engine.Event.AttemptID)
// starts with a KIND_ATTEMPT item: SET NX of the attempt's key. When the
// key existed (the attempt was observed before, by any node) the script
// reads the items after it without counting anything and returns the
// decision stored there by the first node's Commit, all in the same call.
// On a Redis Cluster those items live in other slots: the attempt is
// looked up first, one more round trip, and the items are built read-only.
//
// A new attempt of a known user (engine.Event.User) is also indexed under
// the user, by its account item in the same call: its id goes into the
// user's sorted set <user>:attempts, scored by its expiry, the expired ones
// trimmed by one attempt in eight (by its keyed id), the set's time to
// live the attempt window (a ZADD and an EXPIRE, and for one attempt in
// eight a ZREMRANGEBYSCORE, no round trip; about 140 bytes of
// MEMORY USAGE for a user with one attempt in the window, beside the
// attempt's own key of about 330 with its record). Forget reads and deletes
// the set with the account and, in its second round trip, replaces what
// each attempt's key holds with the erased mark (erasedMark, SET XX
// KEEPTTL): the id stays remembered until its time to live ends, so a
// redelivery is still not counted again, but its decision, whose reasons
// may quote the erased history, is gone (engine.State.Erased). A decision
// committed after the erasure (a Score still deciding) does not replace
// the mark. A decision is kept under its id with the id's own time to
// live, which its index entry covers, and only while the id is
// remembered: an id indexed by an outcome reported before its Score is
// not kept past that entry. A mark (engine.MinRecord bytes: an attempt
// that will have no decision) fills only an id that holds nothing yet (a
// GET, then a SET). A node of a version before the erased mark takes it for the record
// of another attempt, and refuses a retry of the erased attempt (a 400 on
// attempt_id) rather than decide it again and learn it; attempts such
// nodes observed are not indexed, and their records expire with the
// attempt window.
//
// # Windows
//
// Counters are rings of buckets (10m in 1-minute, 1h in 5-minute, 24h in
// 1-hour, 7d in 6-hour buckets), the memory store's, counted by the
// events' own times: the two stores give the same counts, which a test
// checks on random streams with late events.
//
// Distinct counts (usernames per address, subnet and ASN; accounts per
// password) take three forms by size: up to 16 members, a list inside the
// subject's state value, counted by the client; up to Options.SmallSet
// (300) members within the longest window, a sorted set of the members by
// the bucket of their last sighting, counted by ZCOUNT; beyond, one
// HyperLogLog per bucket and one union per window, whose count the state
// keeps (lua/batch.lua explains the scheme): about 0.8% standard error, a
// few KB per window however large the attack. The two small forms are
// exact, and count a member in a window by its last sighting, which
// differs from a bucket's memory only for an attempt dated before that
// sighting.
//
// The tenant's attempt and failure rates are not written per Score: each
// Store aggregates its tenants' counts by minute and sends them every
// Options.TenantFlushInterval (200ms), reading back the other nodes'
// (tenant.go). A node's counts include its own attempts at once, exactly,
// and other nodes' within about two flush intervals; a tenant-wide rate
// needs no more, and no single key takes a write per Score.
//
// # Accounts and concurrent learners
//
// An account is one string (profile.go): its failure rings, its profile
// (encodeProfile: about 250 bytes for a user with three devices,
// two countries and forty logins) and the logins learned since the
// profile was last written. Learning appends a login (APPEND), so
// concurrent learners on any number of nodes never conflict and never
// lose one. A Score reads the account with one GET and folds the appended
// logins with engine.Profile.Learn (the one learning code); once
// Options.CompactBacklog (8) are waiting it queues a compaction: a
// compare-and-set that rewrites the profile only if its random write tag
// and the last folded login are unchanged, so that a concurrent compaction
// or Forget turns it into a no-op instead of a lost or resurrected login.
//
// # Failure
//
// Every call is bounded by its context (go-redis ContextTimeoutEnabled):
// the engine gives each store call its StoreTimeout, and Redis being slow
// or down costs a Score that much at most (a coalesced Observe stops
// waiting at its own deadline), after which the engine decides without
// state; a refused connection fails at once. Errors that mean the state
// could not be reached wrap engine.ErrUnavailable. Calls are not retried
// (a retry after a timeout could count an attempt twice), and buffered
// writes whose call failed are dropped and counted (Stats): losing some
// learning during an outage is the price of never blocking a login on it.
// When Redis comes back, go-redis reconnects (it probes about once a
// second) and writes resume.
package redisstore
