package clientprom_test

import (
	"context"
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
	if _, err := clientprom.New(reg); err == nil {
		t.Error("registering twice was accepted")
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
# HELP riskgate_client_breaker_state The circuit breaker: 0 closed, 1 half-open, 2 open (logins get the failover action).
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
