package rules

import (
	"maps"
	"sync"
	"time"
)

// LoadStats is what a Manager reports of its loads, for metrics
// (rules/rulemetrics exports it to Prometheus). The Manager keeps plain
// values rather than Prometheus metrics so that this package does not
// import the Prometheus client: the client imports net/http, which Go
// initialises late, and the package that compiles the built-in rules
// ahead (cmd/riskgate/internal/serveahead) can only start once this one
// is initialised.
type LoadStats struct {
	// Version is the shared ruleset's in force; Rules, its rule count.
	Version string
	Rules   int
	// Healthy: every rule file loads (the shared files, the tenants
	// folder, every tenant's overlay). A put through the API that is
	// rejected is refused to its caller and changes nothing here.
	Healthy bool
	// LastLoad is the time of the last load or reload of the rules (from
	// their files, or a put through the API put in force), successful or
	// not.
	LastLoad time.Time
	// Loads counts loads and reloads by trigger and result; every pair of a
	// trigger and a result is there from the Manager's start, at 0, and
	// the api trigger's ResultRejected.
	Loads map[LoadKey]uint64
	// Stale: the tenants whose overlay files (or the whole tenants
	// folder) the last reload rejected, 1 each; past MaxStaleTenantSeries
	// tenants, the rest are counted under "other".
	Stale map[string]int
}

// LoadKey is a load's trigger and result.
type LoadKey struct{ Trigger, Result string }

// The results of a load, as LoadStats.Loads counts them.
const (
	ResultSuccess = "success"
	// ResultFailure is rule files that did not load: the files on disk
	// (or, at startup, the embedded set) are not what is in force, and a
	// restart would fail on them. A put through the API counts one only
	// when its files, written, are read back and do not load.
	ResultFailure   = "failure"
	ResultUnchanged = "unchanged"
	// ResultRejected is a put through the API (trigger api only) whose
	// rules did not compile: refused to its caller with the problems,
	// nothing on disk or in force changed. It is apart from
	// ResultFailure so that an alert on failures does not page for an
	// analyst's typo, which its sender was told of at once.
	ResultRejected = "rejected"
)

// triggers and results are every trigger and result of a load.
var (
	triggers = [...]string{TriggerStartup, TriggerFile, TriggerSignal, TriggerAPI}
	results  = [...]string{ResultSuccess, ResultFailure, ResultUnchanged}
)

// MaxStaleTenantSeries bounds LoadStats.Stale, as the decision metrics
// bound their tenants: past it, tenants are counted under "other".
const MaxStaleTenantSeries = 100

// otherTenants is the label value of the tenants past
// MaxStaleTenantSeries, as api/metrics names them.
const otherTenants = "other"

// metrics are the Manager's LoadStats as they change.
type metrics struct {
	mu sync.Mutex
	s  LoadStats
}

func newMetrics() *metrics {
	m := &metrics{s: LoadStats{Loads: make(map[LoadKey]uint64, len(triggers)*len(results)+1)}}
	// Every trigger and result from the start: increase() and rate()
	// count nothing of a series' first sample, so a failed reload that
	// created its series would go unseen by a graph or an alert on
	// increase(...{result="failure"}). Only a put is ever rejected.
	for _, t := range triggers {
		for _, r := range results {
			m.s.Loads[LoadKey{t, r}] = 0
		}
	}
	m.s.Loads[LoadKey{TriggerAPI, ResultRejected}] = 0
	return m
}

// stats returns a copy of the stats, safe to keep.
func (m *metrics) stats() LoadStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.s
	s.Loads = maps.Clone(m.s.Loads)
	s.Stale = maps.Clone(m.s.Stale)
	return s
}

// loaded records a ruleset put in force, or found unchanged. Healthy is
// the Manager's to set (health): a shared ruleset that loads says nothing
// of the tenants' overlays.
func (m *metrics) loaded(trigger, version string, rules int, changed bool, at time.Time) {
	result := ResultSuccess
	if !changed {
		result = ResultUnchanged
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s.Loads[LoadKey{trigger, result}]++
	m.s.LastLoad = at
	m.s.Rules = rules
	m.s.Version = version
}

// tenantLoaded records a tenant's overlay put in force (the shared
// ruleset's version and rule count are not the overlay's).
func (m *metrics) tenantLoaded(trigger string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s.Loads[LoadKey{trigger, ResultSuccess}]++
	m.s.LastLoad = at
}

// failed records rule files rejected; what was in force stays.
func (m *metrics) failed(trigger string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s.Loads[LoadKey{trigger, ResultFailure}]++
	m.s.LastLoad = at
}

// refused records a put through the API rejected: its caller has the
// problems, nothing on disk or in force changed, so only the count moves,
// under its own result (ResultRejected): counted as a failure, an
// analyst's typo read as rule files that do not load.
func (m *metrics) refused() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s.Loads[LoadKey{TriggerAPI, ResultRejected}]++
}

// health records whether every rule file loads.
func (m *metrics) health(ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s.Healthy = ok
}

// staleTenants records the tenants whose overlay files were rejected
// (sorted): the first MaxStaleTenantSeries under their names and the rest
// counted under "other".
func (m *metrics) staleTenants(tenants []string) {
	var stale map[string]int
	if len(tenants) > 0 {
		stale = make(map[string]int, min(len(tenants), MaxStaleTenantSeries+1))
		for i, t := range tenants {
			if i >= MaxStaleTenantSeries {
				t = otherTenants
			}
			stale[t]++
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s.Stale = stale
}
