package node

import (
	"context"
	"log/slog"

	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/signals"
)

// BreachChecker opens the breached-password check a PasswordConfig names,
// for the tools that run engines of their own (rule tests): the bundled
// common-password list and the filter file, reloaded when it changes, or
// none (a nil check). close releases it.
func BreachChecker(p PasswordConfig, log *slog.Logger) (check signals.BreachChecker, close func() error, err error) {
	check, set, err := openBreached(p, log)
	if err != nil || set == nil {
		return check, func() error { return nil }, err
	}
	return check, set.Close, nil
}

// openBreached returns the breach check for the signals and the set of
// filters behind it (nil when there is none).
func openBreached(p PasswordConfig, log *slog.Logger) (signals.BreachChecker, *breached.Set, error) {
	if p.Breached == "none" {
		return nil, nil, nil
	}
	opt := breached.SetOptions{NoBuiltin: p.NoBuiltinBreached, Live: breached.LiveOptions{Logger: log}}
	if p.Breached != "" {
		opt.Files = []string{p.Breached}
	}
	set, err := breached.OpenSet(opt)
	if err != nil {
		return nil, nil, err
	}
	if set.Empty() {
		log.Warn("breached-password check disabled: --no-builtin-breached without --breached")
		return nil, nil, set.Close()
	}
	return func(h *[20]byte) (bool, int) {
		m := set.Lookup(*h)
		return m.Found, m.Tier
	}, set, nil
}

// openBreached opens the node's breach check and registers its metrics
// and closing.
func (n *Node) openBreached(p PasswordConfig) (signals.BreachChecker, error) {
	check, set, err := openBreached(p, n.log)
	if err != nil || set == nil {
		return check, err
	}
	n.onCloseCtx("breached", func(ctx context.Context) error { return within(ctx, "breached", set.Close) })
	n.collect(set.Collector())
	n.dataFiles = append(n.dataFiles, dataFiles{"breached", set.Reload})
	return check, nil
}
