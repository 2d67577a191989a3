package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Error is a call that riskgate did not answer as asked.
type Error struct {
	// Op is "score" or "report".
	Op    string
	Cause Cause
	// Code is the gRPC code riskgate answered with, as the gRPC
	// specification spells it ("INVALID_ARGUMENT", "CANCELLED"), on either
	// transport; over HTTP, "HTTP 502" for an answer that is not
	// riskgate's (a proxy's); empty when nothing was received.
	Code string
	// Field names the offending field of a refused request, when riskgate
	// said which.
	Field string
	Msg   string
	// Err is the underlying error, when there is one.
	Err error
	// retry: the try certainly or very probably did not reach riskgate's
	// engine, so sending it again is safe for an idempotent call.
	retry bool
	// notSent: the try certainly did not reach riskgate (the connection
	// could not be made, or riskgate answered that it did nothing), so a
	// retry's "unknown decision" cannot be the first try's doing.
	notSent bool
}

func (e *Error) Error() string {
	s := "client: " + e.Op + ": " + string(e.Cause)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// errNotCounted marks an outcome the breaker ignores: the caller went away,
// which says nothing about riskgate.
var errNotCounted = errors.New("not counted")

// CallerTimeoutFloor is the least time a caller's deadline must leave a call
// for its passing to be riskgate's fault. riskgate decides in microseconds:
// a call left unanswered for this long by a caller's deadline shorter than
// Options.Timeout is a timeout (counted by the circuit breaker, logged, a
// failover with CauseTimeout), not CauseCanceled, or callers with short
// deadlines would hide an outage from the breaker, the logs and the
// failover metrics. A caller deadline shorter than this that passes, and a
// context cancelled, are CauseCanceled.
const CallerTimeoutFloor = 10 * time.Millisecond

// do runs f under the call's deadline, the breaker and the retry policy.
// idempotent says a try that may have reached riskgate can be sent again.
func (c *Client) do(ctx context.Context, op string, idempotent bool, f func(context.Context) error) (tries int, _ *Error) {
	if err := ctx.Err(); err != nil {
		// Nothing to send for a caller already gone: no request, and no
		// breaker probe spent on it.
		return 0, &Error{Op: op, Cause: CauseCanceled, Msg: err.Error(), Err: err, notSent: true}
	}
	// When the caller's deadline comes before ours, a timeout is the
	// caller's (riskgate may see it first: gRPC passes the deadline on),
	// unless the caller left riskgate CallerTimeoutFloor to answer.
	callerBound, callerFair := false, false
	if dl, ok := ctx.Deadline(); ok && dl.Before(time.Now().Add(c.opts.Timeout)) {
		callerBound, callerFair = true, time.Until(dl) >= CallerTimeoutFloor
	}
	// The breaker counts calls, not tries: with retries on, a few failed
	// calls would otherwise open it, as if riskgate had failed Failures
	// logins.
	done, err := c.allow()
	if err != nil {
		return 0, &Error{Op: op, Cause: CauseCircuitOpen, Msg: "riskgate failed repeatedly; calls fail over until a probe succeeds", Err: err}
	}
	cctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	tries, e := c.send(ctx, cctx, op, idempotent, callerBound, f)
	if e != nil && e.Cause == CauseCanceled && callerFair && !errors.Is(ctx.Err(), context.Canceled) &&
		(errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(e.Err, context.DeadlineExceeded)) {
		e = &Error{Op: op, Cause: CauseTimeout, Msg: "no answer within the caller's deadline", Err: context.DeadlineExceeded}
	}
	switch {
	case e == nil, e.Cause == CauseRejected:
		done(nil) // riskgate answered: it is up
	case e.Cause == CauseCanceled:
		done(errNotCounted)
	default:
		done(e)
	}
	return tries, e
}

// send sends f until it succeeds, fails for good, or may not be sent
// again: a retry only for an idempotent call whose try did not reach
// riskgate, within the call's deadline, and while the circuit is not open
// (other calls' failures may have opened it meanwhile).
func (c *Client) send(ctx, cctx context.Context, op string, idempotent, callerBound bool, f func(context.Context) error) (tries int, _ *Error) {
	for {
		if tries > 0 {
			c.stats.retries.Add(1)
		}
		tries++
		e := classify(ctx, op, f(cctx))
		if e != nil && e.Cause == CauseTimeout && callerBound {
			e = &Error{Op: op, Cause: CauseCanceled, Msg: "the caller's deadline passed", Err: context.DeadlineExceeded}
		}
		if e == nil || !e.retry || !idempotent || tries >= c.opts.MaxTries || cctx.Err() != nil || c.Breaker() == BreakerOpen {
			return tries, e
		}
		// A short, jittered pause: long enough for a connection to be
		// re-dialled or another replica picked, short enough to fit in
		// the call's deadline.
		pause := time.Duration(1+rand.IntN(4)) * time.Millisecond
		select {
		case <-cctx.Done():
			return tries, classify(ctx, op, cctx.Err())
		case <-time.After(pause):
		}
	}
}

// allow asks the breaker, when there is one.
func (c *Client) allow() (func(error), error) {
	if c.breaker == nil {
		return func(error) {}, nil
	}
	return c.breaker.Allow()
}

// classify turns a transport's error into an *Error, telling apart the
// caller's own context ending from riskgate being slow.
func classify(parent context.Context, op string, err error) *Error {
	if err == nil {
		return nil
	}
	if parent.Err() != nil {
		// The caller's context ended first: whatever the transport saw,
		// riskgate is not to blame.
		return &Error{Op: op, Cause: CauseCanceled, Msg: parent.Err().Error(), Err: parent.Err()}
	}
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, context.DeadlineExceeded):
		e = &Error{Cause: CauseTimeout, Msg: "no answer within the call's timeout", Err: err}
	default:
		e = &Error{Cause: CauseServerError, Msg: err.Error(), Err: err}
	}
	e.Op = op
	return e
}

