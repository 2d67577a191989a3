package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// Outcome is what happened after a decision.
type Outcome int

// Outcomes.
const (
	OutcomeNone Outcome = iota
	// LoginSucceeded: the user is in (after an allow).
	LoginSucceeded
	// LoginFailed: the login failed after the decision (the password check
	// that followed an allow scored with ResultUnknown).
	LoginFailed
	// StepUpPassed: the user answered the second factor.
	StepUpPassed
	// StepUpFailed: the user did not, or gave up.
	StepUpFailed
	// ConfirmedFraud and ConfirmedLegit are an analyst's labels, kept for
	// evaluation; they never change a baseline.
	ConfirmedFraud
	ConfirmedLegit
)

var outcomeNames = [...]string{"none", "login_succeeded", "login_failed", "step_up_passed", "step_up_failed", "confirmed_fraud", "confirmed_legit"}

func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("outcome(%d)", int(o))
	}
	return outcomeNames[o]
}

// ErrNotSendable is Report's answer for the outcome of a failover decision
// whose attempt the client refused before sending it (a missing or
// malformed IP, a result AfterPassword does not take): riskgate would
// refuse it too, so the outcome is not sent and the failure does not count
// in its attack windows. Fix the attempt: it is a bug of the caller's.
var ErrNotSendable = errors.New("client: the decision was a failover for an attempt the client refused (see Score's error): its outcome cannot be sent, and riskgate counts nothing of it")

// ErrNoDecision is returned when an outcome names no decision riskgate made
// (an analyst label for a failover decision).
var ErrNoDecision = errors.New("client: the decision was a failover: riskgate holds no decision to label")

// AwaitsOutcome reports whether riskgate waits for this decision's outcome
// to learn from it: an allow scored before the password check at a single
// point (Score with ResultUnknown), any step-up of a login whose password
// was not known to be wrong, and any failover (riskgate never saw the
// attempt, not even a failed password: the report sends it). Other
// decisions were settled when they were made (an allowed login with the
// right password is learned at once; a failed password or a deny was
// counted), and the outcome helpers send nothing for them.
// BeforePassword's decision awaits nothing, failover or not: the login
// reports the outcome of AfterPassword's.
func (d *Decision) AwaitsOutcome() bool {
	switch {
	case d.before:
		return false
	case d.Failover:
		return true // riskgate never saw it: the outcome is all it will know
	case d.Action == StepUp:
		return !d.result.failed()
	case d.Action == Allow:
		return d.result == ResultUnknown
	}
	return false
}

// LoginSucceeded reports that the user is in after d allowed the login.
// After a step-up, report StepUpPassed instead.
func (c *Client) LoginSucceeded(ctx context.Context, d Decision) error {
	return c.Report(ctx, d, LoginSucceeded)
}

// LoginFailed reports that the login failed after d: the password check
// that followed an allow scored with ResultUnknown (after BeforePassword,
// score AfterPassword with PasswordBad instead), or a failed password whose
// AfterPassword decision failed over, which riskgate counts only once this
// sends it (ErrNotSendable when the client refused that attempt itself).
func (c *Client) LoginFailed(ctx context.Context, d Decision) error {
	return c.Report(ctx, d, LoginFailed)
}

// StepUpPassed reports that the user answered the second factor d asked for.
func (c *Client) StepUpPassed(ctx context.Context, d Decision) error {
	return c.Report(ctx, d, StepUpPassed)
}

// StepUpFailed reports that the user did not answer it.
func (c *Client) StepUpFailed(ctx context.Context, d Decision) error {
	return c.Report(ctx, d, StepUpFailed)
}

// Report tells riskgate what happened after d. It sends nothing when
// riskgate awaits nothing (see Decision.AwaitsOutcome), refuses an outcome
// of BeforePassword's decision (report AfterPassword's), and for a failover
// decision it sends the attempt itself, which riskgate never saw, so
// failures still count in the attack windows; except that a login let in by
// a failover Allow is never reported as succeeded: riskgate did not judge
// it, and must not learn a user's baseline from it; and except for a
// failover of an attempt the client refused before sending it (a bad IP),
// for which Report returns ErrNotSendable and sends nothing.
//
// A report that did not reach riskgate (the connection refused, the
// replica gone) is sent again within the call's deadline. Either way a
// second delivery is harmless: by decision id, riskgate accepts an outcome
// once, and a retry's "unknown decision" then means the first try landed,
// when that try may have reached riskgate (it was sent before the
// connection broke; not when the connection could not be made: the error
// is then returned);
// with the attempt, riskgate applies an outcome once per attempt_id, which
// a failover decision always carries.
func (c *Client) Report(ctx context.Context, d Decision, o Outcome) error {
	if o <= OutcomeNone || o > ConfirmedLegit {
		return &FieldError{Field: "outcome", Msg: fmt.Sprintf("%v: not an outcome", o)}
	}
	label := o == ConfirmedFraud || o == ConfirmedLegit
	switch {
	case label && d.Failover:
		return ErrNoDecision
	case label:
		return c.ReportByID(ctx, d.Tenant, d.DecisionID, o)
	case !d.Failover && d.Action == StepUp && o == LoginSucceeded:
		return &FieldError{Field: "outcome", Msg: "the decision was step_up: report StepUpPassed or StepUpFailed"}
	case d.before:
		return &FieldError{Field: "outcome", Msg: "the decision was BeforePassword's: report the outcome of AfterPassword's decision"}
	case !d.AwaitsOutcome():
		return nil
	case d.Failover && o == LoginSucceeded:
		return nil
	case d.Failover && d.attempt == nil:
		return ErrNotSendable
	case d.Failover:
		return c.report(ctx, &pb.ReportRequest{Attempt: d.attempt, Outcome: pb.Outcome(o)})
	}
	return c.ReportByID(ctx, d.Tenant, d.DecisionID, o)
}

// ReportByID sends an outcome for a decision known by its id, such as an
// analyst's ConfirmedFraud label for a decision found in the logs.
func (c *Client) ReportByID(ctx context.Context, tenant, decisionID string, o Outcome) error {
	if decisionID == "" {
		return &FieldError{Field: "decision_id", Msg: "required"}
	}
	if o <= OutcomeNone || o > ConfirmedLegit {
		return &FieldError{Field: "outcome", Msg: fmt.Sprintf("%v: not an outcome", o)}
	}
	if tenant == "" {
		tenant = c.opts.Tenant
	}
	return c.report(ctx, &pb.ReportRequest{Tenant: tenant, DecisionId: decisionID, Outcome: pb.Outcome(o)})
}

func (c *Client) report(ctx context.Context, req *pb.ReportRequest) error {
	start := time.Now()
	mayHaveLanded := false // an earlier try may have reached riskgate
	tries, err := c.do(ctx, "report", true, func(ctx context.Context) error {
		err := c.t.report(ctx, req)
		var e *Error
		if errors.As(err, &e) {
			if mayHaveLanded && e.Code == codeNotFound {
				return nil // an earlier try landed; riskgate accepts one outcome
			}
			// A try that certainly never reached riskgate (the
			// connection not made) cannot explain a retry's NOT_FOUND:
			// that one is the caller's (an unknown or expired decision).
			mayHaveLanded = mayHaveLanded || !e.notSent
		}
		return err
	})
	c.reported(start, tries, err)
	if err != nil {
		c.warnFailover("report", err)
		return err
	}
	return nil
}
