// Package enginetest builds engines for tests and benchmarks: the default
// signals and rules on an in-memory store, with a fixed HMAC secret and a
// silent logger, unless the caller says otherwise. Every package that
// exercises the whole pipeline uses it, so they all test what the binary
// runs.
package enginetest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/signals"
)

// Secret is the HMAC secret of test engines. It is not a secret.
const Secret = "riskgate-test-secret-0123456789"

// New returns an engine built from opts, filling what opts leaves empty:
// Store (a fresh memstore, closed when the test ends), Rules (the embedded
// default rules), Keyer, Signals (signals.Default) and Logger (discarded).
// A Store given by the caller is the caller's to close.
func New(tb testing.TB, opts engine.Options) *engine.Engine {
	tb.Helper()
	if opts.Store == nil {
		s := memstore.New(memstore.Options{})
		tb.Cleanup(func() { s.Close(context.Background()) })
		opts.Store = s
	}
	if opts.Rules == nil {
		set, err := rules.Default()
		if err != nil {
			tb.Fatal(err)
		}
		opts.Rules = set
	}
	if opts.Keyer == nil {
		k, err := engine.NewKeyer([]byte(Secret))
		if err != nil {
			tb.Fatal(err)
		}
		opts.Keyer = k
	}
	if opts.Signals == nil {
		opts.Signals = signals.Default(signals.Config{})
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	e, err := engine.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}
