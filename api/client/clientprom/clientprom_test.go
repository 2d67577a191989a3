package clientprom_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/riskgate/riskgate/api/client"
	"github.com/riskgate/riskgate/api/client/clientprom"
)

// TestFailoverMetrics: failovers and the breaker show in the metrics with
// their cause. riskgate is a port nothing listens on.
func TestFailoverMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := clientprom.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	c, err := client.New(client.Options{
		Target: addr, Failover: client.Deny, Timeout: time.Minute, Observer: m, MaxTries: 1,
		Breaker: client.BreakerOptions{Failures: 2, OpenFor: time.Hour}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 5 {
		c.BeforePassword(context.Background(), client.Attempt{IP: "192.0.2.1"})
	}
	want := `
# HELP riskgate_client_failovers_total Logins that got the failover action because riskgate did not decide, by cause and action.
# TYPE riskgate_client_failovers_total counter
riskgate_client_failovers_total{action="deny",cause="circuit_open"} 3
riskgate_client_failovers_total{action="deny",cause="unavailable"} 2
# HELP riskgate_client_breaker_state The circuit breaker: 0 closed, 1 half-open, 2 open (logins get the failover action); with several clients, the worst of their breakers.
# TYPE riskgate_client_breaker_state gauge
riskgate_client_breaker_state 2
# HELP riskgate_client_breaker_opened_total Times the circuit breaker opened.
# TYPE riskgate_client_breaker_opened_total counter
riskgate_client_breaker_opened_total 1
# HELP riskgate_client_requests_total Requests sent to riskgate, retries included.
# TYPE riskgate_client_requests_total counter
riskgate_client_requests_total{op="report"} 0
riskgate_client_requests_total{op="score"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "riskgate_client_failovers_total",
		"riskgate_client_breaker_state", "riskgate_client_breaker_opened_total", "riskgate_client_requests_total"); err != nil {
		t.Error(err)
	}
}

// deadTarget is an address nothing listens on: every call fails over as
// unavailable.
func deadTarget(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestSecondNewShares: a second New on the same registry (two clients in
// one process, each set up by its own code) counts into the collectors
// the first registered, where it was an error; the registry exports the
// two clients' calls as one set of series.
func TestSecondNewShares(t *testing.T) {
	reg := prometheus.NewRegistry()
	target := deadTarget(t)
	for i, scores := range []int{2, 3} {
		m, err := clientprom.New(reg)
		if err != nil {
			t.Fatalf("New #%d: %v", i+1, err)
		}
		c, err := client.New(client.Options{
			Target: target, Failover: client.Deny, Timeout: time.Minute, Observer: m, MaxTries: 1,
			Breaker: client.BreakerOptions{Failures: 10}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		for range scores {
			c.BeforePassword(context.Background(), client.Attempt{IP: "192.0.2.1"})
		}
		c.Close()
	}
	want := `
# HELP riskgate_client_failovers_total Logins that got the failover action because riskgate did not decide, by cause and action.
# TYPE riskgate_client_failovers_total counter
riskgate_client_failovers_total{action="deny",cause="unavailable"} 5
# HELP riskgate_client_requests_total Requests sent to riskgate, retries included.
# TYPE riskgate_client_requests_total counter
riskgate_client_requests_total{op="report"} 0
riskgate_client_requests_total{op="score"} 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "riskgate_client_failovers_total", "riskgate_client_requests_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "riskgate_client_call_duration_seconds"); err != nil || n != 2 {
		t.Errorf("duration series: %d, %v; want 2 (score and report, shared)", n, err)
	}
}

