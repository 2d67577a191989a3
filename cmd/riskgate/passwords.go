package main

import (
	"log/slog"

	"github.com/riskgate/riskgate/signals"
)

// passwordFlags configure the breached-password check.
type passwordFlags struct{}

func (p *passwordFlags) checker(log *slog.Logger) (signals.BreachChecker, func(), error) {
	return nil, nil, nil
}
