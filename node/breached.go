package node

import (
	"log/slog"

	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/signals"
)

// BreachChecker opens the breached-password check a PasswordConfig names,
// for the tools that run engines of their own (rule tests): the filter
// file, reloaded when replaced; the bundled common-password list by
// default; or none (a nil check). close releases it.
func BreachChecker(p PasswordConfig, log *slog.Logger) (check signals.BreachChecker, close func() error, err error) {
	check, _, close, err = openBreached(p, log)
	return check, close, err
}

// openBreached returns the breach check for the signals, the live filter
// when it is a file (for its metrics), and what closes it.
func openBreached(p PasswordConfig, log *slog.Logger) (signals.BreachChecker, *breached.Live, func() error, error) {
	var lookup func([20]byte) breached.Match
	var live *breached.Live
	var close func() error
	switch p.Breached {
	case "none":
		return nil, nil, func() error { return nil }, nil
	case "":
		f, err := breached.Default()
		if err != nil {
			return nil, nil, nil, err
		}
		lookup, close = f.Lookup, f.Close
	default:
		l, err := breached.OpenLive(p.Breached, log)
		if err != nil {
			return nil, nil, nil, err
		}
		lookup, close, live = l.Lookup, l.Close, l
		info := l.Info()
		log.Info("breached-password filter loaded", "path", p.Breached, "kind", info.Kind, "entries", info.Entries)
	}
	return func(h *[20]byte) (bool, int) {
		m := lookup(*h)
		return m.Found, m.Tier
	}, live, close, nil
}

// openBreached opens the node's breach check and registers its metrics
// and closing.
func (n *Node) openBreached(p PasswordConfig) (signals.BreachChecker, error) {
	check, live, close, err := openBreached(p, n.log)
	if err != nil {
		return nil, err
	}
	n.onClose("breached", close)
	if live != nil {
		n.collect(live.Collector())
	}
	return check, nil
}
