// Package redisbench benchmarks Score with the Redis store: the default
// rules and signals, a private redis-server on loopback, sequential and
// with 64 concurrent callers, reporting Redis's CPU time per Score, latency
// percentiles and the network round trips per Score (concurrent Scores
// share them: the store coalesces). TestProfileCommandStats prints what
// Redis spends it on. Results and the commands that reproduce them are in
// benchmarks/README.md ("Redis store").
package redisbench
