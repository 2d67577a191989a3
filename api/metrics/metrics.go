// Package metrics exports the Prometheus metrics of decisions and of the
// API: Metrics is an engine.Observer of the scoring path (decisions, rule
// matches, outcomes, store calls, failed stages) and measures the HTTP and
// gRPC surfaces. Every metric is registered on the registry it is given;
// nothing is global. The packages it is assembled with keep their own
// metrics beside what they measure (rules, GeoIP, IP lists, the
// breached-password filter, the Redis store), each as a
// prometheus.Collector.
//
// The scoring path calls the observer synchronously, so label children are
// resolved once and found again through maps that are read without locks or
// allocation. Label values that come from callers (tenants) or from rule
// files (rule ids) are capped: past the cap they count as "other", so a
// client inventing tenants cannot blow up the time series.
package metrics

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"

	"github.com/riskgate/riskgate/api/apierr"
	"github.com/riskgate/riskgate/engine"
)

// Other is the label value that absorbs tenants and rules past their caps.
const Other = "other"

// Options bound the label cardinality.
type Options struct {
	// MaxTenants is how many distinct tenants get their own series;
	// default 100.
	MaxTenants int
	// MaxRules is how many distinct rule ids get their own series; default
	// 1000. Rules of replaced rulesets keep their series.
	MaxRules int
}

// LatencyBuckets are the buckets of the scoring, store and API latency
// histograms, in seconds: from 50µs, where an in-memory Score lands, to 1 s,
// where a struggling network store does. Each call returns a new slice.
func LatencyBuckets() []float64 {
	return []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1}
}

// Metrics is the set of riskgate's metrics. It is safe for concurrent use.
type Metrics struct {
	opts Options

	decisions   *prometheus.CounterVec
	tenants     cowMap[*[4]prometheus.Counter] // by tenant, indexed by engine.Action (allow..deny)
	alerts      prometheus.Counter
	ruleMatches *prometheus.CounterVec
	rules       cowMap[*[2]prometheus.Counter] // by rule id: enforce, shadow
	// overlayRules counts the rule ids that got their series from a
	// decision of a tenant's overlay (under rules.mu): at most half the
	// cap, so that a tenant's admin, who writes those ids, cannot use up
	// the series the shared rules are watched by.
	overlayRules int
	// overlayRuleErrs is overlayRules for ruleErrs (under ruleErrs.mu).
	overlayRuleErrs int
	scoreDur        prometheus.Histogram
	outcomes        [7]prometheus.Counter // by engine.OutcomeKind
	signalErrs      *prometheus.CounterVec
	ruleErrs        cowMap[prometheus.Counter] // by rule id, capped as rules are
	storeDurVec     *prometheus.HistogramVec
	storeErrVec     *prometheus.CounterVec
	storeOps        map[string]storeOp // read-only after New

	httpReqs *prometheus.CounterVec
	httpDur  *prometheus.HistogramVec
	grpcReqs *prometheus.CounterVec
	grpcDur  *prometheus.HistogramVec
	// Children of the common case (a route or method answering OK),
	// resolved once: routes and methods are a fixed, small set.
	httpOK, grpcOK cowMap[requestChildren]
}

type requestChildren struct {
	ok  prometheus.Counter
	dur prometheus.Observer
}

type storeOp struct {
	dur  prometheus.Observer
	errs prometheus.Counter
}

// knownStoreOps are the engine's store operations, resolved up front.
var knownStoreOps = []string{"observe", "commit", "record", "take_pending", "profile", "forget"}

var _ engine.Observer = (*Metrics)(nil)

