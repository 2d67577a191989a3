// Package signals computes the features rules read. Each signal is a small
// unit implementing engine.Signal that fills one part of engine.Env from
// the attempt, its enrichment and the user's state: device novelty,
// location novelty and velocity, the address's network and reputation, the
// attack windows (brute force, stuffing, spraying, failure surges),
// time-of-day novelty and breached passwords.
//
// Signals are registered explicitly, in order, by Default or by the caller.
// None of them allocates in the steady state; none of them blocks.
package signals

import "github.com/riskgate/riskgate/engine"

// Config tunes the default signals. Zero values take the defaults.
type Config struct {
	// MaxSpeedKMH is the speed above which travel between two logins is
	// impossible. Default 1000 km/h: faster than a commercial flight once
	// airports are counted.
	MaxSpeedKMH float64
	// MinHourLogins is the history needed before an hour can be unusual.
	// Default 10.
	MinHourLogins int
	// UnusualHourShare is the share of logins (in the hour and its two
	// neighbours) under which an hour is unusual. Default 0.05.
	UnusualHourShare float64
	// Breached checks a password's SHA-1 against a breached-password
	// filter; nil means no filter (password.status is "unknown").
	Breached BreachChecker
	// RBAAlpha is the smoothing weight of the statistical RBA score.
	// Default 1.
	RBAAlpha float64
}

// BreachChecker reports whether a password's SHA-1 is known breached and,
// for filters built with prevalence tiers, which tier.
type BreachChecker func(sha1 *[20]byte) (breached bool, tier int)

func (c *Config) defaults() {
	if c.MaxSpeedKMH <= 0 {
		c.MaxSpeedKMH = 1000
	}
	if c.MinHourLogins <= 0 {
		c.MinHourLogins = 10
	}
	if c.UnusualHourShare <= 0 {
		c.UnusualHourShare = 0.05
	}
}

// Default returns the standard signals in their order: the baseline first,
// because novelty signals read user.known.
func Default(cfg Config) []engine.Signal {
	cfg.defaults()
	return []engine.Signal{
		User{MinHourLogins: cfg.MinHourLogins, UnusualHourShare: cfg.UnusualHourShare},
		Device{},
		Network{},
		Location{MaxSpeedKMH: cfg.MaxSpeedKMH},
		AttackWindows{},
		Password{Check: cfg.Breached},
		NewRBA(cfg.RBAAlpha),
	}
}
