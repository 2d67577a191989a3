// Package redisstore is the Redis engine.Store: state shared by any number
// of scoring nodes, on one Redis server, a Sentinel-managed failover group
// or a Redis Cluster (go-redis v9 underneath; see Options.URL).
//
// # One round trip per Score
//
// Observe sends one pipeline. It holds one small Lua script per slot group
// the attempt touches (the user, the address, the subnet, the ASN, the
// password, the tenant), each of which records the attempt in its
// subject's windows and returns the counts (and, for the user, the
// profile) in the same step.
//
// Why scripts in a pipeline and not one script: Redis Cluster runs a
// script on one node and only over keys of one hash slot, and one
// attempt's subjects live in up to six slots. A go-redis ClusterClient
// splits a pipeline by node and sends the parts in parallel, so a Score
// costs one round trip to each node involved, concurrently, on a cluster
// too.
//
// Why scripts and not plain commands: a window update reads, prunes and
// increments, and the distinct counts keep per-bucket HyperLogLogs and a
// union per window. As plain commands that would be some sixty commands
// per Score, racy between nodes, most of them sent blind; as scripts it is
// six atomic calls that return just the numbers the signals need. Scripts
// run by EVALSHA; a NOSCRIPT answer (after a restart, or from a new cluster
// node) is retried once with EVAL, which also caches the script again.
//
// What the decision implies (Commit: a login to learn, a pending
// decision) is not needed for the decision, so Commit queues it and
// returns. The queue rides in the next pipeline any call sends (a steady
// stream of Scores thus stays at one round trip each) and a background
// flush sends it after Options.FlushInterval (2ms) when no call comes.
// Close flushes it. Reads that depend on a queued write (the user's
// profile, a pending decision) send the queue ahead of their own commands
// in the same pipeline, and first wait for any pipeline already carrying a
// write for that user or decision: a Commit is visible to every later call
// on the same Store. Other nodes see it once it is flushed, within
// milliseconds.
//
// # Keys
//
// Every key is tenant-scoped and hash-tagged by its subject (keys.go has
// the full layout), for example
//
//	rg:{t:acme:u:9f86d081884c7d659a2feaa0c55ad015}:profile
//	rg:{t:acme:ip:203.0.113.9}:win
//	rg:{t:acme:ip:203.0.113.9}:u10m:29340123
//
// so that everything on one user, one address, one password... is in one
// slot, and different subjects spread over the cluster. Users, usernames,
// devices and passwords appear only as the engine's keyed hashes. Every
// key has a time to live: window state its longest window plus a bucket,
// each HyperLogLog bucket its window plus a bucket, profiles
// Options.ProfileTTL from the last login learned, pending decisions
// Options.PendingTTL.
//
// The tenant's attempt and failure rates are one key per tenant, written
// by every Score of the tenant: on a cluster, that key's node runs one
// small script per Score of the tenant. A tenant beyond what one Redis
// core does would need that counter sharded.
//
// # Windows
//
// Each subject has one small state value holding its counters as rings of
// buckets (10m in 1-minute, 1h in 5-minute, 24h in 1-hour, 7d in 6-hour
// buckets, as the memory store), counted by the events' own times with the
// memory store's ring code, so the two stores give the same counts.
// Distinct counts (usernames per address, subnet and ASN; accounts per
// password) are exact small sets inside that state value while they are
// small (up to 12 members in the longest window: most addresses and
// passwords), and HyperLogLogs beyond: one per bucket, and one union per
// window that answers PFCOUNT from its cached cardinality (scripts.go
// explains the scheme). About 0.8% standard error; 12 KB at most per key
// however large the attack.
//
// # Profiles and concurrent learners
//
// A profile is a compact binary value (engine.AppendProfile: about 250
// bytes, 360 bytes of Redis memory with its key, for a user with three
// devices, two countries and forty logins) plus a list of learned logins
// not yet folded into it. Learning is a blind RPUSH of the login, so
// concurrent learners on any number of nodes never conflict and never lose
// a login. The next reader of the profile folds the list with
// engine.Profile.Learn (the one learning code) and queues a compaction: a
// script that stores the folded profile and trims the folded logins only
// if the profile's random write tag and the last folded login's id are
// unchanged, so a concurrent compaction or Forget turns it into a no-op
// instead of a lost or resurrected login.
//
// # Failure
//
// Every call is bounded by its context (go-redis ContextTimeoutEnabled):
// the engine gives each store call its StoreTimeout, and Redis being slow
// or down costs a Score that much at most, after which the engine decides
// without state; a refused connection fails at once. Errors that mean the
// state could not be reached wrap engine.ErrUnavailable. Pipelines are not
// retried (a retry after a timeout could count an attempt twice), and
// buffered writes whose pipeline failed are dropped and counted (Stats):
// losing some learning during an outage is the price of never blocking a
// login on it. When Redis comes back, go-redis reconnects (it probes about
// once a second) and writes resume.
package redisstore