// New registers riskgate's metrics on reg.
func New(reg prometheus.Registerer, opts Options) (*Metrics, error) {
	if opts.MaxTenants <= 0 {
		opts.MaxTenants = 100
	}
	if opts.MaxRules <= 0 {
		opts.MaxRules = 1000
	}
	m := &Metrics{
		opts: opts,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_decisions_total",
			Help: "Decisions made, by action and tenant (tenants past the cap count as \"other\").",
		}, []string{"action", "tenant"}),
		alerts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "riskgate_decision_alerts_total",
			Help: "Decisions that matched at least one enforced rule with alert: true.",
		}),
		ruleMatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_rule_matches_total",
			Help: "Rule matches, by rule id and mode (enforce or shadow).",
		}, []string{"rule", "mode"}),
		scoreDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "riskgate_score_duration_seconds",
			Help:    "Time to score one attempt inside the engine, store included, transport excluded.",
			Buckets: LatencyBuckets(),
		}),
		signalErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_signal_errors_total",
			Help: "Pipeline stages that failed and were skipped, by stage (enrich, signal, rule) and name.",
		}, []string{"stage", "name"}),
		storeDurVec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "riskgate_store_duration_seconds",
			Help:    "Latency of state store calls, by operation.",
			Buckets: LatencyBuckets(),
		}, []string{"op"}),
		storeErrVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_store_errors_total",
			Help: "State store calls that failed, by operation. A failed observe is a decision made without state.",
		}, []string{"op"}),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_http_requests_total",
			Help: "HTTP requests, by route pattern and status code.",
		}, []string{"route", "code"}),
		httpDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "riskgate_http_request_duration_seconds",
			Help:    "HTTP request latency from headers read to response written, by route pattern.",
			Buckets: LatencyBuckets(),
		}, []string{"route"}),
		grpcReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_grpc_requests_total",
			Help: "gRPC calls, by full method and status code.",
		}, []string{"method", "code"}),
		grpcDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "riskgate_grpc_request_duration_seconds",
			Help:    "gRPC call latency in the handler, by full method.",
			Buckets: LatencyBuckets(),
		}, []string{"method"}),
	}
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "riskgate_outcomes_total",
		Help: "Outcomes reported, by outcome.",
	}, []string{"outcome"})
	for k := engine.LoginSucceeded; k <= engine.ConfirmedLegit; k++ {
		m.outcomes[k] = outcomes.WithLabelValues(k.String())
	}
	m.outcomes[0] = outcomes.WithLabelValues("unknown")
	m.storeOps = make(map[string]storeOp, len(knownStoreOps))
	for _, op := range knownStoreOps {
		m.storeOps[op] = storeOp{dur: m.storeDurVec.WithLabelValues(op), errs: m.storeErrVec.WithLabelValues(op)}
	}
	for _, c := range []prometheus.Collector{
		m.decisions, m.alerts, m.ruleMatches, m.scoreDur, outcomes, m.signalErrs, m.storeDurVec, m.storeErrVec,
		m.httpReqs, m.httpDur, m.grpcReqs, m.grpcDur,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.tenants.init()
	m.rules.init()
	m.ruleErrs.init()
	m.httpOK.init()
	m.grpcOK.init()
	return m, nil
}

// AlertedGRPCCodes are the gRPC status codes the alerting rules watch
// (deploy/prometheus/riskgate.rules.yaml): the server's errors (Unknown,
// Internal, Unavailable, DataLoss, DeadlineExceeded) and refused
// credentials (Unauthenticated, PermissionDenied).
var AlertedGRPCCodes = []codes.Code{
	codes.Unknown, codes.Internal, codes.Unavailable, codes.DataLoss, codes.DeadlineExceeded,
	codes.Unauthenticated, codes.PermissionDenied,
}

// KnownRoutes creates, at 0, the request counters of the HTTP routes
// served (their patterns, "POST /v1/score"): the 200s, and the statuses
// the server answers the alerted codes with (apierr.HTTPStatus: 500, 503,
// 504, 401, 403). Prometheus' rate() and increase() compute from two
// samples of a series: a series created by its first request would not
// count it, so that the first 5xx of a route, or a lone 401, would be
// invisible to the alerts on them. Routes are the server's own table, a
// small fixed set: the cardinality is bounded by it. The latency
// histograms are left to the first request: a quantile over many
// observations does not miss one, and they are most of the series (16
// each; some 500 for every route and method of a node).
func (m *Metrics) KnownRoutes(routes ...string) {
	var statuses []string
	for _, c := range AlertedGRPCCodes {
		if s := strconv.Itoa(apierr.HTTPStatus(c)); !slices.Contains(statuses, s) {
			statuses = append(statuses, s)
		}
	}
	for _, r := range routes {
		m.httpReqs.WithLabelValues(r, "200")
		for _, s := range statuses {
			m.httpReqs.WithLabelValues(r, s)
		}
	}
}

// KnownMethods is KnownRoutes for the gRPC methods measured (the unary
// ones, by full name): OK and the AlertedGRPCCodes.
func (m *Metrics) KnownMethods(methods ...string) {
	for _, name := range methods {
		m.grpcReqs.WithLabelValues(name, "OK")
		for _, c := range AlertedGRPCCodes {
			m.grpcReqs.WithLabelValues(name, c.String())
		}
	}
}

