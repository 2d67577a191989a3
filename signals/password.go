package signals

import (
	"github.com/riskgate/riskgate/engine"
)

// Password checks the typed password's SHA-1 against the breached-password
// filter. The hash is only ever passed to the filter: never logged, stored
// or returned. Without a hash, or without a filter, the status is
// "unknown", not "clean".
type Password struct {
	Check BreachChecker
}

func (Password) Name() string { return "password" }

func (s Password) Compute(in *engine.Input, env *engine.Env) error {
	p := &env.Password
	p.Present = in.HasPassword
	p.Status = "unknown"
	if f := in.PasswordFacts; f != nil {
		// A captured attempt: the check ran when it was scored live.
		p.Status, p.Breached, p.Tier = f.Status, f.Status == "breached", f.Tier
		return nil
	}
	if !in.HasPassword || s.Check == nil {
		return nil
	}
	found, tier := s.Check(&in.Password)
	if found {
		p.Status, p.Breached, p.Tier = "breached", true, tier
	} else {
		p.Status = "clean"
	}
	return nil
}
