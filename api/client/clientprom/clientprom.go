// Package clientprom exports the riskgate client's metrics to Prometheus:
// an Observer for client.Options that counts calls, failovers by cause,
// sends, and the circuit breaker's state. It is apart from package client so
// that identity servers without Prometheus do not link it. The metrics
// and their labels are listed in package client's documentation (Metrics).
//
//	m, err := clientprom.New(prometheus.DefaultRegisterer)
//	c, err := client.New(client.Options{Target: "riskgate:9090", Failover: client.StepUp, Observer: m})
package clientprom

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/api/client"
)

// Metrics is a client.Observer feeding Prometheus collectors.
type Metrics struct {
	calls         *prometheus.CounterVec
	failovers     *prometheus.CounterVec
	tries         *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	breaker       prometheus.Gauge
	breakerOpened prometheus.Counter
}

var _ client.Observer = (*Metrics)(nil)

// New registers the client's metrics with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_client_calls_total",
			Help: `Calls to riskgate by operation and result: "ok", or the cause of the failure.`,
		}, []string{"op", "result"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_client_failovers_total",
			Help: "Logins that got the failover action because riskgate did not decide, by cause and action.",
		}, []string{"cause", "action"}),
		tries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_client_requests_total",
			Help: "Requests sent to riskgate, retries included.",
		}, []string{"op"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "riskgate_client_call_duration_seconds",
			Help:    "Duration of calls to riskgate as the login saw it, retries and failovers included.",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .02, .05, .1, .25, 1},
		}, []string{"op"}),
		breaker: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "riskgate_client_breaker_state",
			Help: "The circuit breaker: 0 closed, 1 half-open, 2 open (logins get the failover action).",
		}),
		breakerOpened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "riskgate_client_breaker_opened_total",
			Help: "Times the circuit breaker opened.",
		}),
	}
	for _, c := range []prometheus.Collector{m.calls, m.failovers, m.tries, m.duration, m.breaker, m.breakerOpened} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("clientprom: %w", err)
		}
	}
	// Series exist from the start, so that rate() and alerts see a zero.
	for _, op := range []string{"score", "report"} {
		m.calls.WithLabelValues(op, "ok")
		m.tries.WithLabelValues(op)
		for _, c := range client.Causes {
			m.calls.WithLabelValues(op, string(c))
		}
	}
	return m, nil
}

// CallDone counts a finished call.
func (m *Metrics) CallDone(c client.Call) {
	result := "ok"
	if c.Cause != "" {
		result = string(c.Cause)
	}
	m.calls.WithLabelValues(c.Op, result).Inc()
	m.tries.WithLabelValues(c.Op).Add(float64(c.Tries))
	m.duration.WithLabelValues(c.Op).Observe(c.Duration.Seconds())
	if c.Failover {
		m.failovers.WithLabelValues(string(c.Cause), c.Action.String()).Inc()
	}
}

// BreakerChanged records the breaker's new state.
func (m *Metrics) BreakerChanged(_, to client.BreakerState) {
	m.breaker.Set(float64(to))
	if to == client.BreakerOpen {
		m.breakerOpened.Inc()
	}
}
