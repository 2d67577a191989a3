package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/capture"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/rules/backtest"
)

// httpScorer drives a real server's HTTP API as a replay.Scorer: replay's
// player scores each attempt and reports the outcomes the person behind
// it would produce, as an identity server would.
type httpScorer struct {
	base string
	last *string // the last decision's id, when set
}

func (h httpScorer) post(ctx context.Context, path string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+h.base+path, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %d %s", path, resp.StatusCode, b)
	}
	if out != nil && resp.StatusCode == http.StatusOK {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (h httpScorer) Score(ctx context.Context, a engine.Attempt) (engine.Decision, error) {
	var d engine.Decision
	err := h.post(ctx, "/v1/score?omit_signals=true", a, &d)
	if h.last != nil {
		*h.last = d.DecisionID
	}
	return d, err
}

func (h httpScorer) Report(ctx context.Context, o engine.Outcome) error {
	return h.post(ctx, "/v1/outcome", o, nil)
}

// admin calls an admin route and returns the status and body.
func admin(t *testing.T, method, url, token, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// splitStream cuts a simulated stream in two at an attempt line, keeping
// each outcome line with the half of its attempt (outcomes follow their
// attempts closely in simulate's output).
func splitStream(t *testing.T, data []byte) (first, second []byte, attempts int) {
	t.Helper()
	lines := bytes.SplitAfter(data, []byte("\n"))
	for _, ln := range lines {
		if bytes.HasPrefix(ln, []byte(`{"attempt_id"`)) {
			attempts++
		}
	}
	seen := 0
	for i, ln := range lines {
		if bytes.HasPrefix(ln, []byte(`{"attempt_id"`)) {
			if seen == attempts/2 {
				return bytes.Join(lines[:i], nil), bytes.Join(lines[i:], nil), attempts
			}
			seen++
		}
	}
	t.Fatal("no attempts")
	return
}

// captureLines reads a capture folder's attempt lines.
func captureLines(t *testing.T, dir string) []replay.Line {
	t.Helper()
	r, err := replay.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dec := replay.NewDecoder(r)
	var out []replay.Line
	var ev replay.Event
	for {
		err := dec.Next(&ev)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == replay.KindAttempt {
			out = append(out, ev.Line)
		}
	}
}

// TestServeCaptureReplaysAndBacktests is issue 13's loop through the real
// binary: serve records a capture while a simulated day is scored over
// HTTP (with a rule change through the admin API half-way); the backtest
// API and `riskgate backtest` give the same report, with no transition
// under the same rules; `replay --captured-rules` reproduces every live
// action across the rule change; Forget erases the user's lines.
func TestServeCaptureReplaysAndBacktests(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	geo, stream := filepath.Join(dir, "geo"), filepath.Join(dir, "sim.jsonl")
	if code, _, stderr := run(t, bin, "simulate", "--users", "80", "--days", "1", "--warmup-days", "2", "--geo-dir", geo, "-o", stream); code != 0 {
		t.Fatalf("simulate: %d %s", code, stderr)
	}
	data, err := os.ReadFile(stream)
	if err != nil {
		t.Fatal(err)
	}
	streamData := data
	firstHalf, secondHalf, attempts := splitStream(t, data)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("capture-test-secret-0123456789"), 0o600)
	strict := filepath.Join(dir, "strict.yaml")
	os.WriteFile(strict, []byte(strictRules), 0o644)
	geoFlags := []string{"--geoip-city", filepath.Join(geo, "city.mmdb"), "--geoip-asn", filepath.Join(geo, "asn.mmdb"), "--geoip-anonymous", filepath.Join(geo, "anonymous.mmdb")}
	capDir := filepath.Join(dir, "capture")
	const token = "capture-admin-token-0123456789"
	p := startBinary(t, bin, []string{"RISKGATE_ADMIN_TOKEN=" + token}, append([]string{
		"--capture-dir", capDir, "--capture-max-file-bytes", "65536", "--hmac-secret-file", secret,
	}, geoFlags...)...)
	api := "http://" + p.http
	ctx := context.Background()

	// The first half under the built-in rules.
	if _, err := replay.Run(ctx, httpScorer{base: p.http}, bytes.NewReader(firstHalf), io.Discard, replay.Options{AutoOutcomes: true}); err != nil {
		t.Fatalf("scoring over HTTP: %v\n%s", err, p.logs())
	}
	// The backtest API with no files: the rules in force against the
	// capture's own, on everything scored so far.
	code, body := admin(t, "POST", api+"/v1/rules:backtest", token, "application/json", []byte(`{}`))
	if code != http.StatusOK {
		t.Fatalf("backtest API: %d %s", code, body)
	}
	var viaAPI backtest.Report
	if err := json.Unmarshal(body, &viaAPI); err != nil {
		t.Fatal(err)
	}
	if viaAPI.Attempts != attempts/2 || viaAPI.Changed != 0 || !viaAPI.Input.Capture || viaAPI.Live == nil || viaAPI.Live.BaselineSame != viaAPI.Live.Compared || viaAPI.Live.CandidateSame != viaAPI.Live.Compared {
		t.Fatalf("backtest API on the first half: attempts %d (want %d), changed %d, live %+v", viaAPI.Attempts, attempts/2, viaAPI.Changed, viaAPI.Live)
	}
	for before, row := range viaAPI.Transitions {
		for after, n := range row {
			if before != after && n != 0 {
				t.Errorf("transition %s -> %s: %d under the same rules", before, after, n)
			}
		}
	}
	// The same report as the command line's, on the same files.
	cliJSON := filepath.Join(dir, "cli.json")
	if code, out, stderr := run(t, bin, append([]string{"backtest", "-i", capDir, "--rules", "../../rules/default.yaml", "--json", cliJSON}, geoFlags...)...); code != 0 {
		t.Fatalf("backtest: %d %s %s", code, out, stderr)
	}
	var viaCLI backtest.Report
	cli, _ := os.ReadFile(cliJSON)
	if err := json.Unmarshal(cli, &viaCLI); err != nil {
		t.Fatal(err)
	}
	viaCLI.Input.Path, viaAPI.Input.Path = "", ""
	viaCLI.Candidate.Paths = nil
	a, _ := json.Marshal(viaAPI)
	c, _ := json.Marshal(viaCLI)
	if !bytes.Equal(a, c) {
		t.Errorf("the API's report differs from the command line's:\nAPI %s\nCLI %s", a, c)
	}

	// A rule change through the admin API, then the second half.
	if code, body := admin(t, "PUT", api+"/v1/rules", token, "application/yaml", []byte(strictRules)); code != http.StatusOK {
		t.Fatalf("PUT /v1/rules: %d %s", code, body)
	}
	var last string
	if _, err := replay.Run(ctx, httpScorer{p.http, &last}, bytes.NewReader(secondHalf), io.Discard, replay.Options{AutoOutcomes: true}); err != nil {
		t.Fatalf("scoring over HTTP: %v\n%s", err, p.logs())
	}
	// An analyst's label on the last decision, days later.
	label := engine.Outcome{DecisionID: last, Outcome: engine.ConfirmedFraud}
	if err := (httpScorer{base: p.http}).Report(ctx, label); err != nil {
		t.Fatal(err)
	}
	// Bounded by size: a backtest of the first 100 attempts says it was
	// cut short; a bad ruleset names its field and line.
	code, body = admin(t, "POST", api+"/v1/rules:backtest", token, "application/json", []byte(`{"max_attempts": 100, "samples": -1}`))
	var cut backtest.Report
	if json.Unmarshal(body, &cut); code != http.StatusOK || cut.Attempts != 100 || !cut.Input.Truncated || len(cut.Samples) != 0 {
		t.Errorf("max_attempts 100: %d attempts %d truncated %v samples %d", code, cut.Attempts, cut.Input.Truncated, len(cut.Samples))
	}
	code, body = admin(t, "POST", api+"/v1/rules:backtest", token, "application/json",
		[]byte(`{"baseline_files":[{"name":"old.yaml","content":"rules:\n  - id: x\n    when: geo.new_countyr\n    action: deny\n"}]}`))
	if code != http.StatusBadRequest || !strings.Contains(string(body), `"field":"baseline_files"`) || !strings.Contains(string(body), "old.yaml:3") {
		t.Errorf("bad baseline: %d %s", code, body)
	}
	code, body = admin(t, "POST", api+"/v1/rules:backtest?format=html", token, "application/yaml", []byte(strictRules))
	if code != http.StatusOK || !bytes.Contains(body, []byte(`<svg class="chart" id="transitions"`)) {
		t.Errorf("html backtest: %d %.300s", code, body)
	}
	if code, _ := admin(t, "POST", api+"/v1/rules:backtest", "not-the-admin-token-0123456789", "application/json", []byte(`{}`)); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("backtest without the admin token: %d", code)
	}

	// Every file is finished now (the backtest finished the current one):
	// a replay under the captured rules reproduces every live action,
	// across the rule change.
	summary := filepath.Join(dir, "summary.json")
	if code, _, stderr := run(t, bin, append([]string{"replay", "--captured-rules", "-i", capDir, "-o", os.DevNull, "--summary", summary}, geoFlags...)...); code != 0 {
		t.Fatalf("replay: exit %d %s", code, stderr)
	}
	var sum replay.Summary
	data, _ = os.ReadFile(summary)
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Live == nil || sum.Live.Compared != attempts || sum.Live.Same != attempts || sum.Stream.Files < 2 {
		t.Errorf("replay --captured-rules of %d attempts: live %+v, stream %+v", attempts, sum.Live, sum.Stream)
	}
	// The backtest's default baseline follows the change too.
	code, out, stderr := run(t, bin, append([]string{"backtest", "-i", capDir, "--rules", strict, "--json", "-"}, geoFlags...)...)
	var full backtest.Report
	if err := json.Unmarshal([]byte(out), &full); code != 0 || err != nil {
		t.Fatalf("backtest: %d %v %s", code, err, stderr)
	}
	if len(full.Baseline.Versions) != 2 || full.Live == nil || full.Live.BaselineSame != attempts || full.Changed == 0 {
		t.Errorf("backtest across the change: baseline %+v live %+v changed %d", full.Baseline, full.Live, full.Changed)
	}
	if full.Labels[replay.LabelFraud] == nil {
		t.Errorf("the analyst's label is not in the capture: labels %v", full.Labels)
	}

	t.Logf("%d attempts scored over HTTP; %d files; across the rule change the strict rules change %d", attempts, sum.Stream.Files, full.Changed)

	// Forget erases the user's lines from the capture.
	lines := captureLines(t, capDir)
	var user string
	for _, ln := range lines[len(lines)/2:] {
		if ln.UserID != "" {
			user = ln.UserID
			break
		}
	}
	keys, err := capture.New(capture.Options{Dir: t.TempDir(), Secret: []byte("capture-test-secret-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close(ctx)
	// Find the plain id behind the keyed one: the stream's users.
	var plain string
	for _, ln := range bytes.Split(streamData, []byte("\n")) {
		var l replay.Line
		if json.Unmarshal(ln, &l) == nil && l.UserID != "" && keys.UserKey("", l.UserID) == user {
			plain = l.UserID
			break
		}
	}
	if plain == "" {
		t.Fatal("no user of the stream matches the capture's keyed id")
	}
	held := 0
	for _, ln := range lines {
		if ln.UserID == user {
			held++
		}
	}
	if code, body := admin(t, "DELETE", api+"/v1/users/default/"+plain, token, "", nil); code/100 != 2 {
		t.Fatalf("forget: %d %s", code, body)
	}
	after := captureLines(t, capDir)
	for _, ln := range after {
		if ln.UserID == user {
			t.Fatalf("the forgotten user's line is still in the capture: %+v", ln)
		}
	}
	if len(lines)-len(after) != held || held == 0 {
		t.Errorf("forget erased %d attempt lines; the user had %d", len(lines)-len(after), held)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit %d\n%s", code, p.logs())
	}
}

// TestCaptureSizeBoundedByDefault: a capture turned on with no size of its
// own is bounded (docs/capture.md: 10 GiB), so that it cannot fill the
// disk a busy node writes it to within its retention; 0 is still no
// bound, for whoever asks for it.
func TestCaptureSizeBoundedByDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int64
	}{
		{[]string{"--capture-dir", "cap"}, 10 << 30},
		{[]string{"--capture-dir", "cap", "--capture-max-total-bytes", "0"}, 0},
		{[]string{"--capture-dir", "cap", "--capture-max-total-bytes", "1000000"}, 1000000},
	} {
		c, err := parseServe(t, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Capture.MaxTotalBytes; got != tc.want {
			t.Errorf("%v: --capture-max-total-bytes %d, want %d", tc.args, got, tc.want)
		}
	}
}
