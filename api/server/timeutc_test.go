package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// TestDecisionTimeIsUTC: an attempt dated with an offset gets a decision
// dated in UTC on both transports, the same instant: the HTTP answer
// echoed the caller's "+02:00" where gRPC's Timestamp is UTC.
func TestDecisionTimeIsUTC(t *testing.T) {
	ts := startServer(t, testOpts{})
	at := time.Now().Add(-time.Hour).Truncate(time.Millisecond).In(time.FixedZone("", 2*3600))
	var d struct {
		Time string `json:"time"`
	}
	attempt := map[string]any{"ip": "81.2.69.160", "user_id": "u-utc", "time": at.Format(time.RFC3339Nano)}
	if code := httpDo(t, nil, "POST", ts.url("/v1/score?omit_signals=true"), "", attempt, &d); code != 200 {
		t.Fatalf("score: %d", code)
	}
	got, err := time.Parse(time.RFC3339Nano, d.Time)
	if err != nil || !strings.HasSuffix(d.Time, "Z") || !got.Equal(at) {
		t.Errorf("HTTP decision time %q (%v), want %s", d.Time, err, at.UTC().Format(time.RFC3339Nano))
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g, err := pb.NewRiskServiceClient(ts.grpcConn(t)).Score(ctx, &pb.ScoreRequest{
		Attempt: &pb.Attempt{Ip: "81.2.69.160", UserId: "u-utc-2", Time: timestamppb.New(at)}, OmitSignals: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if gt := g.Time.AsTime().Format(time.RFC3339Nano); gt != d.Time {
		t.Errorf("gRPC decision time %s, HTTP %s", gt, d.Time)
	}
}