// TestBreakerStateIsTheWorst: clients sharing the metrics (one Metrics, or
// two from New on one registry) export the worst of their breakers: one
// client's breaker closing does not hide another's still open, as a gauge
// set by the last change did.
func TestBreakerStateIsTheWorst(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := clientprom.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := clientprom.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	const (
		closed   = client.BreakerClosed
		halfOpen = client.BreakerHalfOpen
		open     = client.BreakerOpen
	)
	steps := []struct {
		name     string
		m        *clientprom.Metrics
		from, to client.BreakerState
		want     float64
	}{
		{"a opens", a, closed, open, 2},
		{"b opens", b, closed, open, 2},
		{"b half-open, a still open", b, open, halfOpen, 2},
		{"b closes, a still open", b, halfOpen, closed, 2},
		{"a half-open", a, open, halfOpen, 1},
		{"a closes", a, halfOpen, closed, 0},
		// One Metrics given to two clients: each's changes are counted.
		{"a's first client opens", a, closed, open, 2},
		{"a's second client opens", a, closed, open, 2},
		{"a's first client closes", a, open, closed, 2},
		{"a's second client closes", a, open, closed, 0},
	}
	for _, s := range steps {
		s.m.BreakerChanged(s.from, s.to)
		got, err := gatherValue(reg, "riskgate_client_breaker_state")
		if err != nil || got != s.want {
			t.Fatalf("after %s: riskgate_client_breaker_state %v (%v), want %v", s.name, got, err, s.want)
		}
	}
	if got, err := gatherValue(reg, "riskgate_client_breaker_opened_total"); err != nil || got != 4 {
		t.Errorf("riskgate_client_breaker_opened_total %v (%v), want 4", got, err)
	}
}

// gatherValue is the value of the one series of name in reg.
func gatherValue(reg prometheus.Gatherer, name string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if m.GetGauge() != nil {
			return m.GetGauge().GetValue(), nil
		}
		return m.GetCounter().GetValue(), nil
	}
	return 0, fmt.Errorf("%s: no single series", name)
}

// TestNewRefusesOtherShapes: a collector registered under one of the
// client's names that is not what New registers is still an error, and
// New leaves the registry as it found it (what it registered before
// finding the conflict taken back, nothing added to the other collector).
func TestNewRefusesOtherShapes(t *testing.T) {
	cases := []struct {
		name  string
		other prometheus.Collector
		want  string // in the error
	}{
		{"a gauge for a counter", prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "riskgate_client_calls_total",
			Help: `Calls to riskgate by operation and result: "ok", or the cause of the failure.`,
		}, []string{"op", "result"}), "riskgate_client_calls_total: registered already as a *prometheus.GaugeVec"},
		{"other labels", prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_client_requests_total", Help: "Requests sent to riskgate, retries included.",
		}, []string{"operation"}), "different label names"},
		{"other help", prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "riskgate_client_failovers_total", Help: "Failovers.",
		}, []string{"cause", "action"}), "different help"},
		{"other buckets", prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "riskgate_client_call_duration_seconds",
			Help:    "Duration of calls to riskgate as the login saw it, retries and failovers included.",
			Buckets: prometheus.DefBuckets,
		}, []string{"op"}), "riskgate_client_call_duration_seconds: registered already with buckets"},
		{"the breaker's state alone, as a gauge", prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "riskgate_client_breaker_state",
			Help: "The circuit breaker: 0 closed, 1 half-open, 2 open (logins get the failover action); with several clients, the worst of their breakers.",
		}), "riskgate_client_breaker_state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(c.other)
			before, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := clientprom.New(reg); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want an error with %q", err, c.want)
			}
			after, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("New changed the registry it refused:\nbefore %v\nafter  %v", before, after)
			}
			// What New registered before the conflict was taken back:
			// each of its collectors can be registered again.
			if err := reg.Register(prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "riskgate_client_calls_total",
				Help: `Calls to riskgate by operation and result: "ok", or the cause of the failure.`,
			}, []string{"op", "result"})); err != nil && c.name != "a gauge for a counter" {
				t.Errorf("riskgate_client_calls_total left registered: %v", err)
			}
		})
	}
}

// TestMetricsDocumented: every metric the Observer registers is listed,
// with its labels, in package client's documentation.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../doc.go")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingRegisterer{}
	if _, err := clientprom.New(rec); err != nil {
		t.Fatal(err)
	}
	descs := make(chan *prometheus.Desc, 64)
	for _, c := range rec.collectors {
		c.Describe(descs)
	}
	close(descs)
	re := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	n := 0
	for d := range descs {
		m := re.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("unexpected description %s", d)
		}
		want := m[1]
		if m[2] != "" {
			want += "{" + strings.ReplaceAll(m[2], ",", ", ") + "}"
		}
		if !strings.Contains(string(doc), "//   - "+want+":") {
			t.Errorf("metric %s is not listed in api/client/doc.go", want)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no metrics registered")
	}
}

// recordingRegisterer keeps what is registered.
type recordingRegisterer struct{ collectors []prometheus.Collector }

func (r *recordingRegisterer) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}

func (r *recordingRegisterer) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}

func (r *recordingRegisterer) Unregister(prometheus.Collector) bool { return false }
