package engine

import (
	"context"
)

// PasswordFacts is what a capture keeps of an attempt's password instead of
// its hash: the keyed hash that counts distinct accounts per password
// (spraying), and what the breached-password check answered when the
// attempt was scored live. A capture never holds the SHA-1 itself, which
// could be looked up in a breach corpus; these facts cannot.
type PasswordFacts struct {
	// Key is the password's keyed hash, under the capture's secret. The
	// engine uses it as the attack windows' password key as it is: keys
	// are opaque to stores, and only equality matters.
	Key Key
	// Status is what the breached-password check said: "breached",
	// "clean" or "unknown" (no filter was loaded).
	Status string
	// Tier is the breached password's prevalence tier; 0 unless breached.
	Tier int
}

// MaxBreachTier bounds PasswordFacts.Tier (filters have at most a handful
// of tiers).
const MaxBreachTier = 255

// validate checks the facts like any other input.
func (p *PasswordFacts) validate() error {
	if p.Key.IsZero() {
		return fieldErr("password.key", "required")
	}
	switch p.Status {
	case "breached":
		if p.Tier < 0 || p.Tier > MaxBreachTier {
			return fieldErr("password.tier", "%d out of range [0, %d]", p.Tier, MaxBreachTier)
		}
	case "clean", "unknown":
		if p.Tier != 0 {
			return fieldErr("password.tier", "%d given for a %s password: only a breached password has a tier", p.Tier, p.Status)
		}
	default:
		return fieldErr("password.status", "%q: want breached, clean or unknown", p.Status)
	}
	return nil
}

// ScoreCaptured scores an attempt read back from a capture (package
// engine/capture): the password is known only by pw, never by
// password_sha1, which must then be empty. It is the replay path's entry
// point and no transport offers it: a live caller cannot choose its own
// breach status. pw nil means the attempt carried no password.
//
// It differs from Score in two ways: the password signals read pw, and
// attempt_id is not an idempotency key (a capture holds each scored
// attempt once, retries included only when the live engine scored them
// again, so each is scored again). Identifiers in a capture are already
// keyed hashes; the engine keys them once more, which keeps every
// equality the windows and baselines depend on.
func (e *Engine) ScoreCaptured(ctx context.Context, a Attempt, pw *PasswordFacts) (Decision, error) {
	if pw != nil {
		if a.PasswordSHA1 != "" {
			return Decision{}, fieldErr("password_sha1", "a captured attempt carries password facts, not a hash")
		}
		if err := pw.validate(); err != nil {
			return Decision{}, err
		}
	}
	var d Decision
	err := e.score(ctx, &a, nil, &captured{password: pw}, &d)
	return d, err
}

// captured marks a Score from a capture.
type captured struct {
	password *PasswordFacts // nil: no password
}
