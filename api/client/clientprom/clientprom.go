// Package clientprom exports the riskgate client's metrics to Prometheus:
// an Observer for client.Options that counts calls, failovers by cause,
// sends, and the circuit breaker's state. It is apart from package client so
// that identity servers without Prometheus do not link it. The metrics
// and their labels are listed in package client's documentation (Metrics).
//
//	m, err := clientprom.New(prometheus.DefaultRegisterer)
//	c, err := client.New(client.Options{Target: "riskgate:9090", Failover: client.StepUp, Observer: m})
//
// Several clients in one process share the metrics: pass one Metrics to
// each, or call New again on the same registry (each part of the program
// setting up its own client), which counts into the collectors the first
// call registered.
package clientprom

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/riskgate/riskgate/api/client"
)

// Metrics is a client.Observer feeding Prometheus collectors.
type Metrics struct {
	calls     *prometheus.CounterVec
	failovers *prometheus.CounterVec
	tries     *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	breakers  *breakers
}

var _ client.Observer = (*Metrics)(nil)

// durationBuckets are riskgate_client_call_duration_seconds' buckets.
var durationBuckets = []float64{.0002, .0005, .001, .002, .005, .01, .02, .05, .1, .25, 1}

// New registers the client's metrics with reg. On a registry that has
// them already, from an earlier New, it uses those: the clients of both
// count into the same series (a second registration was an error, so a
// process with two clients could export the metrics of one). A collector
// of one of these names that is not what New registers (another type,
// other labels, help or buckets, or only some of the breaker's two
// metrics) is an error, and New then leaves reg as it found it.
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
			Buckets: durationBuckets,
		}, []string{"op"}),
		breakers: &breakers{},
	}
	var (
		r   = registrar{reg: reg}
		err error
	)
	if m.calls, err = register(&r, "riskgate_client_calls_total", m.calls); err == nil {
		if m.failovers, err = register(&r, "riskgate_client_failovers_total", m.failovers); err == nil {
			if m.tries, err = register(&r, "riskgate_client_requests_total", m.tries); err == nil {
				if m.duration, err = register(&r, "riskgate_client_call_duration_seconds", m.duration); err == nil {
					err = sameBuckets(m.duration)
				}
				if err == nil {
					m.breakers, err = register(&r, "riskgate_client_breaker_state and riskgate_client_breaker_opened_total", m.breakers)
				}
			}
		}
	}
	if err != nil {
		r.undo()
		return nil, fmt.Errorf("clientprom: %w", err)
	}
	// Series exist from the start, so that rate() and alerts see a zero.
	for _, op := range []string{"score", "report"} {
		m.calls.WithLabelValues(op, "ok")
		m.tries.WithLabelValues(op)
		m.duration.WithLabelValues(op)
		for _, c := range client.Causes {
			m.calls.WithLabelValues(op, string(c))
		}
	}
	return m, nil
}

// registrar registers collectors, remembering the ones it registered (not
// those found registered already) so that a New that fails half way can
// take them back.
type registrar struct {
	reg   prometheus.Registerer
	added []prometheus.Collector
}

func (r *registrar) undo() {
	for _, c := range r.added {
		r.reg.Unregister(c)
	}
}

// register registers c, or returns the collector of the same
// descriptions registered already when it is of c's type.
func register[C prometheus.Collector](r *registrar, name string, c C) (C, error) {
	err := r.reg.Register(c)
	if err == nil {
		r.added = append(r.added, c)
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		return c, err // other labels or help, or a part of the set
	}
	existing, ok := are.ExistingCollector.(C)
	if !ok {
		return c, fmt.Errorf("%s: registered already as a %T, not a %T", name, are.ExistingCollector, c)
	}
	return existing, nil
}

// sameBuckets refuses a duration histogram registered already with other
// buckets than durationBuckets: the registry tells histograms apart by
// name, labels and help only, and two sets of buckets in one series would
// make its quantiles wrong. It reads a series the histogram has (an
// earlier New made both ops'), or makes one and, when the buckets differ,
// takes it back, leaving another's histogram as it was.
func sameBuckets(h *prometheus.HistogramVec) error {
	ch := make(chan prometheus.Metric)
	go func() { h.Collect(ch); close(ch) }()
	var series prometheus.Metric
	for m := range ch {
		if series == nil {
			series = m
		}
	}
	made := series == nil
	if made {
		series = h.WithLabelValues("score").(prometheus.Metric)
	}
	var d dto.Metric
	if err := series.Write(&d); err != nil {
		return fmt.Errorf("riskgate_client_call_duration_seconds: %w", err)
	}
	var have []float64
	for _, b := range d.GetHistogram().GetBucket() {
		have = append(have, b.GetUpperBound())
	}
	if !slices.Equal(have, durationBuckets) {
		if made {
			h.DeleteLabelValues("score")
		}
		return fmt.Errorf("riskgate_client_call_duration_seconds: registered already with buckets %v, not %v", have, durationBuckets)
	}
	return nil
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

// BreakerChanged records a breaker's new state.
func (m *Metrics) BreakerChanged(from, to client.BreakerState) {
	m.breakers.changed(from, to)
}

var (
	breakerStateDesc = prometheus.NewDesc("riskgate_client_breaker_state",
		"The circuit breaker: 0 closed, 1 half-open, 2 open (logins get the failover action); with several clients, the worst of their breakers.", nil, nil)
	breakerOpenedDesc = prometheus.NewDesc("riskgate_client_breaker_opened_total",
		"Times the circuit breaker opened.", nil, nil)
)

// breakers are the circuit breakers of every client counting into one
// registry: one Metrics given to several clients, or several from New on
// one registry, share it. The state exported is the worst of theirs: a
// gauge set by each client's changes said what the last one to change
// said, so that a client's breaker closing hid another's still open (and
// resolved the alert on it). Every breaker starts closed, so counting the
// ones open and half-open from the changes is enough.
type breakers struct {
	mu             sync.Mutex
	open, halfOpen int
	opened         uint64
}

func (b *breakers) changed(from, to client.BreakerState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.add(from, -1)
	b.add(to, 1)
	if to == client.BreakerOpen {
		b.opened++
	}
}

// add counts a breaker into or out of state. Under mu.
func (b *breakers) add(state client.BreakerState, n int) {
	switch state {
	case client.BreakerOpen:
		b.open = max(b.open+n, 0)
	case client.BreakerHalfOpen:
		b.halfOpen = max(b.halfOpen+n, 0)
	}
}

// Describe implements prometheus.Collector.
func (b *breakers) Describe(ch chan<- *prometheus.Desc) {
	ch <- breakerStateDesc
	ch <- breakerOpenedDesc
}

// Collect implements prometheus.Collector.
func (b *breakers) Collect(ch chan<- prometheus.Metric) {
	b.mu.Lock()
	state := client.BreakerClosed
	switch {
	case b.open > 0:
		state = client.BreakerOpen
	case b.halfOpen > 0:
		state = client.BreakerHalfOpen
	}
	opened := b.opened
	b.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(breakerStateDesc, prometheus.GaugeValue, float64(state))
	ch <- prometheus.MustNewConstMetric(breakerOpenedDesc, prometheus.CounterValue, float64(opened))
}
