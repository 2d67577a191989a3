package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeKratosHook runs the binary with the Ory Kratos hook mounted:
// only the hook's own token opens it; a first login is let through (204),
// the same account from another device and country is interrupted in
// Kratos' error-message format with the decision as the reference; and
// without a hook token the route is not served.
func TestServeKratosHook(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	const (
		hook    = "kratos-S3CRET-hook-token-0001"
		scoring = "scoring-S3CRET-token-00000002"
	)
	body, err := os.ReadFile(filepath.Join("..", "..", "api", "kratoshook", "testdata", "body-browser-flow.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, bin, []string{"RISKGATE_KRATOS_TOKEN=" + hook, "RISKGATE_SCORING_TOKEN=" + scoring, "RISKGATE_HMAC_SECRET=hmac-secret-0123456789abcdef"},
		"--kratos-tenant", "kratos-project")
	url := "http://" + p.http + "/v1/kratos/login"
	post := func(token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tok := range []string{"", scoring, "wrong-token-0123456789"} {
		if code, _ := post(tok, string(body)); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", tok, code)
		}
	}
	// Another method is refused in Kratos' format, as a missing token
	// is, not in riskgate's error format, which Kratos does not read.
	unauthorized, err := os.ReadFile(filepath.Join("..", "..", "api", "kratoshook", "testdata", "answer-unauthorized.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"GET", "HEAD", "PUT", "DELETE"} {
		req, _ := http.NewRequest(method, url, nil)
		req.Header.Set("Authorization", "Bearer "+hook)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := strings.TrimSpace(string(unauthorized))
		if method == "HEAD" {
			want = ""
		}
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" ||
			resp.Header.Get("Content-Type") != "application/json" || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s: %d, Allow %q, Content-Type %q, body %s; want 405, Allow POST, %s", method, resp.StatusCode,
				resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), b, want)
		}
	}
	// Alice's first login: nothing to compare with, let through.
	first := strings.Replace(string(body), `"location": ""`, `"location": "Paris, FR"`, 1)
	if code, b := post(hook, first); code != http.StatusNoContent {
		t.Fatalf("first login: %d %s\n%s", code, b, p.logs())
	}
	// Another device in another country, the same account: interrupted.
	other := strings.NewReplacer(`"location": ""`, `"location": "São Paulo, BR"`, `"dev-laptop-9"`, `"dev-unknown"`,
		`"9f2e9001-5173-4d66-a521-610016174055"`, `"0d6b6a39-8f0b-4f5e-9a7e-2f3c5d1e0a11"`).Replace(string(body))
	code, b := post(hook, other)
	var answer struct {
		Messages []struct {
			Messages []struct {
				ID      int    `json:"id"`
				Type    string `json:"type"`
				Context struct {
					Reason    string `json:"reason"`
					Reference string `json:"reference"`
				} `json:"context"`
			} `json:"messages"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(b), &answer); err != nil || code != http.StatusForbidden || len(answer.Messages) != 1 ||
		answer.Messages[0].Messages[0].Context.Reason != "riskgate_step_up" || answer.Messages[0].Messages[0].Context.Reference == "" {
		t.Fatalf("new device and country: %d %s (%v)", code, b, err)
	}
	// The scoring API still takes the scoring token, not the hook's.
	req, _ := http.NewRequest("POST", "http://"+p.http+"/v1/score", strings.NewReader(`{"ip":"81.2.69.160","user_id":"u"}`))
	req.Header.Set("Authorization", "Bearer "+hook)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("score with the hook's token: %d, want 401", resp.StatusCode)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.logs())
	}
	if logs := p.logs(); strings.Contains(logs, "S3CRET") || !strings.Contains(logs, "ory kratos hook mounted") {
		t.Errorf("logs:\n%s", logs)
	}

	// No hook token: no hook.
	p = startBinary(t, bin, nil)
	url = "http://" + p.http + "/v1/kratos/login"
	if code, _ := post(hook, first); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		t.Errorf("without a hook token: %d, want 404", code)
	}
	// The same token for the hook and the scoring API is refused at start.
	cmd := exec.Command(bin, "serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "")
	cmd.Env = append(os.Environ(), "RISKGATE_KRATOS_TOKEN="+hook, "RISKGATE_SCORING_TOKEN="+hook)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "must differ") {
		t.Errorf("shared token: %v\n%s", err, out)
	}
}
