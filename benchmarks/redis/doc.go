// Package redisbench benchmarks Score with the Redis store: the default
// rules and signals, a private redis-server on loopback, sequential and
// with 64 concurrent callers, reporting latency percentiles and the network
// round trips per Score. Results and the commands that reproduce them are
// in benchmarks/README.md ("Redis store").
package redisbench
