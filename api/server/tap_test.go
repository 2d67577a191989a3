package server_test

import (
	"context"
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
