package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// labelled is a rules file as the README shows one: it keeps its version:
// label while an analyst edits its score (same length for 90, 85, 80, 75,
// so that an edit keeps the file's size too).
const labelled = `version: strict-2026-05
thresholds: {step_up: 40, deny: 99}
rules:
  - id: everyone
    description: Every login scores this.
    when: ip.failures_10m >= 0
    score: %d
`

const reloadAdmin = "reload-test-admin-token-0123456789"

// scoreNow scores one attempt and returns the decision's score and
// rules_version.
func scoreNow(t *testing.T, p *process) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+p.http+"/v1/score", strings.NewReader(`{"ip":"81.2.69.160","user_id":"u"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Score        int    `json:"score"`
		RulesVersion string `json:"rules_version"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 {
		t.Fatalf("score: %d %v", resp.StatusCode, err)
	}
	return d.Score, d.RulesVersion
}

func waitScore(t *testing.T, p *process, want int, how string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, version := scoreNow(t, p)
		if got == want {
			return version
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: score %d, want %d (version %s)\n%s", how, got, want, version, p.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRulesEditKeepingVersion is issue 10's defect through the binary: an
// edit of score 90 to 85 in a file that keeps its version: label is put in
// force by the file watch, and by SIGHUP when the watch is off; a PUT of
// new content under the same label is in force and on disk; the version
// follows the content, whatever the label.
func TestRulesEditKeepingVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	env := []string{"RISKGATE_ADMIN_TOKEN=" + reloadAdmin}

	t.Run("watch", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "strict.yaml")
		os.WriteFile(file, fmt.Appendf(nil, labelled, 90), 0o644)
		p := startBinary(t, bin, env, "--rules", dir, "--rules-debounce", "50ms")
		v90 := waitScore(t, p, 90, "at start")
		os.WriteFile(file, fmt.Appendf(nil, labelled, 85), 0o644)
		v85 := waitScore(t, p, 85, "after the edit, by the file watch")
		if v85 == v90 || !strings.HasPrefix(v85, "strict-2026-05@sha256:") {
			t.Errorf("versions %s then %s: want the label and a new hash", v90, v85)
		}
		p.stop(t)
	})

	t.Run("sighup and put", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "strict.yaml")
		os.WriteFile(file, fmt.Appendf(nil, labelled, 90), 0o644)
		p := startBinary(t, bin, env, "--rules", dir, "--no-rules-watch")
		waitScore(t, p, 90, "at start")
		os.WriteFile(file, fmt.Appendf(nil, labelled, 85), 0o644)
		if got, _ := scoreNow(t, p); got != 90 {
			t.Fatalf("with the watch off, an edit is in force before SIGHUP: %d", got)
		}
		p.cmd.Process.Signal(syscall.SIGHUP)
		v85 := waitScore(t, p, 85, "after SIGHUP")

		// PUT the same label with new content: in force, and on disk.
		body := fmt.Sprintf(labelled, 75)
		req, _ := http.NewRequest("PUT", "http://"+p.http+"/v1/rules?name=strict.yaml", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/yaml")
		req.Header.Set("Authorization", "Bearer "+reloadAdmin)
		req.Header.Set("If-Match", `"`+v85+`"`)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var put struct {
			Version string `json:"version"`
		}
		json.NewDecoder(resp.Body).Decode(&put)
		resp.Body.Close()
		if resp.StatusCode != 200 || put.Version == v85 || !strings.HasPrefix(put.Version, "strict-2026-05@") {
			t.Fatalf("put: %d %+v", resp.StatusCode, put)
		}
		if got, version := scoreNow(t, p); got != 75 || version != put.Version {
			t.Fatalf("after the put: score %d version %s, want 75 %s", got, version, put.Version)
		}
		if data, _ := os.ReadFile(file); !bytes.Equal(data, []byte(body)) {
			t.Fatalf("after the put, on disk:\n%s", data)
		}
		// A reload finds what the put wrote: nothing changes.
		p.cmd.Process.Signal(syscall.SIGHUP)
		time.Sleep(200 * time.Millisecond)
		if got, version := scoreNow(t, p); got != 75 || version != put.Version {
			t.Fatalf("after SIGHUP following the put: %d %s", got, version)
		}
		p.stop(t)
	})
}
