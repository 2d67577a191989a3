package engine

import (
	"context"
	"time"
)

// commit applies what the decision implies, without failing the decision:
// a write that does not happen costs learning, not the login.
func (e *Engine) commit(ctx context.Context, s *scratch, d *Decision) {
	s.commitFor(d)
	if ctx.Err() != nil {
		// Its caller has gone (a deadline passed while the rules ran): the
		// decision is kept for a retry, and a step-up for its outcome
		// (below), but the login is not learned. The caller decided it
		// by its own failover (the Go client steps up) and reports it
		// with its outcome, which learns it then, or, failed, never.
		s.commit.Learn, s.commit.Observed = nil, nil
	}
	if !s.ev.AttemptID.IsZero() {
		s.decided = Decided{Tenant: s.n.tenant, AttemptID: s.ev.AttemptID, User: s.ev.User, Record: e.decidedRecord(s, d)}
		s.commit.Decided = &s.decided
	}
	if s.commit.Learn == nil && s.commit.Pending == nil && s.commit.Decided == nil {
		return
	}
	// The decision is made and is being returned: it is kept, and a
	// step-up's pending decision, even when its caller has gone
	// meanwhile, within the store's own bound. Refused for the cancelled
	// context, a caller's retry found no decision kept (a second of
	// waiting for one on the memory store, then another decision), and
	// the first decision's outcome was not found.
	ctx = detached(ctx)
	err := e.storeCall(ctx, "commit", func(ctx context.Context) error { return e.opts.Store.Commit(ctx, &s.commit) })
	if err == nil && s.commit.Learn != nil {
		e.learned(s.commit.Learn)
	}
}

func (e *Engine) learned(l *Login) {
	for _, x := range e.learners {
		x.Learned(l)
	}
}

// commitFor decides what the decision implies for the store.
func (s *scratch) commitFor(d *Decision) {
	s.commit = Commit{}
	if s.ev.User.IsZero() {
		return // nothing to learn about an unknown user
	}
	loginOf(s, &s.login)
	switch {
	case d.Action == ActionAllow && s.attempt.Result == ResultPasswordOK:
		s.commit.Learn = &s.login
		s.commit.Observed = &s.state
	case s.attempt.BeforePassword:
		// The Score after the password check is the one reported on.
	case d.Action == ActionStepUp && !s.attempt.Result.Failed(),
		d.Action == ActionAllow && s.attempt.Result == ResultUnknown:
		s.pending = Pending{DecisionID: d.DecisionID, Action: d.Action, Result: s.attempt.Result, Event: s.ev, Login: s.login}
		s.pending.Event.Attempt, s.pending.Event.Failed, s.pending.Event.AttemptID = false, false, Key{}
		s.commit.Pending = &s.pending
	}
}

// loginOf describes the attempt as the completed login it may become.
func loginOf(s *scratch, l *Login) {
	loc := &s.in.Enrichment.Location
	*l = Login{
		Tenant: s.n.tenant, User: s.ev.User, Time: s.n.time, IP: s.in.Addr, Subnet: s.in.Subnet,
		Device: s.in.Device, Agent: s.in.Agent.Family, AgentVersion: s.in.Agent.Version, ASN: s.in.Enrichment.Network.ASN,
	}
	if loc.Known {
		l.Country, l.City = loc.Country, loc.City
		if loc.HasCoordinates {
			l.HasLocation, l.Lat, l.Lon, l.AccuracyKM = true, loc.Lat, loc.Lon, loc.AccuracyKM
		}
	}
}

func (e *Engine) storeCall(ctx context.Context, op string, f func(context.Context) error) error {
	// The clock is read only for someone who wants the duration, and then
	// only the monotonic clock: time.Now reads the wall clock too, and
	// each read costs 50-200 ns on a virtual machine.
	var start time.Duration
	timed := len(e.opts.Observers) > 0
	if timed {
		start = monotonic()
	}
	var err error
	if timeout := e.opts.StoreTimeout; timeout > 0 {
		// Looked up only under a bound: without one (the memory store)
		// there is nothing to lengthen, and a Score walks no context.
		if w, ok := ctx.Value(storeWaitKey{}).(time.Duration); ok && w > timeout {
			timeout = w
		}
		tctx, cancel := context.WithTimeout(ctx, timeout)
		err = f(tctx)
		cancel()
	} else {
		err = f(ctx)
	}
	if timed {
		took := monotonic() - start
		for _, o := range e.opts.Observers {
			o.StoreCall(op, took, err)
		}
	}
	if err != nil && e.logLim.store.allow(time.Now()) {
		e.log.Warn("store call failed; deciding without state", "op", op, "err", err)
	}
	return err
}

// storeWaitKey carries WithStoreWait's bound.
type storeWaitKey struct{}

// WithStoreWait returns ctx under which the Scores and Reports made with it
// wait up to d for each store call, where Options.StoreTimeout is shorter.
// Options.StoreTimeout is set for a login someone waits on, which is better
// decided at once without state than late; a consumer of a stream has no
// one waiting, and an attempt it decides without state is decided worse
// (no baseline, its windows uncounted). It never shortens the bound, nor
// sets one where Options.StoreTimeout is 0 (none). d <= 0 returns ctx.
func WithStoreWait(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	return context.WithValue(ctx, storeWaitKey{}, d)
}

// monotonicBase anchors monotonic.
var monotonicBase = time.Now()

// monotonic reads only the monotonic clock (time.Since of a time with a
// monotonic reading does not read the wall clock).
func monotonic() time.Duration { return time.Since(monotonicBase) }
