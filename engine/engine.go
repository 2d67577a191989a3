package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/riskgate/riskgate/engine/useragent"
)

// Options configure an Engine. Store, Rules and Keyer are required.
type Options struct {
	Store     Store
	Rules     Rules
	Keyer     *Keyer
	Signals   []Signal
	Enrichers []Enricher
	Observers []Observer
	// StoreTimeout bounds every store call; 0 means no deadline beyond the
	// caller's context, which suits in-process stores. A caller no one
	// waits on may allow longer (WithStoreWait).
	StoreTimeout time.Duration
	// MaxClockSkew rejects attempts dated further in the future; 0 disables
	// the check (replay and simulation run at any date).
	MaxClockSkew time.Duration
	// Now is the clock for attempts without a time; default time.Now.
	Now func() time.Time
	// NewID makes decision ids; default a random ULID. The engine signs
	// every ULID it is given (see decisionid.go): an id that is not a ULID
	// is used as it is, and an outcome or label that names it is unknown.
	NewID func(t time.Time) string
	// Retries of an attempt that carries its own attempt_id, within
	// RetryWindow (default 10 minutes), get the first decision back and are
	// not counted again. At most RetryEntries decisions are remembered
	// (default 50,000; negative disables), holding at most RetryMaxBytes
	// (default 64 MiB: a decision carries the attempt's strings, which a
	// caller may make as large as a request allows).
	RetryWindow   time.Duration
	RetryEntries  int
	RetryMaxBytes int
	// UserAgents is how many user agents the classification cache holds
	// (default 4096; each at most 512 bytes, longer ones are not cached).
	UserAgents int
	Logger     *slog.Logger
}

// Engine scores attempts and learns from outcomes. It is safe for
// concurrent use.
type Engine struct {
	opts     Options
	log      *slog.Logger
	scratch  sync.Pool // *scratch
	ids      *idSource
	logLim   logLimits
	learners []Learner
	// anyAddr are the enrichers asked about addresses that are not
	// public too (AnyAddressEnricher).
	anyAddr []Enricher
	recent  *recentDecisions // nil when disabled
	// defaultClock: Options.Now is time.Now, so Score reads the clock once.
	defaultClock bool
	defaultIDs   bool // NewID is e.ids.ULID: make and sign the id in one go
	agents       *useragent.Cache
	tenantRules  TenantRules // Options.Rules, when it is one
}

// scratch is the per-call working memory, pooled so that Score allocates
// only what it returns.
type scratch struct {
	attempt Attempt
	n       normalized
	in      Input
	ev      Event
	state   State
	env     Env
	verdict Verdict
	pending Pending
	login   Login
	commit  Commit
	decided Decided

	facts *PasswordFacts // a captured attempt's password (ScoreCaptured)
	dry   bool           // a DryRun: its stages' failures are not the pipeline's (failed)
	idbuf [32]byte       // the decision id's signature (decisionid.go)
	// keys and rng are the keyer's scratch and a generator of the id
	// source's, each taken from its pool at the scratch's first Score and
	// kept with it: a pool's Get and Put cost a Score some 120
	// instructions a pool, and the scratch is pooled already.
	keys *keyScratch
	rng  *mrand.ChaCha8
	// record is the buffer of the attempt's fingerprint and of the
	// decision kept for its retries (decidedRecord).
	record []byte

	// observed is the copy of the decision the observers are shown. In
	// the scratch rather than on score's stack: a pointer handed to an
	// interface method escapes, so a local copy would be a ~1.2 KB heap
	// allocation on every Score.
	observed Decision
}

