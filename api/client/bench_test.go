package client_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/riskgate/riskgate/api/client"
	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// BenchmarkScore compares a Score through the client (attempt id,
// breaker, deadline, conversion, stats) with the same call on the bare
// generated stub, against the shared riskgate: the floor is the stub.
//
//	go test ./api/client -run '^$' -bench Score -count 6 | benchstat -
func BenchmarkScore(b *testing.B) {
	attempt := client.Attempt{UserID: "u-bench", Username: "bench", IP: "81.2.69.160", DeviceID: "d", UserAgent: chromeUA}
	b.Run("stub", func(b *testing.B) {
		conn, err := grpc.NewClient(shared.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		risk := pb.NewRiskServiceClient(conn)
		req := &pb.ScoreRequest{OmitSignals: true, Attempt: &pb.Attempt{
			Tenant: "bench", UserId: "u-bench", Username: "bench", Ip: "81.2.69.160", DeviceId: "d",
			UserAgent: chromeUA, Result: pb.Result_RESULT_PASSWORD_OK,
		}}
		b.ReportAllocs()
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if _, err := risk.Score(ctx, req); err != nil {
				b.Fatal(err)
			}
			cancel()
		}
	})
	b.Run("client", func(b *testing.B) {
		c, err := client.New(client.Options{Target: shared.GRPC, Failover: client.StepUp, Timeout: time.Second, Tenant: "bench", Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ReportAllocs()
		for b.Loop() {
			if d, err := c.Score(context.Background(), attempt, client.PasswordOK); err != nil || d.Failover {
				b.Fatal(err)
			}
		}
	})
}
