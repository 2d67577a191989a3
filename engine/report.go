package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnknownDecision is returned by Report when the decision id is unknown:
// never issued, from another tenant, or (for an outcome, not for an
// analyst's label) already reported or expired.
var ErrUnknownDecision = errors.New("unknown or already reported decision")

// Report feeds an outcome back. Failures go to the attack windows; a
// completed login (an allowed login that succeeded, or a passed step-up)
// teaches the user's baseline. Analyst labels are passed to observers only.
func (e *Engine) Report(ctx context.Context, o Outcome) error {
	if o.Outcome == OutcomeUnknown || o.Outcome > ConfirmedLegit {
		return fieldErr("outcome", "required: login_succeeded, login_failed, step_up_passed, step_up_failed, confirmed_fraud or confirmed_legit")
	}
	tenant := o.Tenant
	if tenant == "" {
		tenant = DefaultTenant
	} else if err := checkTenant(tenant); err != nil {
		return err
	}
	if !o.Time.IsZero() {
		// When it was reported, as an attempt's time is checked: the
		// capture orders outcomes by it for replays and backtests.
		if y := o.Time.UTC().Year(); y < 2000 || y > 9999 {
			return fieldErr("time", "year %d out of range", y)
		}
		if skew := e.opts.MaxClockSkew; skew > 0 && o.Time.After(e.opts.Now().Add(skew)) {
			return fieldErr("time", "%s is in the future", o.Time.UTC().Format(time.RFC3339))
		}
	}
	switch {
	case o.DecisionID != "" && o.Attempt != nil:
		return fieldErr("decision_id", "give either decision_id or attempt, not both")
	case o.DecisionID != "":
		if err := checkToken("decision_id", o.DecisionID, MaxIDLen); err != nil {
			return err
		}
		return e.reportDecision(ctx, tenant, &o)
	case o.Attempt != nil:
		return e.reportAttempt(ctx, &o)
	default:
		return fieldErr("decision_id", "required (or attempt)")
	}
}

func (e *Engine) reportDecision(ctx context.Context, tenant string, o *Outcome) error {
	// The id's signature tells a decision this node's secret issued for
	// this tenant from anything else, without a store read: an analyst's
	// label may come days later, when the store has forgotten it.
	if !e.opts.Keyer.ids.verify(tenant, o.DecisionID) && !e.unsignable(o) {
		return fmt.Errorf("engine: report %s: %w", o.DecisionID, ErrUnknownDecision)
	}
	if o.Outcome == ConfirmedFraud || o.Outcome == ConfirmedLegit {
		e.reported(o, nil)
		return nil
	}
	var (
		p  Pending
		ok bool
	)
	err := e.storeCall(ctx, "take_pending", func(ctx context.Context) error {
		var err error
		p, ok, err = e.opts.Store.TakePending(ctx, tenant, o.DecisionID)
		return err
	})
	if err != nil {
		return fmt.Errorf("engine: report: %w", err)
	}
	if !ok {
		return fmt.Errorf("engine: report %s: %w", o.DecisionID, ErrUnknownDecision)
	}
	if p.Action == ActionStepUp && o.Outcome == LoginSucceeded {
		// The identity server let the user in without saying the step-up
		// passed: do not learn a baseline from it, and keep the decision
		// so that the step-up outcome can still arrive.
		_ = e.storeCall(ctx, "commit", func(ctx context.Context) error {
			return e.opts.Store.Commit(ctx, &Commit{Pending: &p})
		})
		return &FieldError{Field: "outcome", Msg: "decision was step_up: report step_up_passed or step_up_failed"}
	}
	if err := e.apply(ctx, o.Outcome, &p.Event, &p.Login); err != nil {
		return err
	}
	e.reported(o, &p)
	return nil
}