// New returns an Engine.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("engine: no store")
	}
	if opts.Rules == nil {
		return nil, errors.New("engine: no rules")
	}
	if opts.Keyer == nil {
		return nil, errors.New("engine: no keyer")
	}
	defaultClock := opts.Now == nil
	if defaultClock {
		opts.Now = time.Now
	}
	e := &Engine{opts: opts, log: opts.Logger, ids: newIDSource(), defaultClock: defaultClock, agents: useragent.NewCacheSize(opts.UserAgents)}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.tenantRules, _ = opts.Rules.(TenantRules)
	e.defaultIDs = opts.NewID == nil
	if opts.NewID == nil {
		e.opts.NewID = e.ids.ULID
	}
	e.scratch.New = func() any { return new(scratch) }
	if opts.RetryEntries >= 0 {
		if opts.RetryWindow <= 0 {
			opts.RetryWindow = 10 * time.Minute
		}
		e.recent = newRecentDecisions(cmpOr(opts.RetryEntries, 50_000), max(cmpOr(opts.RetryMaxBytes, 64<<20), 1), opts.RetryWindow)
	}
	for _, x := range opts.Enrichers {
		if a, ok := x.(AnyAddressEnricher); ok && a.EnrichesAnyAddress() {
			e.anyAddr = append(e.anyAddr, x)
		}
	}
	for _, sig := range opts.Signals {
		if l, ok := sig.(Learner); ok {
			e.learners = append(e.learners, l)
		}
	}
	return e, nil
}

// Score decides on one attempt. A validation error wraps ErrInvalid and is
// a *FieldError naming the field; nothing of an invalid attempt reaches the
// store. A store failure is not an error: the decision is made without
// state and env.State.Available is false.
func (e *Engine) Score(ctx context.Context, a Attempt) (Decision, error) {
	var d Decision
	err := e.score(ctx, &a, nil, nil, &d)
	return d, err
}

// ScoreInto is Score writing the decision into *d, which it first sets to
// the zero Decision; on an error *d is the zero Decision. A Decision is
// 1.2 KB, its signals most of it, and Score's is copied at its return and
// again at each return of a caller that passes it on: the servers decide
// into a Decision of their own and encode it from there (about 1,500
// instructions a call fewer over gRPC, benchmarks/README.md). The attempt
// is read, not kept.
func (e *Engine) ScoreInto(ctx context.Context, a *Attempt, d *Decision) error {
	return e.score(ctx, a, nil, nil, d)
}

// DryRun decides on an attempt with the given ruleset (nil: the one in
// force) without changing any state: the windows are read, not written,
// so their counts exclude the attempt itself; nothing is learned or
// remembered, and observers are not told. The rules admin API uses it to
// try a candidate ruleset on live state.
func (e *Engine) DryRun(ctx context.Context, a Attempt, rs Ruleset) (Decision, error) {
	if rs == nil {
		tenant := a.Tenant
		if tenant == "" {
			tenant = DefaultTenant
		}
		rs = e.rulesFor(tenant)
	}
	var d Decision
	err := e.score(ctx, &a, rs, nil, &d)
	return d, err
}

// rulesFor is the ruleset that decides a tenant's attempts.
func (e *Engine) rulesFor(tenant string) Ruleset {
	if e.tenantRules != nil {
		return e.tenantRules.ForTenant(tenant)
	}
	return e.opts.Rules.Current()
}

// maxDecidedWait bounds the wait for the decision of an attempt another
// node is deciding: 1+2+...+512 ms, about a second at most. The other
// node's commit can lag its decision by a store round trip and a batch
// flush, which on a loaded machine took over the 130 ms this once was
// (node TestStreamRebalanceRedis under CI); only a redelivery whose first
// delivery has not committed waits, and a stream consumer has no caller
// to keep waiting.
const maxDecidedWait = 512 * time.Millisecond

