package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/node"
)

// TestServeRedisDownAtStart (issue 10 item 3): a Redis that does not
// answer at start-up does not stop serve. The node starts, decides without
// state, stays ready (/readyz 200, gRPC overall health SERVING) while the
// store's own health (riskgate_store_up, the riskgate.store health service)
// says it is down; once redis-server starts on that port, the store
// connects in the background and state is used.
func TestServeRedisDownAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	rds := redistest.Start(t)
	rds.Kill() // a port where nothing answers
	bin := buildBinary(t)
	admin := strings.Repeat("a", 20)
	env := []string{"RISKGATE_HMAC_SECRET=redis-test-secret-0123456789", "RISKGATE_ADMIN_TOKEN=" + admin}
	p := startBinary(t, bin, env, "--store", rds.URL)

	score := func() {
		t.Helper()
		resp, err := http.Post("http://"+p.http+"/v1/score", "application/json",
			strings.NewReader(`{"user_id":"erin","ip":"81.2.69.160","device_id":"d","result":"password_ok","geo":{"country":"GB"}}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("score: %d\n%s", resp.StatusCode, p.logs())
		}
	}
	storeUp := func() string {
		t.Helper()
		resp, err := http.Get("http://" + p.http + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "riskgate_store_up "); ok {
				return v
			}
		}
		t.Fatalf("no riskgate_store_up in /metrics")
		return ""
	}
	conn, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	health := func(svc string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("health %q: %v", svc, err)
		}
		return r.Status
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, p.logs())
			}
		}
	}

	score()
	score()
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if code := get(t, "http://"+p.http+"/readyz", "", &ready); code != 200 || ready.Checks["store"] != "unavailable" {
		t.Fatalf("readyz with Redis down: %d %+v", code, ready)
	}
	if v := storeUp(); v != "0" {
		t.Fatalf("riskgate_store_up with Redis down: %s", v)
	}
	waitFor("gRPC health", func() bool {
		return health("") == healthpb.HealthCheckResponse_SERVING && health(node.StoreHealthService) == healthpb.HealthCheckResponse_NOT_SERVING
	})
	var prof struct {
		Logins int `json:"logins"`
	}
	if code := get(t, "http://"+p.http+"/v1/users/default/erin", admin, &prof); code == 200 {
		t.Fatalf("profile with Redis down: %d %+v", code, prof)
	}

	rds.Restart()
	waitFor("riskgate_store_up 1", func() bool { return storeUp() == "1" })
	score()
	score()
	if code := get(t, "http://"+p.http+"/v1/users/default/erin", admin, &prof); code != 200 || prof.Logins != 2 {
		t.Fatalf("profile once Redis is up: %d %+v\n%s", code, prof, p.logs())
	}
	if got, err := rds.Do("EXISTS", "rg:keyid"); err != nil || strings.TrimPrefix(got, ":") != "1" {
		t.Fatalf("key id recorded in the store that came up: %q %v", got, err)
	}
	waitFor("gRPC store health SERVING", func() bool {
		return health(node.StoreHealthService) == healthpb.HealthCheckResponse_SERVING && health("") == healthpb.HealthCheckResponse_SERVING
	})
	if !strings.Contains(p.logs(), "connecting in the background") || !strings.Contains(p.logs(), "decisions use state again") {
		t.Errorf("logs do not tell the outage and the recovery:\n%s", p.logs())
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.logs())
	}
}
