package main

import (
	"log/slog"

	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/signals"
)

// passwordFlags configure the breached-password check.
type passwordFlags struct {
	Breached          string `help:"Breached-password filter built by 'riskgate breached build', checked together with the bundled list of common passwords and reloaded when the file changes. 'none' disables the check." placeholder:"FILE" env:"RISKGATE_BREACHED"`
	NoBuiltinBreached bool   `help:"Leave out the bundled list of common passwords (by default it is checked beside --breached)." env:"RISKGATE_NO_BUILTIN_BREACHED"`

	live *breached.Set
}

// checker returns the breach check for the signals, and what closes it.
func (p *passwordFlags) checker(log *slog.Logger) (signals.BreachChecker, func(), error) {
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
		return nil, nil, nil
	}
	p.live = set
	return func(h *[20]byte) (bool, int) {
		m := set.Lookup(*h)
		return m.Found, m.Tier
	}, func() { set.Close() }, nil
}
