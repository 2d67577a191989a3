package alert

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons of riskgate_alerts_dropped_total.
const (
	DropQueueFull = "queue_full" // the sink's queue was full
	DropRejected  = "rejected"   // the sink refused the alert for good
	DropShutdown  = "shutdown"   // still queued when the Close deadline passed
	DropClosed    = "closed"     // published after Close
	DropLogRate   = "log_rate"   // past the log sink's --alerts-log-rate, counted in its summary line
	// DropTenantShare: the alert's tenant held its share of the queue
	// (Options.TenantShare) while other tenants alert too.
	DropTenantShare = "tenant_share"
)

// Reasons of riskgate_notifications_evicted_total.
const (
	EvictHoldFull    = "hold_full"     // the oldest held notification, for room
	EvictTenantShare = DropTenantShare // the tenant held its share of the hold
)

type metrics struct {
	sent    *prometheus.CounterVec
	dropped *prometheus.CounterVec
	errors  *prometheus.CounterVec
	reopens *prometheus.CounterVec
	delay   *prometheus.HistogramVec
	queues  *queueCollector

	notified prometheus.Counter // notifications handed to the sinks
	// held notifications dropped unpublished: for room, and past their
	// tenant's share
	evicted                   *prometheus.CounterVec
	evictedFull, evictedShare prometheus.Counter
}

type sinkMetrics struct {
	sent, errors                                     prometheus.Counter
	delay                                            prometheus.Observer
	reopened, reopenFailed                           prometheus.Counter // nil unless the sink reopens a file
	dropLogRate                                      prometheus.Counter // nil unless the sink thins (the log sink)
	dropFull, dropRejected, dropShutdown, dropClosed prometheus.Counter
	dropShare                                        prometheus.Counter // nil without a per-tenant share
}

func newMetrics() *metrics {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_alerts_sent_total",
			Help: "Alerts delivered, by sink.",
		}, []string{"sink"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_alerts_dropped_total",
			Help: "Alerts not delivered, by sink and reason: queue_full, rejected (the sink refused it for good), shutdown (undelivered at the shutdown deadline), closed, log_rate (past the log sink's --alerts-log-rate a second: counted by rule in its summary line instead), tenant_share (its tenant held its --alerts-tenant-share of the queue).",
		}, []string{"sink", "reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_alert_send_errors_total",
			Help: "Failed deliveries to a sink that will be retried.",
		}, []string{"sink"}),
		reopens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_alert_reopens_total",
			Help: "Reopens of an alert file (SIGHUP, or its path no longer named the file open: removed, renamed or replaced), by sink and result: success, or failure (counted once until a reopen succeeds; alerts wait, retried, while the path names no file).",
		}, []string{"sink", "result"}),
		delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "riskgate_alert_delivery_delay_seconds",
			Help:    "Time from an alert's decision (its time) to its delivery to a sink, retries and queueing included, by sink: how late the SOC gets it. Notifications are not counted (they wait for their login's outcome by design).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"sink"}),
		notified: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "riskgate_notifications_published_total",
			Help: "Notification events of completed logins handed to the sinks (each sink counts its deliveries in riskgate_alerts_sent_total).",
		}),
		evicted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_notifications_evicted_total",
			Help: "Notifications awaiting their login's outcome dropped unpublished, by reason: hold_full (too many were held, --alerts-notify-hold-entries: the oldest went), tenant_share (their tenant held its --alerts-tenant-share of the hold: the new one went).",
		}, []string{"reason"}),
		queues: &queueCollector{
			length: prometheus.NewDesc("riskgate_alert_queue_length", "Alerts waiting for a sink.", []string{"sink"}, nil),
			capty:  prometheus.NewDesc("riskgate_alert_queue_capacity", "Size of a sink's alert queue.", []string{"sink"}, nil),
		},
	}
	m.evictedFull = m.evicted.WithLabelValues(EvictHoldFull)
	return m
}

// register registers the metrics of the queues qs on reg (when not nil).
func (m *metrics) register(reg prometheus.Registerer, qs []*queue) error {
	m.queues.qs = qs
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{m.sent, m.dropped, m.errors, m.reopens, m.delay, m.queues, m.notified, m.evicted} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("alert: register metrics: %w", err)
		}
	}
	return nil
}

func (m *metrics) sink(name string) sinkMetrics {
	return sinkMetrics{
		sent:         m.sent.WithLabelValues(name),
		errors:       m.errors.WithLabelValues(name),
		delay:        m.delay.WithLabelValues(name),
		dropFull:     m.dropped.WithLabelValues(name, DropQueueFull),
		dropRejected: m.dropped.WithLabelValues(name, DropRejected),
		dropShutdown: m.dropped.WithLabelValues(name, DropShutdown),
		dropClosed:   m.dropped.WithLabelValues(name, DropClosed),
	}
}

// tenantShareCounter gives a queue held to tenants' shares its drop
// counter.
func (m *metrics) tenantShareCounter(sm *sinkMetrics, name string) {
	sm.dropShare = m.dropped.WithLabelValues(name, DropTenantShare)
}

// logRateCounter gives a sink that thins its alerts (the log sink) its
// drop counter.
func (m *metrics) logRateCounter(sm *sinkMetrics, name string) {
	sm.dropLogRate = m.dropped.WithLabelValues(name, DropLogRate)
}

// reopenCounters gives a sink that reopens its file its reopen counters.
func (m *metrics) reopenCounters(sm *sinkMetrics, name string) {
	sm.reopened = m.reopens.WithLabelValues(name, "success")
	sm.reopenFailed = m.reopens.WithLabelValues(name, "failure")
}

// queueCollector reads queue lengths when scraped, so that the scoring
// path never updates a gauge.
type queueCollector struct {
	length, capty *prometheus.Desc
	qs            []*queue // set before registration
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.length
	ch <- c.capty
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	for _, q := range c.qs {
		name := q.cfg.Sink.Name()
		ch <- prometheus.MustNewConstMetric(c.length, prometheus.GaugeValue, float64(len(q.ch)), name)
		ch <- prometheus.MustNewConstMetric(c.capty, prometheus.GaugeValue, float64(cap(q.ch)), name)
	}
}
