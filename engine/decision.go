package engine

import (
	"fmt"
	"strings"
	"time"
)

// Action is what the identity server should do with the attempt. The zero
// value, ActionNone, is only used by rules that add score without deciding.
type Action uint8

// Actions, ordered by strength: when several apply, the strongest wins.
const (
	ActionNone Action = iota
	ActionAllow
	ActionStepUp
	ActionDeny
)

var actionNames = [...]string{"none", "allow", "step_up", "deny"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", a)
}

// ParseAction parses an action's wire name.
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if s == n {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("unknown action %q (want allow, step_up, deny or none)", s)
}

func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

func (a *Action) UnmarshalText(b []byte) error {
	v, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Stronger returns the stronger of a and b (deny > step_up > allow > none).
func (a Action) Stronger(b Action) Action {
	if b > a {
		return b
	}
	return a
}

// Reason explains one rule that matched.
type Reason struct {
	RuleID  string   `json:"rule"`
	Action  Action   `json:"action"`
	Score   int      `json:"score"`
	Message string   `json:"message"`
	Tags    []string `json:"tags,omitempty"`
	Alert   bool     `json:"alert,omitempty"`
	// Notify is the rule's notification kind ("new_device"), when it has
	// one.
	Notify string `json:"notify,omitempty"`
}

// Decision is the engine's answer for one attempt.
type Decision struct {
	DecisionID string    `json:"decision_id"`
	AttemptID  string    `json:"attempt_id"`
	Tenant     string    `json:"tenant"`
	Time       time.Time `json:"time"`
	Action     Action    `json:"action"`
	Score      int       `json:"score"`
	Reasons    []Reason  `json:"reasons"`
	Shadow     []Reason  `json:"shadow,omitempty"`
	Alert      bool      `json:"alert,omitempty"`
	// Notify are the notification kinds ("new_device", "new_country") of
	// the enforced rules that matched, each once, in rule order: the user
	// should be told of this login once it completes. It is empty on a deny
	// and on an attempt that failed (see NotifyKinds).
	Notify       []string `json:"notify,omitempty"`
	Signals      Env      `json:"signals,omitzero"`
	RulesVersion string   `json:"rules_version"`
}

// Verdict is what a ruleset concludes from the signals. The engine turns it
// into a Decision.
type Verdict struct {
	Action  Action
	Score   int
	Reasons []Reason
	Shadow  []Reason
	Alert   bool
	// Notify are the notification kinds of the enforced rules that
	// matched, each once, in rule order.
	Notify []string
	// Errors are rules that failed at run time. A failed rule counts as not
	// matched; the engine reports each error to its observers.
	Errors []RuleError
}

// NotifyKinds is what a decision's Notify holds: the verdict's kinds,
// unless the login cannot complete with this decision (it is a deny, or
// the attempt already failed: a wrong password or no such user). A
// notification tells a user of a login into their account; a refused or
// failed one is an attack's business, for alerts, not for the user's inbox.
func NotifyKinds(kinds []string, action Action, r Result) []string {
	if action == ActionDeny || r.Failed() {
		return nil
	}
	return kinds
}

// RuleError is a rule that could not be evaluated.
type RuleError struct {
	RuleID string
	Err    error
}

// OverlayRuleError is the error Observer.Failed is given for a rule that
// failed in a ruleset composed with a tenant's overlay: the rule ids there
// are written by the tenant's admin, so metrics bound their series apart
// from the shared rules' (whose failures must keep their own). Its text is
// the rule's error.
type OverlayRuleError struct{ Err error }

func (e *OverlayRuleError) Error() string { return e.Err.Error() }
func (e *OverlayRuleError) Unwrap() error { return e.Err }

// IsOverlayVersion reports whether v is the version of a ruleset composed
// with a tenant's overlay ("<shared> + tenant:acme@..."): rule ids there
// are written by the tenant's admin. No version label can hold the mark
// (rules.validLabel).
func IsOverlayVersion(v string) bool { return strings.Contains(v, " + tenant:") }

// Reset empties v. The slices are not reused: the decision owns them.
func (v *Verdict) Reset() { *v = Verdict{} }

// OutcomeKind is what happened after a decision.
type OutcomeKind uint8

// Outcomes. The last two are analyst labels: they are kept for evaluation
// and never change a baseline.
const (
	OutcomeUnknown OutcomeKind = iota
	LoginSucceeded
	LoginFailed
	StepUpPassed
	StepUpFailed
	ConfirmedFraud
	ConfirmedLegit
)

var outcomeNames = [...]string{"", "login_succeeded", "login_failed", "step_up_passed", "step_up_failed", "confirmed_fraud", "confirmed_legit"}

func (o OutcomeKind) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", o)
}

// ParseOutcomeKind parses an outcome's wire name.
func ParseOutcomeKind(s string) (OutcomeKind, error) {
	for i, n := range outcomeNames[1:] {
		if s == n {
			return OutcomeKind(i + 1), nil
		}
	}
	return 0, fmt.Errorf("unknown outcome %q (want login_succeeded, login_failed, step_up_passed, step_up_failed, confirmed_fraud or confirmed_legit)", s)
}

func (o OutcomeKind) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

func (o *OutcomeKind) UnmarshalText(b []byte) error {
	v, err := ParseOutcomeKind(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// Outcome reports what happened to an attempt. It names the attempt either
// by DecisionID (the usual case) or by carrying the Attempt itself, for
// identity servers that did not keep the decision. Time, when given, is
// when the outcome happened; it is informational: a reported failure counts
// in the windows at its attempt's time, so that a late report lands in the
// window the attempt belongs to. An outcome reported with the attempt
// itself is trusted as it is (there is no decision to check it against).
type Outcome struct {
	Tenant     string      `json:"tenant,omitempty"`
	DecisionID string      `json:"decision_id,omitempty"`
	Attempt    *Attempt    `json:"attempt,omitempty"`
	Outcome    OutcomeKind `json:"outcome"`
	Time       time.Time   `json:"time,omitzero"`
}
