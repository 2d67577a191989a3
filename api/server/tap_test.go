package server_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// TestGRPCRefusedBeforeItsMessage: a call whose credentials cannot pass is
// refused as its headers arrive, before its message is read. The
// interceptor refused it only once the whole message was in: up to the
// server's 4 MiB, so a client without a token could make the node hold
// that for each stream of each of its connections (128 Scores of 4.1 MB
// took it from 28 to 600 MB). Here the client sends the headers and never
// the message: refused at once, the call ends Unauthenticated (or
// PermissionDenied for the scoring token on an admin method); waiting for
// the message, it ended at its deadline.
func TestGRPCRefusedBeforeItsMessage(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, scoring: scoringToken})
	conn := ts.grpcConn(t)
	for _, tc := range []struct {
		method, token string
		want          codes.Code
	}{
		{pb.RiskService_Score_FullMethodName, "", codes.Unauthenticated},
		{pb.RiskService_Score_FullMethodName, "wrong-token-0123456789abcdef", codes.Unauthenticated},
		{pb.RulesService_Put_FullMethodName, "", codes.Unauthenticated},
		{pb.RulesService_Put_FullMethodName, scoringToken, codes.PermissionDenied},
	} {
		before := ts.metricValue(t, "riskgate_grpc_requests_total", "method", tc.method, "code", tc.want.String())
		// A guard against a hang, not a timing: the refusal comes at once
		// or the call ends here as DeadlineExceeded.
		ctx, cancel := context.WithTimeout(withToken(context.Background(), tc.token), 10*time.Second)
		st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, tc.method)
		if err == nil {
			var out pb.Decision
			err = st.RecvMsg(&out) // no message sent
		}
		cancel()
		if status.Code(err) != tc.want {
			t.Errorf("%s with token %q and no message: %v, want %v before the message", tc.method, tc.token, err, tc.want)
		}
		// Counted as the interceptor's refusals are: the auth refusals'
		// alert reads this series.
		if after := ts.metricValue(t, "riskgate_grpc_requests_total", "method", tc.method, "code", tc.want.String()); after != before+1 {
			t.Errorf("%s with token %q: riskgate_grpc_requests_total{code=%q} %v → %v, want one more", tc.method, tc.token, tc.want, before, after)
		}
	}
	// With the right token the call waits for its message, as any does.
	ctx, cancel := context.WithTimeout(withToken(context.Background(), scoringToken), 300*time.Millisecond)
	defer cancel()
	st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, pb.RiskService_Score_FullMethodName)
	if err == nil {
		var out pb.Decision
		err = st.RecvMsg(&out)
	}
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Score with the scoring token and no message: %v, want it to wait for the message (DeadlineExceeded)", err)
	}
}

// TestRefusedCallsAreNotTimed: a call refused on its credentials, before
// its request is read, is counted in the requests' counter but not in
// their duration histogram, over gRPC and HTTP alike. It was timed 0 s
// over gRPC (and at its microsecond of hashing over HTTP): a client with
// an expired token filled the lowest bucket, and the 99th percentile of
// the scoring calls that RiskgateScoringCallsSlow reads fell under its
// threshold however slow the calls served were. A call served is timed.
func TestRefusedCallsAreNotTimed(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, scoring: scoringToken})
	conn := ts.grpcConn(t)
	score := `{"ip":"81.2.69.160","user_id":"u-1"}`
	grpcCall := func(method, token string) codes.Code {
		var in, out any = &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160", UserId: "u-1"}}, &pb.Decision{}
		if method == pb.RulesService_Get_FullMethodName {
			in, out = &pb.GetRulesRequest{}, &pb.Ruleset{}
		}
		return status.Code(conn.Invoke(withToken(context.Background(), token), method, in, out))
	}
	httpCall := func(route, token string) int {
		method, path, _ := strings.Cut(route, " ")
		return httpDo(t, nil, method, ts.url(path), token, score, nil)
	}
	for _, tc := range []struct {
		name, endpoint, token string
		want                  string // the code counted
		timed                 bool
	}{
		{"grpc Score, no token", pb.RiskService_Score_FullMethodName, "", "Unauthenticated", false},
		{"grpc Score, a wrong token", pb.RiskService_Score_FullMethodName, "wrong-token-0123456789abcdef", "Unauthenticated", false},
		{"grpc rules Get, the scoring token", pb.RulesService_Get_FullMethodName, scoringToken, "PermissionDenied", false},
		{"grpc Score, served", pb.RiskService_Score_FullMethodName, scoringToken, "OK", true},
		{"http score, no token", "POST /v1/score", "", "401", false},
		{"http rules, the scoring token", "GET /v1/rules", scoringToken, "403", false},
		{"http score, served", "POST /v1/score", scoringToken, "200", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			overGRPC := strings.HasPrefix(tc.endpoint, "/")
			counter, hist, label := "riskgate_http_requests_total", "riskgate_http_request_duration_seconds", "route"
			if overGRPC {
				counter, hist, label = "riskgate_grpc_requests_total", "riskgate_grpc_request_duration_seconds", "method"
			}
			calls := ts.metricValue(t, counter, label, tc.endpoint, "code", tc.want)
			timed := ts.metricValue(t, hist, label, tc.endpoint)
			var got string
			if overGRPC {
				got = grpcCall(tc.endpoint, tc.token).String()
			} else {
				got = strconv.Itoa(httpCall(tc.endpoint, tc.token))
			}
			if got != tc.want {
				t.Fatalf("answered %s, want %s", got, tc.want)
			}
			if after := ts.metricValue(t, counter, label, tc.endpoint, "code", tc.want); after != calls+1 {
				t.Errorf("%s{code=%q}: %v → %v, want one more", counter, tc.want, calls, after)
			}
			want := timed
			if tc.timed {
				want++
			}
			if after := ts.metricValue(t, hist, label, tc.endpoint); after != want {
				t.Errorf("%s count: %v → %v, want %v", hist, timed, after, want)
			}
		})
	}
}
