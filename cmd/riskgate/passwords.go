package main

import (
	"log/slog"

	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/signals"
)

// passwordFlags configure the breached-password check.
type passwordFlags struct {
	Breached string `help:"Breached-password filter built by 'riskgate breached build', reloaded when the file is replaced. Default: the bundled list of common passwords; 'none' disables the check." placeholder:"FILE" env:"RISKGATE_BREACHED"`

	live *breached.Live
}

// checker returns the breach check for the signals, and what closes it.
func (p *passwordFlags) checker(log *slog.Logger) (signals.BreachChecker, func(), error) {
	var lookup func([20]byte) breached.Match
	var closer func()
	switch p.Breached {
	case "none":
		return nil, nil, nil
	case "":
		f, err := breached.Default()
		if err != nil {
			return nil, nil, err
		}
		lookup, closer = f.Lookup, func() { f.Close() }
	default:
		l, err := breached.OpenLive(p.Breached, log)
		if err != nil {
			return nil, nil, err
		}
		p.live = l
		info := l.Info()
		log.Info("breached-password filter loaded", "path", p.Breached, "kind", info.Kind, "entries", info.Entries)
		lookup, closer = l.Lookup, func() { l.Close() }
	}
	return func(h *[20]byte) (bool, int) {
		m := lookup(*h)
		return m.Found, m.Tier
	}, closer, nil
}