// BreakerState is the circuit breaker's state.
type BreakerState int

// Breaker states.
const (
	// BreakerClosed: calls go to riskgate.
	BreakerClosed BreakerState = iota
	// BreakerHalfOpen: one probe call goes to riskgate; the others fail over.
	BreakerHalfOpen
	// BreakerOpen: every call fails over without touching the network.
	BreakerOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half_open"
	case BreakerOpen:
		return "open"
	}
	return fmt.Sprintf("breaker(%d)", int(s))
}

func breakerState(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
}

// Breaker returns the breaker's state (BreakerClosed when it is disabled).
func (c *Client) Breaker() BreakerState {
	if c.breaker == nil {
		return BreakerClosed
	}
	return breakerState(c.breaker.State())
}

func (c *Client) breakerChanged(from, to BreakerState) {
	c.stats.breaker.Store(int32(to))
	switch to {
	case BreakerOpen:
		c.stats.breakerOpened.Add(1)
		c.log.Warn("riskgate unreachable or failing: circuit open, logins get the failover action",
			"failover", c.opts.Failover.String(), "open_for", c.opts.Breaker.OpenFor.String(), "from", from.String())
	case BreakerHalfOpen:
		c.t.wake()
	case BreakerClosed:
		c.log.Info("riskgate answers again: circuit closed")
	}
	if o := c.opts.Observer; o != nil {
		o.BreakerChanged(from, to)
	}
}

// warnFailover logs a failover at most every few seconds: during an outage
// every login fails over, and one line says as much as a thousand.
func (c *Client) warnFailover(op string, e *Error) {
	if e.Cause == CauseCanceled || !c.warn.allow(time.Now()) {
		return
	}
	c.log.Warn("riskgate did not answer: failover", "op", op, "cause", string(e.Cause), "failover", c.opts.Failover.String(), "err", e.Error())
}
