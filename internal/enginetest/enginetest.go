// Package enginetest builds engines for tests and benchmarks through the
// assembly the binary uses (package node): the default signals and rules
// on an in-memory store, with a fixed HMAC secret, no breached-password
// filter and a silent logger, unless the caller says otherwise. Every
// package that exercises the whole pipeline uses it, so they all test what
// the binary runs.
package enginetest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/node"
)

// Secret is the HMAC secret of test engines. It is not a secret.
const Secret = "riskgate-test-secret-0123456789"

// New returns an engine assembled by node.New, closed when the test ends,
// with what opts sets in place of the node's own: Store (the caller's to
// close; default a fresh memory store), Rules (default the embedded
// rules), Keyer, Signals (default the default signals, without a
// breached-password filter), Logger (default discarded); Enrichers and
// Observers are added; RetryEntries, when zero, is the node's (no retry
// cache on an in-process memory store); every other field set in opts
// (Now, NewID, retries, timeouts) is used as it is.
func New(tb testing.TB, opts engine.Options) *engine.Engine {
	tb.Helper()
	cfg := node.Config{EngineConfig: node.EngineConfig{PasswordConfig: node.PasswordConfig{Breached: "none"}}}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nopts := []node.Option{node.WithLogger(log), node.WithSecret([]byte(Secret)), node.WithEnrichers(opts.Enrichers...)}
	if opts.Store != nil {
		nopts = append(nopts, node.WithStore(opts.Store))
	}
	for _, o := range opts.Observers {
		nopts = append(nopts, node.WithObserver(o))
	}
	nopts = append(nopts, node.WithEngine(func(o *engine.Options) {
		given := opts
		given.Store, given.Enrichers, given.Observers, given.Logger = o.Store, o.Enrichers, o.Observers, o.Logger
		if given.Rules == nil {
			given.Rules = o.Rules
		}
		if given.Keyer == nil {
			given.Keyer = o.Keyer
		}
		if given.Signals == nil {
			given.Signals = o.Signals
		}
		if given.RetryEntries == 0 {
			// The node's: none on the memory store, which keeps each
			// decision with its attempt (node.MemoryConfig).
			given.RetryEntries = o.RetryEntries
		}
		*o = given
	}))
	n, err := node.New(context.Background(), cfg, nopts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// Bounded: an observer the test gave (an alert dispatcher) may be
		// retrying a sink the test already stopped.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	return n.Engine()
}