// KnownStages creates, at 0, riskgate_signal_errors_total of the stages
// an engine runs: its enrichers (stage "enrich", named by type, as the
// engine names them), its signals ("signal") and the rules of the
// ruleset it starts with ("rule", under the rules' cap, as Failed counts
// them). A failing stage pages through rate() of its series; created by
// its first failure, that failure would not count. Rules put in force
// later, and tenants' overlays, get theirs at their first failure.
func (m *Metrics) KnownStages(enrichers, signals, rules []string) {
	for _, name := range enrichers {
		m.signalErrs.WithLabelValues("enrich", name)
	}
	for _, name := range signals {
		m.signalErrs.WithLabelValues("signal", name)
	}
	for _, id := range rules {
		m.ruleErrs.getOrAdd(id, m.opts.MaxRules, func(label string) prometheus.Counter {
			return m.signalErrs.WithLabelValues("rule", label)
		})
	}
}

// Decided implements engine.Observer.
func (m *Metrics) Decided(_ *engine.Attempt, d *engine.Decision, took time.Duration) {
	if a := d.Action; a >= engine.ActionAllow && a <= engine.ActionDeny {
		m.tenant(d.Tenant)[a].Inc()
	}
	if d.Alert {
		m.alerts.Inc()
	}
	for i := range d.Reasons {
		m.rule(d.Reasons[i].RuleID, d.RulesVersion)[0].Inc()
	}
	for i := range d.Shadow {
		m.rule(d.Shadow[i].RuleID, d.RulesVersion)[1].Inc()
	}
	m.scoreDur.Observe(took.Seconds())
}

// Reported implements engine.Observer.
func (m *Metrics) Reported(o *engine.Outcome, _ *engine.Pending) {
	k := o.Outcome
	if int(k) >= len(m.outcomes) {
		k = 0
	}
	m.outcomes[k].Inc()
}

// StoreCall implements engine.Observer.
func (m *Metrics) StoreCall(op string, took time.Duration, err error) {
	s, ok := m.storeOps[op]
	if !ok {
		s = storeOp{dur: m.storeDurVec.WithLabelValues(op), errs: m.storeErrVec.WithLabelValues(op)}
	}
	s.dur.Observe(took.Seconds())
	if err != nil {
		s.errs.Inc()
	}
}

// Failed implements engine.Observer. Enrichers and signals are a fixed
// set of Go types and names. Rule ids are not: a tenant admin, who may
// put an overlay as often as they like, named a new series with each
// failing rule, so they count under the rules' cap (MaxRules) as matches
// do, past it as "other"; a rule of a tenant's overlay (an
// engine.OverlayRuleError) only within half of it, so that one overlay of
// failing rules cannot leave the shared rules' failures all "other".
func (m *Metrics) Failed(stage, name string, err error) {
	if stage == "rule" {
		build := func(label string) prometheus.Counter {
			return m.signalErrs.WithLabelValues(stage, label)
		}
		var oe *engine.OverlayRuleError
		if errors.As(err, &oe) {
			m.ruleErrs.getOrAddWithin(name, m.opts.MaxRules, &m.overlayRuleErrs, m.opts.MaxRules/2, build).Inc()
			return
		}
		m.ruleErrs.getOrAdd(name, m.opts.MaxRules, build).Inc()
		return
	}
	m.signalErrs.WithLabelValues(stage, name).Inc()
}

// tenant returns the decision counters of a tenant, creating them under the
// cap.
func (m *Metrics) tenant(t string) *[4]prometheus.Counter {
	return m.tenants.getOrAdd(t, m.opts.MaxTenants, func(label string) *[4]prometheus.Counter {
		c := new([4]prometheus.Counter) // indexed by action; a decision is never "none"
		for a := engine.ActionAllow; a <= engine.ActionDeny; a++ {
			c[a] = m.decisions.WithLabelValues(a.String(), label)
		}
		return c
	})
}

// KnownRules creates the match counters of the shared rules' ids, at 0
// for both modes, under the cap: increase() and rate() need a sample
// before a rule's first match to count it, and a rule that matches
// rarely (a honeypot account's, an attack's) is the one a SOC alerts on.
// Called with each shared ruleset put in force; the series of a rule
// removed since stay, at their count.
func (m *Metrics) KnownRules(ids []string) {
	for _, id := range ids {
		m.rule(id, "")
	}
}