// score is Score, DryRun and a captured attempt's replay (capt), deciding
// into *d (ScoreInto): a Decision is 1.2 KB (its signals most of it), and
// one built aside was copied at every return it passed through. *d is the
// zero Decision on an error.
func (e *Engine) score(ctx context.Context, a *Attempt, dry Ruleset, capt *captured, d *Decision) error {
	*d = Decision{}
	start := time.Now()
	now := start
	if !e.defaultClock {
		now = e.opts.Now()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("engine: score: %w", err)
	}
	s := e.scratch.Get().(*scratch)
	defer e.release(s)
	s.attempt = *a
	s.dry = dry != nil
	if err := CheckBeforePassword(a); err != nil {
		return err
	}
	if err := s.n.normalize(&s.attempt, now, e.opts.MaxClockSkew); err != nil {
		return err
	}
	if capt != nil && capt.password != nil {
		s.facts, s.n.hasPassword = capt.password, true
	}
	idempotent := dry == nil && capt == nil && e.recent != nil && s.attempt.AttemptID != ""
	// cached is the decision this node remembers for a retry: its answer,
	// on the signals as they are now (the node keeps no signals, as the
	// store keeps none for a retry reaching another node). The store is
	// read first, as for any retry: it does not count the attempt again,
	// and says whether its user was erased meanwhile (by Forget, maybe on
	// another node, whose cache this is not).
	var cached *retryDecision
	var erasures uint64 // recentDecisions.put
	if idempotent {
		erasures = e.recent.erasures.Load()
		r, ok, err := e.recent.get(&s.n, start)
		if err != nil {
			return err
		}
		if ok {
			cached = &r
		}
	}
	e.prepare(s)
	s.in.PasswordFacts = s.facts

	// State: one batched read (and window write) from the store.
	s.ev = Event{
		Tenant: s.n.tenant, Time: s.n.time, IP: WindowAddr(s.in.Addr), Subnet: s.in.Subnet,
		ASN: s.in.Enrichment.Network.ASN, Attempt: dry == nil, Failed: dry == nil && s.attempt.Result.Failed(),
	}
	e.keys(s)
	if dry == nil && capt == nil && s.attempt.AttemptID != "" {
		s.ev.AttemptID = e.opts.Keyer.Attempt(s.n.tenant, s.attempt.AttemptID)
	}
	s.state.Reset()
	observe := func(ctx context.Context) error { return e.opts.Store.Observe(ctx, &s.ev, &s.state) }
	// An attempt with an id is observed to the end, within the store's
	// own bound, even for a caller that has gone meanwhile: the answer
	// says whether this Score or an earlier one made the store remember
	// the attempt, which only the first may mark when it is abandoned
	// (abandon). Cut short, a retry could not tell, and marked the
	// attempt of a first Score still deciding it: the next retry decided
	// it again and learned the login twice. Only under StoreTimeout: a
	// store without it (the memory store) never blocks, and an unbounded
	// observe would outlive its caller for as long as the store hangs.
	// An observe that times out is not known to have been applied, and
	// marks nothing: a retry of its attempt still waits (maxDecidedWait).
	octx := ctx
	if !s.ev.AttemptID.IsZero() && e.opts.StoreTimeout > 0 {
		octx = detached(ctx)
	}
	err := e.storeCall(octx, "observe", observe)
	// A redelivery whose first delivery is still being decided (by
	// another node, in a rebalance) has no decision kept yet: that node's
	// commit writes it a moment later. Read again for a little while (a
	// redelivery's observe only reads) rather than decide it twice; after
	// that, it is decided again on the state as read, counted once still.
	// An attempt whose user was erased has no decision kept, nor will it
	// have: it is decided at once.
	for wait := time.Millisecond; err == nil && cached == nil && s.state.Replayed && !s.state.Erased && len(s.state.Decided) == 0 && wait <= maxDecidedWait; wait *= 2 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("engine: score: %w", ctx.Err())
		case <-t.C:
		}
		s.state.Reset()
		err = e.storeCall(octx, "observe", observe)
	}
	if cached != nil && err == nil && s.state.Erased {
		// Its user was erased: decided afresh, below.
		e.recent.drop(&s.n)
		cached = nil
	}
	s.in.StateAvailable = err == nil
	if err != nil {
		s.state.Reset()
	}
	s.in.State = &s.state

	// A caller that has gone (a client that gave up, a deadline passed)
	// gets no more work done for it: the context is checked between the
	// stages, and before the rules, the stage an analyst's edit can make
	// slow. Work for requests no one waits for would otherwise queue
	// ahead of the ones someone does, and outlast the cause.
	if err := ctx.Err(); err != nil {
		e.abandon(ctx, s)
		return fmt.Errorf("engine: score: %w", err)
	}

	// Signals.
	e.fillAttemptEnv(s)
	for _, sig := range e.opts.Signals {
		if err := sig.Compute(&s.in, &s.env); err != nil {
			e.failed(s, "signal", sig.Name(), err)
		}
	}

	if cached != nil {
		// Not erased (or the store cannot say): the decision this node
		// gave. A store that had lost the attempt counted it now, as it
		// would any attempt it did not know.
		*d = cached.decision(&s.env)
		return nil
	}

	// A redelivery another node (or an earlier life of this one) decided:
	// its decision, on the signals as they are now.
	if s.state.Replayed && len(s.state.Decided) > 0 {
		if rd, ok, err := e.redecided(s); err != nil || ok {
			if ok && idempotent {
				e.recent.put(&s.n, &rd, start, erasures)
			}
			*d = rd
			return err
		}
	}

	// Rules.
	if err := ctx.Err(); err != nil {
		e.abandon(ctx, s)
		return fmt.Errorf("engine: score: %w", err)
	}
	rs := dry
	if rs == nil {
		rs = e.rulesFor(s.n.tenant)
	}
	s.verdict.Reset()
	rs.Evaluate(&s.env, &s.verdict)
	v := &s.verdict
	if len(v.Errors) > 0 {
		overlay := IsOverlayVersion(rs.Version())
		for _, re := range v.Errors {
			err := re.Err
			if overlay {
				err = &OverlayRuleError{Err: err}
			}
			e.failed(s, "rule", re.RuleID, err)
		}
	}
	action := v.Action
	if action == ActionNone {
		action = ActionAllow
	}
	id := e.newID(s, s.n.time)
	// Field by field into the zero *d: a composite literal is built aside
	// and copied.
	d.DecisionID, d.AttemptID, d.Tenant, d.Time = id, s.attempt.AttemptID, s.n.tenant, s.n.time
	d.Action, d.Score, d.Reasons, d.Shadow, d.Alert = action, v.Score, v.Reasons, v.Shadow, v.Alert
	d.Notify = NotifyKinds(v.Notify, action, s.attempt.Result)
	d.Signals = s.env
	d.RulesVersion = rs.Version()
	if d.AttemptID == "" {
		d.AttemptID = id
	}
	if d.Reasons == nil {
		d.Reasons = []Reason{}
	}
	if dry != nil {
		return nil
	}
	if s.state.Erased {
		// A redelivery of an attempt whose user was erased since its
		// first delivery (Forget): the first decision, which may have
		// said what the erased history held ("last login from GB"), is
		// gone from the store. It is decided afresh, on the state as it
		// is now, and has no consequences: it was counted at its first
		// delivery and is not counted again, and learning it, or keeping
		// its decision for an outcome, would put back what the erasure
		// took. Observers are not told, as of any redelivery.
		if idempotent {
			e.recent.put(&s.n, d, start, erasures)
		}
		return nil
	}

	// Consequences: learn a completed login now, or remember the decision
	// for the outcome that will complete it.
	e.commit(ctx, s, d)
	if idempotent {
		e.recent.put(&s.n, d, start, erasures)
	}
	if len(e.opts.Observers) > 0 {
		// Observers get a copy: handing them &d would move every decision
		// to the heap, observers or not.
		took := time.Since(start)
		s.observed = *d
		for _, o := range e.opts.Observers {
			o.Decided(&s.attempt, &s.observed, took)
		}
	}
	return nil
}

