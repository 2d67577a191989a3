// Package service is riskgate's operations: score, report, profile,
// forget, the rules operations (get, put, validate, test, promote), a
// tenant's rules operations (get, put, validate, promote its overlay) and
// the backtest of the capture the node records. It is the one layer between the transports and the engine: gRPC (api/grpcapi),
// HTTP/JSON (api/httpapi) and the Kafka stream call it, so a use case is
// written once whatever the wire. Each operation declares here, once, the
// authorisation level it needs (Op.Level); transports authenticate the
// caller against it before they call.
package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// Engine is what the service needs of *engine.Engine.
type Engine interface {
	Score(ctx context.Context, a engine.Attempt) (engine.Decision, error)
	DryRun(ctx context.Context, a engine.Attempt, rs engine.Ruleset) (engine.Decision, error)
	Report(ctx context.Context, o engine.Outcome) error
	Forget(ctx context.Context, tenant, user string) error
	Profile(ctx context.Context, tenant, user string) (engine.Profile, bool, error)
}

// ErrNoProfile is Profile's answer for a user nothing is held on.
var ErrNoProfile = errors.New("nothing is held on this user")

// Service performs the operations. It is safe for concurrent use.
type Service struct {
	engine  Engine
	direct  *engine.Engine // engine, when it is one: ScoreInto calls it directly
	rules   *rules.Manager
	capture Capture // nil: the node records no capture
}

// Option adds to what a Service is built from.
type Option func(*Service)

// WithCapture gives the service the capture the node records: Forget
// erases the user's lines from it too, and Backtest replays it.
func WithCapture(c Capture) Option { return func(s *Service) { s.capture = c } }

// New returns the service of an engine and the manager of its rules.
func New(e Engine, r *rules.Manager, opts ...Option) *Service {
	s := &Service{engine: e, rules: r}
	s.direct, _ = e.(*engine.Engine)
	for _, o := range opts {
		o(s)
	}
	return s
}

// Score decides on an attempt (OpScore). A bad attempt is an
// *engine.FieldError naming the attempt's field.
func (s *Service) Score(ctx context.Context, a engine.Attempt) (engine.Decision, error) {
	return s.engine.Score(ctx, a)
}

// ScoreInto is Score deciding into *d (engine.Engine.ScoreInto), for the
// servers, which encode the Decision from where it was decided. The call
// is direct, not through the Engine interface: a pointer passed through
// an interface's method escapes, and d would be allocated on every call.
func (s *Service) ScoreInto(ctx context.Context, a *engine.Attempt, d *engine.Decision) error {
	if s.direct != nil {
		return s.direct.ScoreInto(ctx, a, d)
	}
	var err error
	*d, err = s.engine.Score(ctx, *a)
	return err
}

// Report takes the outcome of a decision (OpReport).
func (s *Service) Report(ctx context.Context, o engine.Outcome) error {
	return s.engine.Report(ctx, o)
}

// Profile returns what is held on a user (OpProfile), or ErrNoProfile.
func (s *Service) Profile(ctx context.Context, tenant, user string) (engine.Profile, error) {
	p, ok, err := s.engine.Profile(ctx, tenant, user)
	if err == nil && !ok {
		err = ErrNoProfile
	}
	return p, err
}

// Forget erases a user (OpForget): their state, and their lines in the
// capture when the node records one.
func (s *Service) Forget(ctx context.Context, tenant, user string) error {
	if err := s.engine.Forget(ctx, tenant, user); err != nil {
		return err
	}
	if s.capture != nil {
		if _, err := s.capture.Forget(ctx, tenant, user); err != nil {
			return fmt.Errorf("the user's state is erased, their capture lines not: %w", err)
		}
	}
	return nil
}

// Rules returns the ruleset in force and where it came from (OpRulesGet).
func (s *Service) Rules() *rules.Snapshot { return s.rules.Snapshot() }