// rule returns the match counters of a rule id, creating them under the
// cap; a decision of a tenant's overlay (its rules version says so)
// creates them only within the overlays' half of it. The version is read
// only for a new id: the scoring path finds its counters without it.
func (m *Metrics) rule(id, version string) *[2]prometheus.Counter {
	if v, ok := m.rules.get(id); ok {
		return v
	}
	build := func(label string) *[2]prometheus.Counter {
		return &[2]prometheus.Counter{m.ruleMatches.WithLabelValues(label, "enforce"), m.ruleMatches.WithLabelValues(label, "shadow")}
	}
	if !engine.IsOverlayVersion(version) {
		return m.rules.getOrAdd(id, m.opts.MaxRules, build)
	}
	return m.rules.getOrAddWithin(id, m.opts.MaxRules, &m.overlayRules, m.opts.MaxRules/2, build)
}

// Untimed is the duration of a call refused on its credentials before its
// request was read: counted in the requests' counter, left out of their
// duration histogram. Its time is the server's hashing of a token, a
// microsecond: a client with an expired token (each of its logins failing
// over, which RiskgateAuthFailures reports) filled the histogram's
// lowest bucket, and the 99th percentile RiskgateScoringCallsSlow reads
// came down with it, the calls served as slow as before.
const Untimed time.Duration = -1

// HTTP records one HTTP request; route is the pattern, not the path; took
// is Untimed for a request refused before its body was read.
func (m *Metrics) HTTP(route string, code int, took time.Duration) {
	c := m.children(&m.httpOK, m.httpReqs, m.httpDur, route, "200")
	if code == 200 {
		c.ok.Inc()
	} else {
		m.httpReqs.WithLabelValues(route, strconv.Itoa(code)).Inc()
	}
	if took >= 0 {
		c.dur.Observe(took.Seconds())
	}
}

// GRPC records one gRPC call; code is the status code's name; took is
// Untimed for a call refused before its message was read.
func (m *Metrics) GRPC(method, code string, took time.Duration) {
	c := m.children(&m.grpcOK, m.grpcReqs, m.grpcDur, method, "OK")
	if code == "OK" {
		c.ok.Inc()
	} else {
		m.grpcReqs.WithLabelValues(method, code).Inc()
	}
	if took >= 0 {
		c.dur.Observe(took.Seconds())
	}
}

// children needs no cap: route and method names come from the server's own
// tables, not from callers.
func (m *Metrics) children(cache *cowMap[requestChildren], reqs *prometheus.CounterVec, dur *prometheus.HistogramVec, name, ok string) requestChildren {
	return cache.getOrAdd(name, 0, func(name string) requestChildren {
		return requestChildren{ok: reqs.WithLabelValues(name, ok), dur: dur.WithLabelValues(name)}
	})
}

// cowMap is a copy-on-write map: readers load an immutable map through an
// atomic pointer, without locks or allocation; writers (rare: a new tenant
// or rule) copy it under the map's mutex.
type cowMap[V any] struct {
	p  atomic.Pointer[map[string]V]
	mu sync.Mutex // serialises writers
}

// getOrAdd returns k's value, building it when absent. Past max keys (0: no
// cap) a new key shares the value kept under Other, so callers cannot grow
// the number of time series without bound.
func (c *cowMap[V]) getOrAdd(k string, max int, build func(label string) V) V {
	if v, ok := c.get(k); ok {
		return v
	}
	// No budget of its own: one the key always has room in.
	var added int
	return c.getOrAddWithin(k, max, &added, 1, build)
}

// getOrAddWithin is getOrAdd where a new key also needs room in a
// budget: *added, the keys added through it (guarded by c.mu), below
// limit. Without room it shares the value kept under Other.
func (c *cowMap[V]) getOrAddWithin(k string, max int, added *int, limit int, build func(label string) V) V {
	if v, ok := c.get(k); ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.get(k); ok {
		return v
	}
	if *added >= limit || max > 0 && c.len() >= max {
		if v, ok := c.get(Other); ok {
			return v
		}
		k = Other
	} else {
		*added++
	}
	v := build(k)
	c.put(k, v)
	return v
}

func (c *cowMap[V]) init() {
	m := map[string]V{}
	c.p.Store(&m)
}

func (c *cowMap[V]) get(k string) (V, bool) {
	v, ok := (*c.p.Load())[k]
	return v, ok
}

func (c *cowMap[V]) len() int { return len(*c.p.Load()) }

// put must be called with c.mu held.
func (c *cowMap[V]) put(k string, v V) {
	old := *c.p.Load()
	m := make(map[string]V, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[k] = v
	c.p.Store(&m)
}
