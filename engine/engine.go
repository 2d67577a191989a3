package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/netip"
	"sync"
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
	return e.score(ctx, &a, nil, nil)
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
	return e.score(ctx, &a, rs, nil)
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

// score is Score, DryRun and a captured attempt's replay (capt).
// The decision is built in its result, d, named for that: a Decision is
// 1.2 KB (its signals most of it), and one built in a variable of its own
// was copied into the result at the return, on every Score.
func (e *Engine) score(ctx context.Context, a *Attempt, dry Ruleset, capt *captured) (d Decision, _ error) {
	start := time.Now()
	now := start
	if !e.defaultClock {
		now = e.opts.Now()
	}
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("engine: score: %w", err)
	}
	s := e.scratch.Get().(*scratch)
	defer e.release(s)
	s.attempt = *a
	s.dry = dry != nil
	if err := CheckBeforePassword(a); err != nil {
		return Decision{}, err
	}
	if err := s.n.normalize(&s.attempt, now, e.opts.MaxClockSkew); err != nil {
		return Decision{}, err
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
			return Decision{}, err
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
			return Decision{}, fmt.Errorf("engine: score: %w", ctx.Err())
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
		return Decision{}, fmt.Errorf("engine: score: %w", err)
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
		return cached.decision(&s.env), nil
	}

	// A redelivery another node (or an earlier life of this one) decided:
	// its decision, on the signals as they are now.
	if s.state.Replayed && len(s.state.Decided) > 0 {
		if rd, ok, err := e.redecided(s); err != nil || ok {
			if ok && idempotent {
				e.recent.put(&s.n, &rd, start, erasures)
			}
			return rd, err
		}
	}

	// Rules.
	if err := ctx.Err(); err != nil {
		e.abandon(ctx, s)
		return Decision{}, fmt.Errorf("engine: score: %w", err)
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
	// Field by field into the zero result: a composite literal is built
	// aside and copied, d's address being taken below.
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
		return d, nil
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
			e.recent.put(&s.n, &d, start, erasures)
		}
		return d, nil
	}

	// Consequences: learn a completed login now, or remember the decision
	// for the outcome that will complete it.
	e.commit(ctx, s, &d)
	if idempotent {
		e.recent.put(&s.n, &d, start, erasures)
	}
	if len(e.opts.Observers) > 0 {
		// Observers get a copy: handing them &d would move every decision
		// to the heap, observers or not.
		took := time.Since(start)
		s.observed = d
		for _, o := range e.opts.Observers {
			o.Decided(&s.attempt, &s.observed, took)
		}
	}
	return d, nil
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

// prepare fills the input: address facts, enrichment, user agent.
func (e *Engine) prepare(s *scratch) {
	in := &s.in
	subnet := SubnetOf(s.n.addr)
	*in = Input{
		Attempt: &s.attempt, Tenant: s.n.tenant, Username: s.n.username, Addr: s.n.addr,
		Subnet: subnet, SubnetText: subnetText(subnet), Time: s.n.time, Password: s.n.password, HasPassword: s.n.hasPassword,
		Agent: e.agents.Parse(s.attempt.UserAgent),
	}
	en := &in.Enrichment
	en.Network.Class = Classify(s.n.addr)
	enrichers := e.opts.Enrichers
	if en.Network.Class != ClassPublic {
		enrichers = e.anyAddr
	}
	for _, x := range enrichers {
		if err := x.Enrich(s.n.addr, en); err != nil {
			e.failed(s, "enrich", enricherName(x), err)
		}
	}
	if !en.Location.Known {
		applyHint(s.attempt.Geo, &en.Location)
	}
}

// CityAccuracyKM is the uncertainty of a location found from an address
// at about city precision: what a CDN's location hint is given (CDNs
// geolocate from the address too), and the least that travel signals take
// of any fix (signals.Location).
const CityAccuracyKM = 50

func applyHint(g *GeoHint, l *Location) {
	if g == nil || g.Country == "" && g.Lat == nil {
		return
	}
	*l = Location{Known: true, Source: "hint", Country: CountryCode(g.Country)}
	if g.Lat != nil {
		l.HasCoordinates = true
		l.Lat, l.Lon = *g.Lat, *g.Lon
		l.AccuracyKM = CityAccuracyKM
	}
}

// CountryCode upper-cases a two-letter country code, without allocating
// when it already is upper case (every GeoIP database, most hints).
func CountryCode(s string) string {
	if len(s) == 2 && (s[0] >= 'a' && s[0] <= 'z' || s[1] >= 'a' && s[1] <= 'z') {
		b := []byte(s)
		for i := range b {
			if b[i] >= 'a' && b[i] <= 'z' {
				b[i] -= 'a' - 'A'
			}
		}
		return string(b)
	}
	return s
}

// keys computes the keyed hashes of the attempt's identifiers.
func (e *Engine) keys(s *scratch) {
	k, t := e.opts.Keyer, s.n.tenant
	ks := s.keys
	if ks == nil {
		ks = k.pool.Get().(*keyScratch)
		s.keys = ks
	}
	if s.attempt.UserID != "" {
		s.ev.User = k.keyWith(ks, domainUser, t, s.attempt.UserID, nil)
		s.ev.Account = s.ev.User
	}
	if s.n.username != "" {
		s.ev.Username = k.keyWith(ks, domainUsername, t, s.n.username, nil)
		if s.ev.Account.IsZero() {
			s.ev.Account = s.ev.Username
		}
	}
	if s.facts != nil {
		s.ev.Password = s.facts.Key // already keyed, by the capture
	} else if s.n.hasPassword {
		s.ev.Password = k.keyWith(ks, domainPassword, t, "", s.n.password[:])
	}
	if s.attempt.DeviceID != "" {
		s.in.Device = k.keyWith(ks, domainDevice, t, s.attempt.DeviceID, nil)
	}
}

func (e *Engine) fillAttemptEnv(s *scratch) {
	a := &s.attempt
	utc := s.n.time.UTC()
	// The rest of the environment is zero: release clears it before the
	// scratch goes back to the pool, and a new scratch is zero. Clearing
	// it again here (900 bytes) cost every Score as much as filling it
	// (TestScratchEnvZeroWhenPooled).
	s.env.Attempt = AttemptEnv{
		Tenant: s.n.tenant, UserID: a.UserID, Username: s.n.username, IP: a.IP,
		UserAgent: a.UserAgent, Channel: a.Channel, Result: a.Result.String(),
		Failed: a.Result.Failed(), HasUser: a.UserID != "", Hour: utc.Hour(),
		Weekday: int(utc.Weekday()), Attributes: a.Attributes,
	}
	s.env.State = StateEnv{Available: s.in.StateAvailable}
}

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
