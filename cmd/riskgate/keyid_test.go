package main

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/internal/redistest"
)

func getKey(t *testing.T, rds *redistest.Server, key string) (string, error) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: rds.Addr})
	defer c.Close()
	return c.Get(context.Background(), key).Result()
}

// TestServeRefusesAnotherSecret (issue 10 item 16): the Redis store
// records the key id (key scheme and a fingerprint of the HMAC secret) of
// the state it holds; a node started with another secret refuses to start,
// saying how to rotate, instead of finding every user unknown. State
// written before key ids existed is taken as keyed with scheme 1 under the
// secret that first starts on it.
func TestServeRefusesAnotherSecret(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	const secretA, secretB = "RISKGATE_HMAC_SECRET=key-id-test-secret-A-0123456789", "RISKGATE_HMAC_SECRET=key-id-test-secret-B-0123456789"
	admin := "RISKGATE_ADMIN_TOKEN=" + strings.Repeat("a", 20)
	refused := func(t *testing.T, url, secret string) string {
		t.Helper()
		cmd := exec.Command(bin, "serve", "--store", url, "--http-addr", "127.0.0.1:0", "--grpc-addr", "")
		cmd.Env = append(cmd.Environ(), secret)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "another HMAC secret") || !strings.Contains(string(out), "Rotating the HMAC secret") {
			t.Fatalf("started with another secret: %v\n%s", err, out)
		}
		return string(out)
	}
	t.Run("new store", func(t *testing.T) {
		rds := redistest.Start(t)
		p := startBinary(t, bin, []string{secretA, admin}, "--store", rds.URL)
		if !strings.Contains(p.logs(), "new store: recorded key id v2:") {
			t.Errorf("no key id recorded:\n%s", p.logs())
		}
		req, _ := http.NewRequest("POST", "http://"+p.http+"/v1/score", strings.NewReader(`{"user_id":"erin","ip":"81.2.69.160","result":"password_ok"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("score: %v %v", resp, err)
		}
		resp.Body.Close()
		if code := p.stop(t); code != 0 {
			t.Fatalf("exit %d", code)
		}
		id, err := getKey(t, rds, "rg:keyid")
		if err != nil || !strings.HasPrefix(id, "v2:") {
			t.Fatalf("rg:keyid = %q, %v", id, err)
		}
		out := refused(t, rds.URL, secretB)
		if strings.Contains(out, "key-id-test-secret") {
			t.Errorf("the refusal prints a secret:\n%s", out)
		}
		// The right secret still starts, and the baseline is there.
		p = startBinary(t, bin, []string{secretA, admin}, "--store", rds.URL)
		var prof struct {
			Logins int `json:"logins"`
		}
		if code := get(t, "http://"+p.http+"/v1/users/default/erin", strings.Repeat("a", 20), &prof); code != 200 || prof.Logins != 1 {
			t.Errorf("profile after a restart with the right secret: %d %+v", code, prof)
		}
		p.stop(t)
	})
	t.Run("state from before key ids", func(t *testing.T) {
		rds := redistest.Start(t)
		if _, err := rds.Do("SET", "rg:{t:default:u:00}:profile", "x"); err != nil {
			t.Fatal(err)
		}
		p := startBinary(t, bin, []string{secretA}, "--store", rds.URL)
		if !strings.Contains(p.logs(), "predates key ids") {
			t.Errorf("legacy state not recognised:\n%s", p.logs())
		}
		p.stop(t)
		if id, _ := getKey(t, rds, "rg:keyid"); !strings.HasPrefix(id, "v1:") {
			t.Fatalf("rg:keyid = %q, want scheme 1 for state written before key ids", id)
		}
		refused(t, rds.URL, secretB)
	})
}
