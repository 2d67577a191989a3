package rules

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/internal/metricset"
)

// metrics are the Manager's: what is in force and how loads went. They are
// registered by whoever owns the registry, through Manager.Collector.
type metrics struct {
	version   *prometheus.GaugeVec
	success   prometheus.Gauge
	timestamp prometheus.Gauge
	count     prometheus.Gauge
	reloads   *prometheus.CounterVec
	stale     *prometheus.GaugeVec

	mu         sync.Mutex
	inForceVer string
	staleSet   map[string]float64 // the stale gauge's series, by tenant label
}

// MaxStaleTenantSeries bounds the series of
// riskgate_rules_tenant_overlay_stale, as the decision metrics bound
// their tenants: past it, tenants are counted under "other".
const MaxStaleTenantSeries = 100

// otherTenants is the label value of the tenants past
// MaxStaleTenantSeries, as api/metrics names them.
const otherTenants = "other"

func newMetrics() *metrics {
	m := &metrics{
		version: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "riskgate_rules_version_info",
			Help: "The ruleset in force: 1 for its version label.",
		}, []string{"version"}),
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "riskgate_rules_last_reload_success",
			Help: "1 while the rule files load: 0 while the last load of the shared rules, the tenants folder or a tenant's overlay was rejected (what was in force stays). A put through the API that is rejected is refused to its caller and changes nothing here.",
		}),
		timestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "riskgate_rules_last_reload_timestamp_seconds",
			Help: "Unix time of the last load or reload of the rules (from their files, or a put through the API put in force), successful or not.",
		}),
		count: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "riskgate_rules",
			Help: "Rules in the ruleset in force.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_rules_reloads_total",
			Help: "Rules loads and reloads, by trigger (startup, file, signal, api) and result (success, failure, unchanged).",
		}, []string{"trigger", "result"}),
		stale: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "riskgate_rules_tenant_overlay_stale",
			Help: "Tenants whose overlay files (or the whole tenants folder) the last reload rejected, by tenant: each keeps its last good overlay (or, without one, the shared rules) until its files load. No series while every overlay loads; past 100 tenants, the rest are counted under tenant=\"other\".",
		}, []string{"tenant"}),
	}
	m.known()
	return m
}

// The result label's values of riskgate_rules_reloads_total.
const (
	resultSuccess   = "success"
	resultFailure   = "failure"
	resultUnchanged = "unchanged"
)

// reloadResults are all of them, for known.
var reloadResults = []string{resultSuccess, resultFailure, resultUnchanged}

// known creates the reload counter's series of every trigger and result
// at 0: increase() and rate() count nothing of a series' first sample,
// so a failed reload that created its series would go unseen by a graph
// or an alert on increase(...{result="failure"}). Triggers and results
// are this package's constants: twelve series.
func (m *metrics) known() {
	for _, trigger := range []string{TriggerStartup, TriggerFile, TriggerSignal, TriggerAPI} {
		for _, result := range reloadResults {
			m.reloads.WithLabelValues(trigger, result)
		}
	}
}

func (m *metrics) collector() prometheus.Collector {
	return metricset.Set{m.version, m.success, m.timestamp, m.count, m.reloads, m.stale}
}

// loaded records a ruleset put in force, or found unchanged. The success
// gauge is the Manager's to set (health): a shared ruleset that loads
// says nothing of the tenants' overlays.
func (m *metrics) loaded(trigger, version string, rules int, changed bool, at time.Time) {
	result := resultSuccess
	if !changed {
		result = resultUnchanged
	}
	m.reloads.WithLabelValues(trigger, result).Inc()
	m.timestamp.Set(float64(at.UnixNano()) / 1e9)
	m.count.Set(float64(rules))
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inForceVer != version {
		if m.inForceVer != "" {
			m.version.DeleteLabelValues(m.inForceVer)
		}
		m.version.WithLabelValues(version).Set(1)
		m.inForceVer = version
	}
}

// tenantLoaded records a tenant's overlay put in force (the shared
// ruleset's version and rule count are not the overlay's).
func (m *metrics) tenantLoaded(trigger string, at time.Time) {
	m.reloads.WithLabelValues(trigger, resultSuccess).Inc()
	m.timestamp.Set(float64(at.UnixNano()) / 1e9)
}

// failed records rule files rejected; what was in force stays.
func (m *metrics) failed(trigger string, at time.Time) {
	m.reloads.WithLabelValues(trigger, resultFailure).Inc()
	m.timestamp.Set(float64(at.UnixNano()) / 1e9)
}

// refused records a put through the API rejected: its caller has the
// problems, nothing on disk or in force changed, so only the count moves.
func (m *metrics) refused() {
	m.reloads.WithLabelValues(TriggerAPI, resultFailure).Inc()
}

// health sets the success gauge: whether every rule file loads.
func (m *metrics) health(ok bool) {
	if ok {
		m.success.Set(1)
	} else {
		m.success.Set(0)
	}
}

// staleTenants sets the stale gauge to the tenants whose overlay files
// were rejected (sorted): 1 each, the first MaxStaleTenantSeries under
// their names and the rest counted under "other"; no series for the
// others.
func (m *metrics) staleTenants(tenants []string) {
	want := make(map[string]float64, min(len(tenants), MaxStaleTenantSeries+1))
	for i, t := range tenants {
		if i >= MaxStaleTenantSeries {
			t = otherTenants
		}
		want[t]++
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for t := range m.staleSet {
		if _, ok := want[t]; !ok {
			m.stale.DeleteLabelValues(t)
		}
	}
	for t, n := range want {
		m.stale.WithLabelValues(t).Set(n)
	}
	m.staleSet = want
}
