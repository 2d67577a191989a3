package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/api/httpapi"
)

// TestUnmatchedRequestsCounted: requests that no route takes are counted
// in riskgate_http_requests_total under route="unmatched", by their
// status: an identity server calling a wrong path or method (each of its
// logins failing over) left no trace in /metrics. One series a status,
// however many paths callers invent: 2,000 distinct unknown paths add
// none. On the HTTP listener and on a metrics listener apart alike.
func TestUnmatchedRequestsCounted(t *testing.T) {
	for _, apart := range []bool{false, true} {
		t.Run(fmt.Sprintf("metrics apart %v", apart), func(t *testing.T) {
			ts := startServer(t, testOpts{metricsApart: apart})
			cases := []struct {
				addr, method, path string
				code               int
			}{
				{ts.addrs.HTTP, "GET", "/v1/score", 405},      // the method
				{ts.addrs.HTTP, "GET", "/v1/scores", 404},     // the path
				{ts.addrs.HTTP, "GET", "/v1/users//u-1", 400}, // not clean
			}
			if apart {
				cases = append(cases, struct {
					addr, method, path string
					code               int
				}{ts.addrs.Metrics, "GET", "/metricz", 404})
			}
			for _, c := range cases {
				for range 3 {
					if got := request(t, c.method, "http://"+c.addr+c.path); got != c.code {
						t.Fatalf("%s %s: %d, want %d", c.method, c.path, got, c.code)
					}
				}
			}
			want := map[string]float64{}
			for _, c := range cases {
				want[fmt.Sprint(c.code)] += 3
			}
			for code, n := range want {
				if got := ts.metricValue(t, "riskgate_http_requests_total", "route", httpapi.Unmatched, "code", code); got != n {
					t.Errorf("riskgate_http_requests_total{route=%q, code=%q} = %v, want %v", httpapi.Unmatched, code, got, n)
				}
			}
			// Bounded: a scanner's paths are one series.
			before := ts.seriesCount(t, "riskgate_http_requests_total")
			for i := range 2000 {
				request(t, "GET", fmt.Sprintf("http://%s/scan/%d", ts.addrs.HTTP, i))
			}
			if after := ts.seriesCount(t, "riskgate_http_requests_total"); after != before {
				t.Errorf("2,000 unknown paths took riskgate_http_requests_total from %d series to %d", before, after)
			}
			if got := ts.metricValue(t, "riskgate_http_requests_total", "route", httpapi.Unmatched, "code", "404"); got < 2000 {
				t.Errorf("the scanner's 404s: %v counted", got)
			}
		})
	}
}

func request(t *testing.T, method, url string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// seriesCount is the number of series of a metric the server exports.
func (ts *testServer) seriesCount(t *testing.T, name string) int {
	t.Helper()
	mfs, err := ts.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}
