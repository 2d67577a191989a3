package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/grpcapi"
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

// TestUnmatchedGRPCCallsCounted: calls of a method the server does not
// serve are answered Unimplemented, as grpc-go answers them, and counted
// in riskgate_grpc_requests_total under method="unmatched": grpc-go
// answered them before any interceptor ran, so an identity server built
// against another version of the API (each of its logins failing over)
// left no trace in /metrics. Whatever the caller's credentials (a node
// with a scoring token, called without it, says no more than
// Unimplemented), and in one series however many names callers invent.
func TestUnmatchedGRPCCallsCounted(t *testing.T) {
	ts := startServer(t, testOpts{scoring: "scoring-token-0123456789abcdef"})
	conn := ts.grpcConn(t)
	cases := []struct{ method, message string }{
		{"/riskgate.v1.RiskService/ScoreBatch", "unknown method ScoreBatch for service riskgate.v1.RiskService"},
		{"/riskgate.v2.RiskService/Score", "unknown service riskgate.v2.RiskService"},
	}
	for _, c := range cases {
		err := conn.Invoke(t.Context(), c.method, &emptypb.Empty{}, &emptypb.Empty{})
		if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != c.message {
			t.Errorf("%s: %v, want Unimplemented %q", c.method, err, c.message)
		}
	}
	if got := ts.metricValue(t, "riskgate_grpc_requests_total", "method", grpcapi.Unmatched, "code", "Unimplemented"); got != 2 {
		t.Errorf("riskgate_grpc_requests_total{method=%q, code=Unimplemented} = %v, want 2", grpcapi.Unmatched, got)
	}
	// The served methods are still checked: Score without the token.
	err := conn.Invoke(t.Context(), pb.RiskService_Score_FullMethodName, &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "192.0.2.1"}}, &pb.Decision{})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("Score without the scoring token: %v", err)
	}
	before := ts.seriesCount(t, "riskgate_grpc_requests_total")
	for i := range 500 {
		_ = conn.Invoke(t.Context(), fmt.Sprintf("/scan.Service%d/M%d", i, i), &emptypb.Empty{}, &emptypb.Empty{})
	}
	if after := ts.seriesCount(t, "riskgate_grpc_requests_total"); after != before {
		t.Errorf("500 unknown methods took riskgate_grpc_requests_total from %d series to %d", before, after)
	}
	if got := ts.metricValue(t, "riskgate_grpc_requests_total", "method", grpcapi.Unmatched, "code", "Unimplemented"); got != 502 {
		t.Errorf("after the scan: %v counted, want 502", got)
	}
}
