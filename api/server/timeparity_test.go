package server_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// TestYearOneTimeIsRefusedOnBothAPIs: an attempt's time of
// 0001-01-01T00:00:00Z (a backfill client's zero timestamp) is refused
// naming the field, over gRPC as over HTTP. Over gRPC it was converted to
// time.Time's zero, which the engine takes for a time not given: the
// attempt was decided and stamped with the clock. Outcomes likewise.
func TestYearOneTimeIsRefusedOnBothAPIs(t *testing.T) {
	ts := startServer(t, testOpts{})
	risk := pb.NewRiskServiceClient(ts.grpcConn(t))
	ctx := context.Background()
	yearOne := &timestamppb.Timestamp{Seconds: -62135596800}
	if !yearOne.AsTime().IsZero() {
		t.Fatalf("the test's timestamp is %v, want time.Time's zero", yearOne.AsTime())
	}

	_, err := risk.Score(ctx, &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160", Time: yearOne}})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !hasViolation(st, "attempt.time", "year 1") {
		t.Errorf("year 1 over gRPC: %v, want InvalidArgument on attempt.time", st)
	}
	_, err = risk.Report(ctx, &pb.ReportRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160", AttemptId: "a1", Time: yearOne}, Outcome: pb.Outcome_OUTCOME_LOGIN_FAILED})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !hasViolation(st, "attempt.time", "year 1") {
		t.Errorf("year 1 in an outcome's attempt over gRPC: %v, want InvalidArgument on attempt.time", st)
	}
	var e apiError
	if code := httpDo(t, nil, "POST", ts.url("/v1/score"), "", map[string]any{"ip": "81.2.69.160", "time": "0001-01-01T00:00:00Z"}, &e); code != 400 || e.Error.Field != "time" {
		t.Errorf("year 1 over HTTP: %d %+v, want 400 on time", code, e)
	}
	// The field left out is still "now", on both.
	if _, err := risk.Score(ctx, &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160"}}); err != nil {
		t.Errorf("no time over gRPC: %v", err)
	}
}