// RuleFilesRejected reports whether the last reload of the rule files was
// rejected, the rules in force staying (rules.Manager.FilesRejected).
func (s *Service) RuleFilesRejected() bool { return s.rules.FilesRejected() }

// PutRules replaces the ruleset in force (OpRulesPut) when ifVersion is
// empty or the version in force; see rules.Manager.Put.
func (s *Service) PutRules(ifVersion string, files []rules.Source) (*rules.Snapshot, error) {
	return s.rules.Put(ifVersion, files)
}

// Validation is a candidate ruleset compiled: its Set when it compiles,
// else its Problems.
type Validation struct {
	Set      *rules.Set
	Problems []rules.Problem
}

// Valid reports whether the candidate compiled.
func (v Validation) Valid() bool { return v.Set != nil }

// ValidateRules compiles a candidate ruleset (OpRulesValidate). A ruleset
// that does not compile is a Validation with problems, not an error; an
// error is a bad request (a bad file name, too many files).
func (s *Service) ValidateRules(files []rules.Source) (Validation, error) {
	set, err := s.rules.Validate(files)
	var rej *rules.RejectedError
	if errors.As(err, &rej) {
		return Validation{Problems: rej.Problems}, nil
	}
	return Validation{Set: set}, err
}

// TestResult is one attempt decided by a candidate ruleset and by the one
// in force, on the same live state, with the rules of each that failed at
// run time on it (a failing when counts as not matched; a failing reason
// gives the rule's description): a dry run counts them nowhere else.
type TestResult struct {
	Candidate         engine.Decision
	Current           engine.Decision
	CandidateFailures []engine.RuleError
	CurrentFailures   []engine.RuleError
}

// TestRules decides on an attempt with a candidate ruleset (files; none:
// the ruleset in force) and with the ruleset in force, changing nothing
// (OpRulesTest). Errors about the attempt name its field under "attempt.";
// a candidate that does not compile is a *rules.RejectedError.
//
// A tenant's attempt is decided as live: by its overlay on the shared set,
// the candidate being a shared ruleset under the same overlay.
func (s *Service) TestRules(ctx context.Context, a engine.Attempt, files []rules.Source) (TestResult, error) {
	tenant := a.Tenant
	if tenant == "" {
		tenant = engine.DefaultTenant
	}
	cur := s.rules.ForTenant(tenant)
	cand := cur
	if len(files) > 0 {
		set, err := s.rules.Validate(files)
		if err != nil {
			return TestResult{}, err
		}
		var overlay *rules.Overlay
		if t := s.rules.Tenant(tenant); t != nil {
			overlay = t.Overlay
		}
		cand = rules.Compose(set, overlay)
	}
	var r TestResult
	var err error
	if r.Candidate, err = s.engine.DryRun(ctx, a, cand); err != nil {
		return TestResult{}, engine.WithinField(err, "attempt.")
	}
	if r.Current, err = s.engine.DryRun(ctx, a, cur); err != nil {
		return TestResult{}, engine.WithinField(err, "attempt.")
	}
	r.CandidateFailures, r.CurrentFailures = ruleFailures(cand, &r.Candidate), ruleFailures(cur, &r.Current)
	return r, nil
}

// ruleFailures runs rs again on the signals d was decided on and returns
// the rules that failed: the dry run only logs them, and the analyst who
// tests a rule saw a rule that failed as one that did not match.
func ruleFailures(rs engine.Ruleset, d *engine.Decision) []engine.RuleError {
	var v engine.Verdict
	rs.Evaluate(&d.Signals, &v)
	return v.Errors
}

// PromoteRule flips a shadow rule of the shared ruleset to enforce
// (OpRulesPromote), by the same path as PutRules: see
// rules.Manager.Promote.
func (s *Service) PromoteRule(ifVersion, ruleID string) (*rules.Snapshot, error) {
	if ruleID == "" {
		return nil, errRuleIDRequired
	}
	return s.rules.Promote(ifVersion, ruleID)
}