func (e *Engine) reportAttempt(ctx context.Context, o *Outcome) error {
	var s scratch
	s.attempt = *o.Attempt
	if err := s.n.normalize(&s.attempt, e.opts.Now(), e.opts.MaxClockSkew); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			fe.Field = "attempt." + fe.Field
		}
		return err
	}
	if o.Tenant != "" && o.Tenant != s.n.tenant {
		return fieldErr("tenant", "%q differs from attempt.tenant %q", o.Tenant, s.n.tenant)
	}
	e.prepare(&s)
	s.ev = Event{Tenant: s.n.tenant, Time: s.n.time, IP: WindowAddr(s.in.Addr), Subnet: s.in.Subnet, ASN: s.in.Enrichment.Network.ASN}
	e.keys(&s)
	loginOf(&s, &s.login)
	if s.attempt.AttemptID != "" && o.Outcome != ConfirmedFraud && o.Outcome != ConfirmedLegit {
		first, err := e.firstOutcome(ctx, o.Outcome, &s)
		if err != nil || !first {
			return err
		}
	} else if err := e.apply(ctx, o.Outcome, &s.ev, &s.login); err != nil {
		return err
	}
	e.reported(o, nil)
	return nil
}

// firstOutcome applies an outcome that names its attempt by attempt_id
// once within the store's attempt window, as Score counts an attempt once:
// an identity server's retry or a Kafka redelivery of the same outcome must
// not count a failure twice, or learn a login twice. The store's attempt
// memory decides, atomically and on every node, under a key apart from the
// Score's own (the attempt may have been scored, and its outcome is still
// news). first is false for a redelivery, which changes nothing.
//
// A failure of an attempt whose result already says it failed
// (password_bad, no_such_user) is the attempt's own: its Score counted it,
// if the Score landed (a client that timed out fails over and reports it).
// It is counted under the Score's key, as that Score would have: once,
// whichever came.
//
// An attempt_id that named another attempt (Score refuses such a reuse)
// does not silence this one: its outcome keys apart, by the attempt's
// fingerprint, and a failure whose id a different attempt's Score took is
// counted under that key too. It once answered 204 and counted nothing.
func (e *Engine) firstOutcome(ctx context.Context, kind OutcomeKind, s *scratch) (first bool, _ error) {
	fp := e.attemptFingerprint(s)
	ev := s.ev
	failure := kind == LoginFailed || kind == StepUpFailed
	scoreKey := failure && s.attempt.Result.Failed()
	if scoreKey {
		ev.AttemptID = e.opts.Keyer.Attempt(s.n.tenant, s.attempt.AttemptID)
		ev.Attempt, ev.Failed = true, true
	} else {
		ev.AttemptID = e.opts.Keyer.Outcome(s.n.tenant, s.attempt.AttemptID, fp[:])
		ev.Attempt, ev.Failed = false, failure
	}
	var st State
	err := e.storeCall(ctx, "observe", func(ctx context.Context) error { return e.opts.Store.Observe(ctx, &ev, &st) })
	if err != nil {
		return false, fmt.Errorf("engine: report: %w", err)
	}
	if scoreKey && !st.Replayed {
		// Keep the attempt's fingerprint under its id, as a Score keeps
		// it before its decision, so that a later report of another
		// attempt under this id is told apart. A Score that lands later
		// reads no decision in it and decides.
		rec := &Decided{Tenant: s.n.tenant, AttemptID: ev.AttemptID, User: ev.User, Record: fp[:]}
		_ = e.storeCall(ctx, "commit", func(ctx context.Context) error { return e.opts.Store.Commit(ctx, &Commit{Decided: rec}) })
	}
	if st.Replayed && scoreKey && len(st.Decided) >= fingerprintLen && !bytes.Equal(st.Decided[:fingerprintLen], fp[:]) {
		// The Score under this id was another attempt's: this failure
		// is news, counted once under its own outcome key.
		ev.AttemptID = e.opts.Keyer.Outcome(s.n.tenant, s.attempt.AttemptID, fp[:])
		ev.Attempt, st = false, State{}
		err = e.storeCall(ctx, "observe", func(ctx context.Context) error { return e.opts.Store.Observe(ctx, &ev, &st) })
		if err != nil {
			return false, fmt.Errorf("engine: report: %w", err)
		}
	}
	if st.Replayed {
		return false, nil
	}
	if ev.Failed {
		return true, nil // Observe counted it
	}
	return true, e.apply(ctx, kind, &s.ev, &s.login)
}

