package engine

import (
	"net/netip"
	"time"

	"github.com/riskgate/riskgate/engine/useragent"
)

// Signal computes one family of features from the prepared input into env.
// Signals run in the order they were registered, so a later signal may read
// what an earlier one wrote. A signal must be safe for concurrent use and
// must not keep references to in or env.
type Signal interface {
	Name() string
	Compute(in *Input, env *Env) error
}

// Input is everything a signal may read: the validated attempt, what the
// enrichers found and the state the store returned. Signals must not
// modify it: the store may learn the login from State.Profile as read
// (Commit.Observed).
type Input struct {
	Attempt     *Attempt
	Tenant      string
	Username    string // normalised
	Addr        netip.Addr
	Subnet      netip.Prefix
	SubnetText  string // Subnet in text form ("81.2.69.0/24"), formatted once for every signal
	Time        time.Time
	Password    [20]byte // SHA-1 of the password; valid when HasPassword
	HasPassword bool
	Device      Key // keyed device id; zero when absent
	Agent       useragent.Info
	Enrichment  Enrichment
	State       *State
	// StateAvailable is false when the store failed: State is then empty
	// and signals must not read novelty into its emptiness.
	StateAvailable bool

	// PasswordFacts, set only when scoring an attempt from a capture
	// (ScoreCaptured), stands in for the hash: HasPassword is true,
	// Password is zero, and a signal that reads the password takes its
	// breach status from here.
	PasswordFacts *PasswordFacts
}

// Learner is a signal that keeps population statistics of its own (the
// statistical RBA score): the engine tells it about every completed login
// it teaches the baseline, after the store accepted it.
type Learner interface {
	Learned(l *Login)
}

// Ruleset turns features into a verdict. Implementations (package rules)
// must be safe for concurrent use and should not allocate per call beyond
// the reasons they return.
type Ruleset interface {
	Version() string
	Evaluate(env *Env, v *Verdict)
}

// Rules hands out the ruleset in force; it changes when rules are reloaded.
type Rules interface {
	Current() Ruleset
}

// TenantRules is Rules that can hand a tenant a ruleset of its own (the
// shared rules with the tenant's overlay on them). When Options.Rules
// implements it, each attempt is decided by ForTenant(its tenant).
type TenantRules interface {
	Rules
	ForTenant(tenant string) Ruleset
}

// Observer is told about every decision, outcome and failure: metrics,
// decision logs and alert producers implement it. Calls are synchronous on
// the scoring path, so implementations must be quick and must not block.
// The attempt and decision are the engine's until the call returns: an
// observer copies what it keeps, it never keeps the pointers.
type Observer interface {
	Decided(a *Attempt, d *Decision, took time.Duration)
	Reported(o *Outcome, p *Pending)
	StoreCall(op string, took time.Duration, err error)
	Failed(stage, name string, err error)
}

// ForgetObserver is an Observer that holds something of a user between
// calls (the alert sinks' notifications held for a login's outcome):
// Forget tells it once the store erased the user, so that it drops what
// it holds of them too.
type ForgetObserver interface {
	Observer
	Forgotten(tenant, userID string)
}
