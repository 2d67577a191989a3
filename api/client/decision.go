package client

import (
	"fmt"
	"slices"
	"time"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// Action is riskgate's answer: let the login through, ask for a second
// factor, or refuse it. The zero value is no action, which a Decision
// never carries.
type Action int

// Actions, weakest first.
const (
	ActionNone Action = iota
	Allow
	StepUp
	Deny
)

var actionNames = [...]string{"none", "allow", "step_up", "deny"}

func (a Action) String() string {
	if a < 0 || int(a) >= len(actionNames) {
		return fmt.Sprintf("action(%d)", int(a))
	}
	return actionNames[a]
}

// MarshalText writes the action as riskgate's JSON does ("step_up").
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads "allow", "step_up", "deny" or "none".
func (a *Action) UnmarshalText(b []byte) error {
	p, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// ParseAction reads an action by its name: "allow", "step_up", "deny" or
// "none".
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if n == s {
			return Action(i), nil
		}
	}
	return ActionNone, fmt.Errorf("action %q: want allow, step_up, deny or none", s)
}

func actionFromPB(a pb.Action) Action {
	switch a {
	case pb.Action_ACTION_ALLOW:
		return Allow
	case pb.Action_ACTION_STEP_UP:
		return StepUp
	case pb.Action_ACTION_DENY:
		return Deny
	}
	return ActionNone
}

// Cause says why a Decision is a failover, or why a call failed. It is a
// label in the client's metrics.
type Cause string

// Causes.
const (
	// CauseTimeout: riskgate did not answer within Options.Timeout, or
	// within a shorter deadline of the caller's that left it at least
	// CallerTimeoutFloor.
	CauseTimeout Cause = "timeout"
	// CauseUnavailable: riskgate could not be reached (connection refused or
	// reset, no address, the server shutting down or its store down).
	CauseUnavailable Cause = "unavailable"
	// CauseOverloaded: riskgate answered that it is overloaded (gRPC
	// RESOURCE_EXHAUSTED, HTTP 429). A request too large (RESOURCE_EXHAUSTED
	// "larger than", HTTP 413) is CauseRejected instead.
	CauseOverloaded Cause = "overloaded"
	// CauseCircuitOpen: the circuit breaker is open after consecutive
	// failures; the call was not sent.
	CauseCircuitOpen Cause = "circuit_open"
	// CauseServerError: riskgate failed (internal error, an answer that
	// could not be read).
	CauseServerError Cause = "server_error"
	// CauseRejected: riskgate refused the request itself (a bad field, a
	// request too large, a missing or wrong token): a bug or a misconfiguration on the caller's
	// side, logged and counted but never counted against riskgate's health.
	CauseRejected Cause = "rejected"
	// CauseCanceled: the caller's context ended: the user went away, or
	// the caller's own deadline, shorter than Options.Timeout, passed
	// having left riskgate less than CallerTimeoutFloor to answer (more is
	// CauseTimeout). Never counted against riskgate's health.
	CauseCanceled Cause = "canceled"
)

// Causes lists every Cause, for metrics that want their series to exist
// from the start.
var Causes = []Cause{CauseTimeout, CauseUnavailable, CauseOverloaded, CauseCircuitOpen, CauseServerError, CauseRejected, CauseCanceled}

// Reason is one rule that matched.
type Reason struct {
	Rule string `json:"rule"`
	// Action is the rule's own action; ActionNone when it only adds score.
	Action  Action   `json:"action"`
	Score   int      `json:"score"`
	Message string   `json:"message"`
	Tags    []string `json:"tags,omitempty"`
	Alert   bool     `json:"alert,omitempty"`
	// Notify is the rule's notification kind ("new_device"), if any.
	Notify string `json:"notify,omitempty"`
}

// Decision is riskgate's answer for one attempt, or, when Failover is true,
// the action the integrator chose for when riskgate cannot answer.
type Decision struct {
	// DecisionID names the decision in outcome reports; empty on a failover.
	DecisionID string `json:"decision_id,omitempty"`
	// AttemptID is the idempotency key the attempt was sent with.
	AttemptID string    `json:"attempt_id"`
	Tenant    string    `json:"tenant,omitempty"`
	Time      time.Time `json:"time"`
	Action    Action    `json:"action"`
	// Score is the summed score of the enforced rules that matched, 0-100.
	Score   int      `json:"score"`
	Reasons []Reason `json:"reasons,omitempty"`
	// Shadow are rules in shadow mode that matched: recorded, not enforced.
	Shadow []Reason `json:"shadow,omitempty"`
	Alert  bool     `json:"alert,omitempty"`
	// RulesVersion is the ruleset that decided.
	RulesVersion string `json:"rules_version,omitempty"`
	// Notify are the notification kinds the rules gave ("new_device",
	// "new_country"): once this login completes (allowed with the right
	// password, or step-up passed), tell the account's owner of it. Empty
	// on a deny, on a failed attempt and on a failover.
	Notify []string `json:"notify,omitempty"`
	// Signals are the feature values the rules saw, when Options.Signals
	// asked for them; nil otherwise and on a failover.
	Signals *pb.Signals `json:"-"`

	// Failover is true when riskgate did not decide: Action is then
	// Options.Failover and Cause says why.
	Failover bool  `json:"failover,omitempty"`
	Cause    Cause `json:"cause,omitempty"`

	// What reporting the outcome needs: the attempt, for a failover
	// decision (which riskgate never saw), and what the login knew.
	attempt *pb.Attempt
	result  Result
	before  bool // BeforePassword's: AfterPassword's decision is reported on
}

// Matched reports whether the enforced rule with this id matched. Shadow
// rules are not consulted: they change nothing by design.
func (d *Decision) Matched(rule string) bool {
	return slices.ContainsFunc(d.Reasons, func(r Reason) bool { return r.Rule == rule })
}

// Tagged reports whether an enforced rule carrying this tag matched
// ("account_takeover", "credential_stuffing", ...).
func (d *Decision) Tagged(tag string) bool {
	return slices.ContainsFunc(d.Reasons, func(r Reason) bool { return slices.Contains(r.Tags, tag) })
}

func decisionFromPB(p *pb.Decision) Decision {
	d := Decision{
		DecisionID: p.GetDecisionId(), AttemptID: p.GetAttemptId(), Tenant: p.GetTenant(),
		Action: actionFromPB(p.GetAction()), Score: int(p.GetScore()), Alert: p.GetAlert(),
		RulesVersion: p.GetRulesVersion(), Signals: p.GetSignals(), Notify: p.GetNotify(),
		Reasons: reasonsFromPB(p.GetReasons()), Shadow: reasonsFromPB(p.GetShadow()),
	}
	if t := p.GetTime(); t != nil {
		d.Time = t.AsTime()
	}
	return d
}

func reasonsFromPB(rs []*pb.Reason) []Reason {
	if len(rs) == 0 {
		return nil
	}
	out := make([]Reason, len(rs))
	for i, r := range rs {
		out[i] = Reason{
			Rule: r.GetRule(), Action: actionFromPB(r.GetAction()), Score: int(r.GetScore()),
			Message: r.GetMessage(), Tags: r.GetTags(), Alert: r.GetAlert(), Notify: r.GetNotify(),
		}
	}
	return out
}