// apply turns an outcome into state changes.
func (e *Engine) apply(ctx context.Context, kind OutcomeKind, ev *Event, l *Login) error {
	switch kind {
	case LoginSucceeded, StepUpPassed:
		if l.User.IsZero() {
			return nil
		}
		err := e.storeCall(ctx, "commit", func(ctx context.Context) error { return e.opts.Store.Commit(ctx, &Commit{Learn: l}) })
		if err != nil {
			return fmt.Errorf("engine: report: learn: %w", err)
		}
		e.learned(l)
	case LoginFailed, StepUpFailed:
		f := *ev
		f.Attempt, f.Failed = false, true
		err := e.storeCall(ctx, "record", func(ctx context.Context) error { return e.opts.Store.Record(ctx, &f) })
		if err != nil {
			return fmt.Errorf("engine: report: record failure: %w", err)
		}
	}
	return nil
}

func (e *Engine) reported(o *Outcome, p *Pending) {
	for _, ob := range e.opts.Observers {
		ob.Reported(o, p)
	}
}

// Forget erases everything held on the user (GDPR and CCPA erasure).
func (e *Engine) Forget(ctx context.Context, tenant, userID string) error {
	k, err := e.userKey(tenant, userID)
	if err != nil {
		return err
	}
	err = e.storeCall(ctx, "forget", func(ctx context.Context) error { return e.opts.Store.Forget(ctx, tenantOr(tenant), k) })
	if err != nil {
		return fmt.Errorf("engine: forget: %w", err)
	}
	if e.recent != nil {
		e.recent.forget(tenantOr(tenant), userID)
	}
	for _, ob := range e.opts.Observers {
		if f, ok := ob.(ForgetObserver); ok {
			f.Forgotten(tenantOr(tenant), userID)
		}
	}
	return nil
}

// Profile returns the user's baseline, for subject-access requests and
// debugging. ok is false when nothing is held.
func (e *Engine) Profile(ctx context.Context, tenant, userID string) (p Profile, ok bool, err error) {
	k, err := e.userKey(tenant, userID)
	if err != nil {
		return Profile{}, false, err
	}
	err = e.storeCall(ctx, "profile", func(ctx context.Context) error {
		var err error
		p, ok, err = e.opts.Store.Profile(ctx, tenantOr(tenant), k)
		return err
	})
	if err != nil {
		return Profile{}, false, fmt.Errorf("engine: profile: %w", err)
	}
	return p, ok, nil
}

func (e *Engine) userKey(tenant, userID string) (Key, error) {
	if tenant != "" {
		if err := checkToken("tenant", tenant, MaxTenantLen); err != nil {
			return Key{}, err
		}
	}
	if userID == "" {
		return Key{}, fieldErr("user_id", "required")
	}
	if err := checkString("user_id", userID, MaxIDLen); err != nil {
		return Key{}, err
	}
	return e.opts.Keyer.User(tenantOr(tenant), userID), nil
}

func tenantOr(t string) string {
	if t == "" {
		return DefaultTenant
	}
	return t
}

// logLimits are the log limiters, one per kind of failure, so that a rule
// failing on every login cannot hide a store outage (or the reverse): each
// kind gets its own line per interval. dry is the failures of dry runs
// (Engine.failed), which are no login's.
type logLimits struct {
	store, signal, rule, other, dry rateLimiter
}

func (l *logLimits) of(stage string) *rateLimiter {
	switch stage {
	case "store":
		return &l.store
	case "signal":
		return &l.signal
	case "rule":
		return &l.rule
	}
	return &l.other
}

// rateLimiter lets one log line through per interval, so that a store
// outage logs a warning every few seconds rather than one per login.
type rateLimiter struct {
	next atomicTime
}

const logInterval = 10 * time.Second

func (r *rateLimiter) allow(now time.Time) bool {
	n := r.next.Load()
	if now.UnixNano() < n {
		return false
	}
	return r.next.CompareAndSwap(n, now.Add(logInterval).UnixNano())
}

// unsignable reports whether o is the outcome of a decision whose id a
// custom Options.NewID made in a form that cannot carry a signature (not a
// ULID; tools and tests number their decisions): only the store can tell
// whether such a decision was made. A label needs a signed id, since it
// may come after the store forgot the decision.
func (e *Engine) unsignable(o *Outcome) bool {
	if e.defaultIDs || o.Outcome == ConfirmedFraud || o.Outcome == ConfirmedLegit {
		return false
	}
	_, ulid := decodeULID(o.DecisionID)
	return !ulid
}
