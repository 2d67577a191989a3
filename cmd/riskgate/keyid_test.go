package main

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

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
		if l := p.logs(); !strings.Contains(l, "level=WARN msg=\"hmac secret: the store holds state but no key id: taken as written before key ids") {
			t.Errorf("legacy state not warned of:\n%s", l)
		}
		p.stop(t)
		if id, _ := getKey(t, rds, "rg:keyid"); !strings.HasPrefix(id, "v1:") {
			t.Fatalf("rg:keyid = %q, want scheme 1 for state written before key ids", id)
		}
		refused(t, rds.URL, secretB)
	})
	t.Run("flushed while serving", func(t *testing.T) {
		// Redis loses its data (FLUSHDB here; a restart without
		// persistence is the same) while a node keeps writing: the node
		// records its key id again, so a node started next with the same
		// secret reads the state with it, and one with another secret is
		// refused, as before the loss.
		rds := redistest.Start(t)
		p := startBinary(t, bin, []string{secretA, admin}, "--store", rds.URL)
		id, err := getKey(t, rds, "rg:keyid")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rds.Do("FLUSHDB"); err != nil {
			t.Fatal(err)
		}
		score := func(p *process, user string) {
			t.Helper()
			req, _ := http.NewRequest("POST", "http://"+p.http+"/v1/score", strings.NewReader(`{"user_id":"`+user+`","ip":"81.2.69.160","result":"password_ok"}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("score: %v %v", resp, err)
			}
			resp.Body.Close()
		}
		score(p, "zoe")
		// The node records the key id, then logs it: the log line reaches
		// this test through a pipe, a moment after the key is seen.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got, _ := getKey(t, rds, "rg:keyid")
			logged := strings.Contains(p.logs(), "key id was gone, and is recorded again")
			if got == id && logged {
				break
			}
			if time.Now().After(deadline) {
				if got != id {
					t.Fatalf("key id not recorded again after FLUSHDB:\n%s", p.logs())
				}
				t.Fatalf("the loss is not logged:\n%s", p.logs())
			}
		}
		q := startBinary(t, bin, []string{secretA, admin}, "--store", rds.URL)
		var prof struct {
			Logins int `json:"logins"`
		}
		if code := get(t, "http://"+q.http+"/v1/users/default/zoe", strings.Repeat("a", 20), &prof); code != 200 || prof.Logins != 1 {
			t.Errorf("a second node does not read the first one's state: %d %+v\n%s", code, prof, q.logs())
		}
		q.stop(t)
		refused(t, rds.URL, secretB)
		p.stop(t)
	})
	t.Run("another secret while the store was down", func(t *testing.T) {
		// Started with the wrong secret while Redis does not answer, the
		// node decides without state; once Redis answers, it stops with
		// status 1, as it would have at a start with Redis up.
		rds := redistest.Start(t)
		p := startBinary(t, bin, []string{secretA}, "--store", rds.URL)
		p.stop(t)
		rds.Pause()
		q := startBinary(t, bin, []string{secretB}, "--store", rds.URL, "--store-timeout", "20ms")
		rds.Resume()
		select {
		case <-q.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("still serving on a store keyed with another secret:\n%s", q.logs())
		}
		if code := q.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(q.logs(), "another HMAC secret") {
			t.Errorf("exit %d:\n%s", code, q.logs())
		}
	})
}
