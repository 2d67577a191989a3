package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/redistest"
)

// TestServeJSONLogsWithRedisDown (issue 10 item 15): with --log-format
// json every line serve writes is a JSON record, go-redis's own lines (a
// pool that cannot dial) included, when Redis dies under it.
func TestServeJSONLogsWithRedisDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	rds := redistest.Start(t)
	bin := buildBinary(t)
	env := []string{"RISKGATE_HMAC_SECRET=redis-test-secret-0123456789"}
	p := startBinary(t, bin, env, "--store", rds.URL, "--log-format", "json")
	score := func() int {
		resp, err := http.Post("http://"+p.http+"/v1/score", "application/json",
			strings.NewReader(`{"user_id":"frank","ip":"81.2.69.160","result":"password_ok"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := score(); code != 200 {
		t.Fatalf("score: %d", code)
	}
	rds.Kill()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.logs(), `"component":"go-redis"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no go-redis record after Redis died:\n%s", p.logs())
		}
		if code := score(); code != 200 {
			t.Fatalf("score with Redis down: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := p.stop(t); code != 0 {
		t.Logf("exit %d with Redis down", code)
	}
	for i, l := range strings.Split(strings.TrimSpace(p.logs()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("line %d is not JSON: %q", i+1, l)
		}
	}
}