// errRuleIDRequired refuses a promotion naming no rule, on every
// transport: gRPC's Promote without rule_id answered NOT_FOUND (no such
// rule: ""), where HTTP answered 400 naming rule_id.
var errRuleIDRequired = &engine.FieldError{Field: "rule_id", Msg: "required"}

// TenantRules is a tenant's rules: its overlay, if it has one, and the
// ruleset its logins are decided by.
type TenantRules struct {
	Tenant string
	// Overlay is nil for a tenant without one: its logins are decided by
	// the shared set.
	Overlay *rules.TenantSnapshot
	// Set decides the tenant's logins.
	Set *rules.Set
	// Failure, when set, is the tenant's overlay files the last reload
	// rejected: Overlay is then its last good overlay (nil if it never
	// had one) until they load.
	Failure *rules.TenantFailure
}

// TenantRules returns a tenant's overlay and the ruleset its logins are
// decided by (OpTenantRulesGet).
func (s *Service) TenantRules(tenant string) (TenantRules, error) {
	if err := checkTenant(tenant); err != nil {
		return TenantRules{}, err
	}
	snap := s.rules.Snapshot() // one load: the overlay and its failure agree
	f := snap.TenantFailures[tenant]
	t := snap.Tenants[tenant]
	if t == nil {
		return TenantRules{Tenant: tenant, Set: snap.Set, Failure: f}, nil
	}
	return TenantRules{Tenant: tenant, Overlay: t, Set: t.Set, Failure: f}, nil
}

// checkTenant refuses a tenant no overlay can belong to, naming the
// tenant: the rules' own check of it is an invalid request, which the
// API reported under the field "files".
func checkTenant(tenant string) error {
	if !rules.ValidTenant(tenant) {
		return &engine.FieldError{Field: "tenant", Msg: "want 1-64 letters, digits, '-', '_' or '.', not starting with '.'"}
	}
	return nil
}

// PutTenantRules replaces a tenant's overlay (OpTenantRulesPut) when
// ifVersion is empty or its overlay's version in force; see
// rules.Manager.PutTenant.
func (s *Service) PutTenantRules(tenant, ifVersion string, files []rules.Source) (TenantRules, error) {
	if err := checkTenant(tenant); err != nil {
		return TenantRules{}, err
	}
	t, err := s.rules.PutTenant(tenant, ifVersion, files)
	if err != nil {
		return TenantRules{}, err
	}
	return TenantRules{Tenant: tenant, Overlay: t, Set: t.Set}, nil
}

// ValidateTenantRules compiles a candidate overlay for a tenant and layers
// it on the shared set in force (OpTenantRulesValidate). Like
// ValidateRules, an overlay that does not compile is a Validation with
// problems; Set is then the composed ruleset.
func (s *Service) ValidateTenantRules(tenant string, files []rules.Source) (Validation, error) {
	if err := checkTenant(tenant); err != nil {
		return Validation{}, err
	}
	t, err := s.rules.ValidateTenant(tenant, files)
	var rej *rules.RejectedError
	if errors.As(err, &rej) {
		return Validation{Problems: rej.Problems}, nil
	}
	if err != nil {
		return Validation{}, err
	}
	return Validation{Set: t.Set}, nil
}

// PromoteTenantRule flips a shadow rule of a tenant's overlay to enforce
// (OpTenantRulesPromote).
func (s *Service) PromoteTenantRule(tenant, ifVersion, ruleID string) (TenantRules, error) {
	if err := checkTenant(tenant); err != nil {
		return TenantRules{}, err
	}
	if ruleID == "" {
		return TenantRules{}, errRuleIDRequired
	}
	t, err := s.rules.PromoteTenant(tenant, ifVersion, ruleID)
	if err != nil {
		return TenantRules{}, err
	}
	return TenantRules{Tenant: tenant, Overlay: t, Set: t.Set}, nil
}
