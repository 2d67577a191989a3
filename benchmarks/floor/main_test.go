package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/internal/redistest"
)

// startFloor runs the floor on free ports and returns its addresses.
func startFloor(t *testing.T, redisURL string) (grpcAddr, httpAddr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", "127.0.0.1:0", redisURL, pw); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("floor: %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	var pid string
	if _, err := fmt.Sscanf(line, "floor: grpc %s http %s pid %s", &grpcAddr, &httpAddr, &pid); err != nil {
		t.Fatalf("first line %q: %v", line, err)
	}
	return grpcAddr, httpAddr
}

func TestFloorAnswersBothAPIs(t *testing.T) {
	for _, withRedis := range []bool{false, true} {
		t.Run(fmt.Sprint("redis=", withRedis), func(t *testing.T) {
			url := ""
			if withRedis {
				url = redistest.Start(t).URL
			}
			grpcAddr, httpAddr := startFloor(t, url)
			cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			d, err := pb.NewRiskServiceClient(cc).Score(context.Background(), &pb.ScoreRequest{Attempt: &pb.Attempt{UserId: "u1", Ip: "81.2.69.160", AttemptId: "a1"}})
			if err != nil || d.GetAction() != pb.Action_ACTION_ALLOW || d.GetAttemptId() != "a1" {
				t.Fatalf("gRPC Score: %v %v", d, err)
			}
			resp, err := http.Post("http://"+httpAddr+"/v1/score", "application/json", strings.NewReader(`{"user_id":"u1","ip":"81.2.69.160","geo":{"country":"FR","lat":1,"lon":2}}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"action":"allow"`) {
				t.Errorf("HTTP Score: %d %s", resp.StatusCode, body)
			}
			resp, err = http.Post("http://"+httpAddr+"/v1/score", "application/json", strings.NewReader(`{"passwd":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("unknown field: HTTP %d, want 400 as riskgate answers", resp.StatusCode)
			}
		})
	}
}
