package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestKnownSeries: the routes, methods and stages declared have their
// series at 0 before any call, the codes the alerts watch included, so
// that increase() and rate() count their first event; and declaring
// them again, or counting, adds none.
func TestKnownSeries(t *testing.T) {
	m, _ := newMetrics(t, Options{MaxRules: 2})
	m.KnownRoutes("POST /v1/score", "GET /healthz")
	m.KnownMethods("/riskgate.v1.RiskService/Score")
	m.KnownStages([]string{"*geoip.Enricher"}, []string{"device", "location"}, []string{"r1", "r2", "r3"})

	for _, route := range []string{"POST /v1/score", "GET /healthz"} {
		for _, code := range []string{"200", "401", "403", "500", "503", "504"} {
			if v := testutil.ToFloat64(m.httpReqs.WithLabelValues(route, code)); v != 0 {
				t.Errorf("http %s %s = %v", route, code, v)
			}
		}
	}
	// 2 routes x 6 codes, 1 method x 8 codes: WithLabelValues above
	// found them, it did not create them.
	if n := testutil.CollectAndCount(m.httpReqs); n != 12 {
		t.Errorf("%d http series, want 12", n)
	}
	if n := testutil.CollectAndCount(m.grpcReqs); n != 1+len(AlertedGRPCCodes) {
		t.Errorf("%d grpc series, want %d", n, 1+len(AlertedGRPCCodes))
	}
	// The latency histograms wait for their first request: they are
	// most of a node's series.
	if n := testutil.CollectAndCount(m.httpDur) + testutil.CollectAndCount(m.grpcDur); n != 0 {
		t.Errorf("%d latency histograms before any request, want 0", n)
	}
	// One enricher, two signals, two rules under their cap of 2 and
	// the third's "other", where it counts when it fails.
	if n := testutil.CollectAndCount(m.signalErrs); n != 6 {
		t.Errorf("%d stage series, want 6", n)
	}
	if v := testutil.ToFloat64(m.signalErrs.WithLabelValues("rule", Other)); v != 0 {
		t.Errorf("rule other = %v", v)
	}

	m.KnownRoutes("POST /v1/score")
	m.HTTP("POST /v1/score", 500, 0)
	m.GRPC("/riskgate.v1.RiskService/Score", "Internal", 0)
	if n := testutil.CollectAndCount(m.httpReqs); n != 12 {
		t.Errorf("%d http series after calls, want 12", n)
	}
	if n := testutil.CollectAndCount(m.grpcReqs); n != 1+len(AlertedGRPCCodes) {
		t.Errorf("%d grpc series after calls, want %d", n, 1+len(AlertedGRPCCodes))
	}
	if v := testutil.ToFloat64(m.httpReqs.WithLabelValues("POST /v1/score", "500")); v != 1 {
		t.Errorf("http 500 = %v, want 1", v)
	}
	if n := testutil.CollectAndCount(m.httpDur) + testutil.CollectAndCount(m.grpcDur); n != 2 {
		t.Errorf("%d latency histograms after a call on each, want 2", n)
	}
}
