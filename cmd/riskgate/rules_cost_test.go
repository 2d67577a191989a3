package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// slowRule is issue 10 item 2's rule: it passed every check and cost
// 60-90 ms per Score.
const slowRule = `rules:
  - id: slow
    description: Loops a million times.
    when: 'all(1..999, {all(1..999, {# > ip.failures_10m - 5})})'
    score: 10
`

// TestSlowRuleRefused: the slow rule is refused by rules check, by
// rules:validate, by PUT and by a file reload, each naming the rule and
// its field; rules check prints the slowest rules of a good set.
func TestSlowRuleRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)

	bad := filepath.Join(t.TempDir(), "slow.yaml")
	os.WriteFile(bad, []byte(slowRule), 0o644)
	out, err := exec.Command(bin, "rules", "check", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `slow.yaml:4: rule "slow": when: too costly`) {
		t.Errorf("rules check of the slow rule: %v\n%s", err, out)
	}
	good := filepath.Join(t.TempDir(), "good.yaml")
	os.WriteFile(good, fmt.Appendf(nil, labelled, 90), 0o644)
	out, err = exec.Command(bin, "rules", "check", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "slowest rules") || !strings.Contains(string(out), "everyone") {
		t.Errorf("rules check of a good file: %v\n%s", err, out)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "strict.yaml")
	os.WriteFile(file, fmt.Appendf(nil, labelled, 90), 0o644)
	p := startBinary(t, bin, []string{"RISKGATE_ADMIN_TOKEN=" + reloadAdmin}, "--rules", dir, "--rules-debounce", "50ms")
	_, v90 := scoreNow(t, p)

	do := func(method, path, ctype, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+p.http+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+reloadAdmin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		json.NewDecoder(resp.Body).Decode(&json.RawMessage{})
		fmt.Fprint(&b, resp.Status)
		return resp.StatusCode, b.String()
	}
	validate, _ := json.Marshal(map[string]any{"files": []map[string]string{{"name": "slow.yaml", "content": slowRule}}})
	req, _ := http.NewRequest("POST", "http://"+p.http+"/v1/rules:validate", strings.NewReader(string(validate)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+reloadAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Valid  bool `json:"valid"`
		Errors []struct {
			Rule, Field, Message string
		} `json:"errors"`
	}
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if v.Valid || len(v.Errors) != 1 || v.Errors[0].Rule != "slow" || v.Errors[0].Field != "when" || !strings.Contains(v.Errors[0].Message, "too costly") {
		t.Errorf("rules:validate of the slow rule: %d %+v", resp.StatusCode, v)
	}
	if code, status := do("PUT", "/v1/rules?name=strict.yaml", "application/yaml", slowRule); code/100 != 4 {
		t.Errorf("PUT of the slow rule: %s", status)
	}
	os.WriteFile(file, []byte(slowRule), 0o644)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.logs(), "too costly") {
		if time.Now().After(deadline) {
			t.Fatalf("the reload of the slow rule was not refused in the log:\n%s", p.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if score, version := scoreNow(t, p); score != 90 || version != v90 {
		t.Errorf("after the refused reload: score %d version %s, want 90 %s", score, version, v90)
	}
	p.stop(t)
}
