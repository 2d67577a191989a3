// Package metricset bundles a component's metrics into one
// prometheus.Collector, so that each package exports its metrics beside
// what they measure (geoip, iplist, breached, redisstore) and the
// assembly registers them on the registry it was given, without knowing
// what they are. Refusals is what a reloaded file's reload metrics are
// read from, one type for every kind of file.
package metricset

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Set is several collectors collected as one.
type Set []prometheus.Collector

// Describe implements prometheus.Collector.
func (s Set) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range s {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (s Set) Collect(ch chan<- prometheus.Metric) {
	for _, c := range s {
		c.Collect(ch)
	}
}

// Counter is a counter read at scrape time from a component's own count,
// so that nothing on its hot path changes for the metric's sake.
func Counter(name, help string, value func() float64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, value)
}

// Gauge is a gauge read at scrape time.
func Gauge(name, help string, value func() float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, value)
}

// ReloadSuccess is the value of a last_reload_success gauge: 0 while a
// file's last reload failed, none succeeding since, else 1.
func ReloadSuccess(failing bool) float64 {
	if failing {
		return 0
	}
	return 1
}

// Refusals is a reloaded file's record of its reloads refused: how many,
// and whether the last one was, none succeeding since (what its
// last_reload_success gauge says). The zero value is ready for use.
type Refusals struct {
	failures atomic.Uint64
	failing  atomic.Bool
}

// Record counts a reload's outcome and passes its error on.
func (r *Refusals) Record(err error) error {
	if err != nil {
		r.failures.Add(1)
	}
	r.failing.Store(err != nil)
	return err
}

// Reverted clears the failure of a file put back as the version in force.
func (r *Refusals) Reverted() { r.failing.Store(false) }

// Failures counts the reloads refused.
func (r *Refusals) Failures() uint64 { return r.failures.Load() }

// Failing reports whether the last reload was refused, none succeeding
// since.
func (r *Refusals) Failing() bool { return r.failing.Load() }