// abandon marks the attempt of a Score whose caller has gone before the
// rules decided it: the store remembers the attempt (it was counted) but
// will keep no decision for it, and a retry, reading none, would wait for
// one (maxDecidedWait, about a second) before deciding. The mark, the
// attempt's fingerprint with no decision (Decided, MinRecord), tells it
// to decide at once; Report reads it as this attempt's, so its failure
// is not counted again. Only the Score whose observe made the store
// remember the attempt marks it, so only after an observe that answered
// (it ran to the end for a gone caller too): a retry (Replayed) leaves
// alone the attempt another Score may still be deciding. A store keeps
// no mark over a record it holds, nor for an attempt it does not
// remember.
func (e *Engine) abandon(ctx context.Context, s *scratch) {
	if s.ev.AttemptID.IsZero() || !s.in.StateAvailable || s.state.Replayed {
		return
	}
	fp := e.attemptFingerprint(s)
	s.decided = Decided{Tenant: s.n.tenant, AttemptID: s.ev.AttemptID, User: s.ev.User, Record: append(s.record[:0], fp[:]...)}
	s.commit = Commit{Decided: &s.decided}
	_ = e.storeCall(detached(ctx), "commit", func(ctx context.Context) error {
		return e.opts.Store.Commit(ctx, &s.commit)
	})
}

// newID makes a signed decision id.
func (e *Engine) newID(s *scratch, t time.Time) string {
	tenant := s.n.tenant
	if e.defaultIDs {
		if s.rng == nil {
			s.rng = e.ids.pool.Get().(*mrand.ChaCha8)
		}
		b := idBytes(s.rng, t)
		tag := e.opts.Keyer.ids.tag(tenant, &b, &s.idbuf)
		copy(b[16-tagBytes:], tag[:])
		return encodeULID(&b)
	}
	return e.opts.Keyer.ids.sign(tenant, e.opts.NewID(t))
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (e *Engine) release(s *scratch) {
	// Drop references into the caller's data before pooling.
	s.attempt = Attempt{}
	s.n.a = nil
	s.in.Attempt = nil
	s.in.State = nil
	s.in.PasswordFacts = nil
	s.facts = nil
	s.env = Env{} // and fillAttemptEnv relies on it
	s.verdict = Verdict{}
	if len(e.opts.Observers) > 0 {
		s.observed = Decision{} // set only for observers
	}
	e.scratch.Put(s)
}

// failed tells the observers that a stage failed on s's attempt and was
// skipped, and logs it (rate-limited). A DryRun's failures are not told:
// its attempt is no login (POST /v1/rules:test), and its ruleset may be a
// candidate in force nowhere, whose failing rule would otherwise count in
// riskgate_signal_errors_total beside the live ones (and page as a rule
// failing on the node's logins). They are logged, marked dry_run, under a
// limiter of their own, so that an analyst's tests never hide a live
// failure's line.
func (e *Engine) failed(s *scratch, stage, name string, err error) {
	if s.dry {
		if e.logLim.dry.allow(time.Now()) {
			e.log.Info("pipeline stage failed", "stage", stage, "name", name, "err", err, "dry_run", true)
		}
		return
	}
	for _, o := range e.opts.Observers {
		o.Failed(stage, name, err)
	}
	if e.logLim.of(stage).allow(time.Now()) {
		e.log.Warn("pipeline stage failed", "stage", stage, "name", name, "err", err)
	}
}

// enricherName is how a failing enricher is named to observers (stage
// "enrich"): by its type.
func enricherName(x Enricher) string { return fmt.Sprintf("%T", x) }

// StageNames are the names the engine gives observers of its enrichers
// and signals when one fails (Observer.Failed, stages "enrich" and
// "signal"), for a metric to create their series before any failure.
func (e *Engine) StageNames() (enrichers, signals []string) {
	for _, x := range e.opts.Enrichers {
		enrichers = append(enrichers, enricherName(x))
	}
	for _, sig := range e.opts.Signals {
		signals = append(signals, sig.Name())
	}
	return enrichers, signals
}
