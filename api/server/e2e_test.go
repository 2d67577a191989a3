package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/engine"
)

const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func ptr(f float64) *float64 { return &f }

// London is where alice usually logs in from; Tokyo is not reachable an
// hour later.
var (
	t0     = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	london = &pb.GeoHint{Country: "GB", Lat: ptr(51.5074), Lon: ptr(-0.1278)}
	tokyo  = &pb.GeoHint{Country: "JP", Lat: ptr(35.6762), Lon: ptr(139.6503)}
)

func aliceAt(t time.Time, geo *pb.GeoHint, device string, result pb.Result) *pb.Attempt {
	return &pb.Attempt{
		Tenant: "acme", UserId: "alice", Username: "Alice@Example.com", Ip: "81.2.69.160", UserAgent: chrome,
		DeviceId: device, Result: result, Geo: geo, Time: timestamppb.New(t),
	}
}

// TestEndToEnd drives the real server with a real gRPC client and a real
// HTTP client through an identity server's day: ordinary logins are learned
// and allowed, a login from the other side of the world is challenged and,
// once passed, learned; the profile reflects it; erasure erases it; rules
// are replaced live and a bad ruleset is refused; the metrics moved.
func TestEndToEnd(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken})
	conn := ts.grpcConn(t)
	risk, rulesc := pb.NewRiskServiceClient(conn), pb.NewRulesServiceClient(conn)
	ctx := context.Background()
	admin := withToken(ctx, adminToken)

	// Health over gRPC follows readiness.
	waitFor(t, "grpc health SERVING", func() bool {
		r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "riskgate.v1.RiskService"})
		return err == nil && r.Status == healthpb.HealthCheckResponse_SERVING
	})
	var ready map[string]any
	if code := httpDo(t, nil, "GET", ts.url("/readyz"), "", nil, &ready); code != 200 || ready["status"] != "ready" {
		t.Fatalf("readyz: %d %v", code, ready)
	}

	// A baseline: three ordinary logins a day apart, over gRPC, allowed
	// and learned.
	for i := range 3 {
		d, err := risk.Score(ctx, &pb.ScoreRequest{Attempt: aliceAt(t0.Add(time.Duration(i)*24*time.Hour), london, "laptop", pb.Result_RESULT_PASSWORD_OK)})
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && d.Action != pb.Action_ACTION_ALLOW {
			t.Fatalf("ordinary login %d: %v %v", i, d.Action, d.Reasons)
		}
		if d.RulesVersion == "" || d.Signals.GetAttempt().GetUsername() != "alice@example.com" {
			t.Fatalf("decision lacks version or signals: %v", d)
		}
	}
	// Over HTTP, the same kind of login is allowed, and the baseline
	// shows in the signals.
	var d engine.Decision
	body := map[string]any{
		"tenant": "acme", "user_id": "alice", "username": "alice@example.com", "ip": "81.2.69.160", "user_agent": chrome,
		"device_id": "laptop", "result": "password_ok", "time": t0.Add(72 * time.Hour).Format(time.RFC3339),
		"geo": map[string]any{"country": "GB", "lat": 51.5074, "lon": -0.1278},
	}
	if code := httpDo(t, nil, "POST", ts.url("/v1/score"), "", body, &d); code != 200 {
		t.Fatalf("http score: %d", code)
	}
	if d.Action != engine.ActionAllow || !d.Signals.User.Known || d.Signals.User.Logins != 3 || d.Signals.Device.New {
		t.Fatalf("known user from known device: %+v %+v", d.Action, d.Signals.User)
	}

	// The answer (larger than net/http buffers before chunking) carries
	// its length, the same as the body's, and is not chunked.
	// (Another user's login, so that alice's profile below is unchanged.)
	other := map[string]any{}
	for k, v := range body {
		other[k] = v
	}
	other["user_id"], other["username"] = "carol", "carol@example.com"
	raw, _ := json.Marshal(other)
	resp, err := http.Post(ts.url("/v1/score"), "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(answer) < 2048 || resp.ContentLength != int64(len(answer)) || len(resp.TransferEncoding) != 0 {
		t.Fatalf("http score answer: %d, %d bytes, Content-Length %d, Transfer-Encoding %v, %v", resp.StatusCode, len(answer), resp.ContentLength, resp.TransferEncoding, err)
	}

	// Without signals, on request: the same decision, smaller.
	lean, err := risk.Score(ctx, &pb.ScoreRequest{OmitSignals: true, Attempt: aliceAt(t0.Add(72*time.Hour), london, "laptop", pb.Result_RESULT_PASSWORD_OK)})
	if err != nil || lean.Signals != nil || lean.Action != pb.Action_ACTION_ALLOW || lean.RulesVersion == "" {
		t.Fatalf("omit_signals: %v %v", lean, err)
	}
	var leanHTTP map[string]any
	if code := httpDo(t, nil, "POST", ts.url("/v1/score?omit_signals=true"), "", body, &leanHTTP); code != 200 || leanHTTP["signals"] != nil || leanHTTP["action"] != "allow" {
		t.Fatalf("http omit_signals: %d %v", code, leanHTTP)
	}

	// An hour later, from Tokyo on a new device: challenged.
	far, err := risk.Score(ctx, &pb.ScoreRequest{Attempt: aliceAt(t0.Add(73*time.Hour), tokyo, "phone", pb.Result_RESULT_PASSWORD_OK)})
	if err != nil {
		t.Fatal(err)
	}
	if far.Action != pb.Action_ACTION_STEP_UP || !far.Signals.GetGeo().GetImpossibleTravel() {
		t.Fatalf("impossible travel: %v %v", far.Action, far.Reasons)
	}
	// She passes the step-up (reported over HTTP): learned.
	if code := httpDo(t, nil, "POST", ts.url("/v1/outcome"), "", map[string]any{"tenant": "acme", "decision_id": far.DecisionId, "outcome": "step_up_passed"}, nil); code != 204 {
		t.Fatalf("outcome: %d", code)
	}
	// Reported twice: unknown decision, NotFound on gRPC.
	_, err = risk.Report(ctx, &pb.ReportRequest{Tenant: "acme", DecisionId: far.DecisionId, Outcome: pb.Outcome_OUTCOME_STEP_UP_PASSED})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("second report: %v", err)
	}

	// The profile, over both APIs.
	p, err := risk.GetProfile(admin, &pb.GetProfileRequest{Tenant: "acme", UserId: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Logins != 7 || len(p.Countries) != 2 || len(p.Devices) != 2 || len(p.Hours) != 24 {
		t.Fatalf("profile: logins %d countries %v devices %d", p.Logins, p.Countries, len(p.Devices))
	}
	var hp map[string]any
	if code := httpDo(t, nil, "GET", ts.url("/v1/users/acme/alice"), adminToken, nil, &hp); code != 200 || hp["logins"] != 7.0 {
		t.Fatalf("http profile: %d %v", code, hp)
	}

	// Forget over HTTP: gone over gRPC.
	if code := httpDo(t, nil, "DELETE", ts.url("/v1/users/acme/alice"), adminToken, nil, nil); code != 204 {
		t.Fatalf("forget: %d", code)
	}
	if _, err := risk.GetProfile(admin, &pb.GetProfileRequest{Tenant: "acme", UserId: "alice"}); status.Code(err) != codes.NotFound {
		t.Fatalf("profile after forget: %v", err)
	}
	if _, err := risk.Forget(admin, &pb.ForgetRequest{Tenant: "acme", UserId: "alice"}); err != nil {
		t.Fatalf("forget again: %v", err)
	}

	// Replace the rules live over gRPC: every rule file of the folder is
	// replaced, on disk too, and decisions carry the new version.
	before, err := rulesc.Get(admin, &pb.GetRulesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	strict := "version: strict-1\nrules:\n  - id: deny-tokyo\n    description: No logins from Japan.\n    when: geo.country == \"JP\"\n    action: deny\n    score: 90\n"
	put, err := rulesc.Put(admin, &pb.PutRulesRequest{IfVersion: before.Version, Files: []*pb.RuleFile{{Name: "strict.yaml", Content: strict}}})
	if err != nil {
		t.Fatal(err)
	}
	if label(put.Version) != "strict-1" || put.Origin != "file" || len(put.Rules) != 1 {
		t.Fatalf("put: %v %v %d", put.Version, put.Origin, len(put.Rules))
	}
	if got, _ := os.ReadFile(filepath.Join(ts.rulesDir, "strict.yaml")); string(got) != strict {
		t.Fatalf("strict.yaml on disk: %q", got)
	}
	if _, err := os.Stat(filepath.Join(ts.rulesDir, "rules.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the replaced rules.yaml is still there: %v", err)
	}
	d2, err := risk.Score(ctx, &pb.ScoreRequest{Attempt: aliceAt(t0.Add(80*time.Hour), tokyo, "phone", pb.Result_RESULT_PASSWORD_OK)})
	if err != nil {
		t.Fatal(err)
	}
	if d2.RulesVersion != put.Version || d2.Action != pb.Action_ACTION_DENY || d2.Reasons[0].Rule != "deny-tokyo" {
		t.Fatalf("after put: %v %v %v", d2.RulesVersion, d2.Action, d2.Reasons)
	}
	// A stale if_version is refused.
	if _, err := rulesc.Put(admin, &pb.PutRulesRequest{IfVersion: before.Version, Files: []*pb.RuleFile{{Name: "strict.yaml", Content: strict}}}); status.Code(err) != codes.Aborted {
		t.Fatalf("stale put: %v", err)
	}

	// A bad ruleset over HTTP: 400 with file:line, and the old one serves.
	bad := "rules:\n  - id: typo\n    description: Misspelt field.\n    when: geo.impossible_travle\n    action: deny\n"
	var e apiError
	code := httpDo(t, nil, "PUT", ts.url("/v1/rules"), adminToken, map[string]any{"files": []map[string]string{{"name": "bad.yaml", "content": bad}}}, &e)
	if code != 400 || e.Error.Field != "files" || len(e.Error.Details) == 0 || e.Error.Details[0].Line != 4 || !strings.Contains(e.Error.Details[0].Message, "bad.yaml:4:") {
		t.Fatalf("bad put: %d %+v", code, e)
	}
	// The same over gRPC: InvalidArgument, one violation per problem.
	_, err = rulesc.Put(admin, &pb.PutRulesRequest{Files: []*pb.RuleFile{{Name: "bad.yaml", Content: bad}}})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !hasViolation(st, "files[0]", "bad.yaml:4:") {
		t.Fatalf("bad grpc put: %v %v", st, st.Details())
	}
	d3, err := risk.Score(ctx, &pb.ScoreRequest{Attempt: aliceAt(t0.Add(81*time.Hour), tokyo, "phone", pb.Result_RESULT_PASSWORD_OK)})
	if err != nil || d3.RulesVersion != put.Version {
		t.Fatalf("after bad put: %v %v", d3.GetRulesVersion(), err)
	}
	if _, err := os.Stat(filepath.Join(ts.rulesDir, "bad.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a rejected ruleset was written to disk")
	}

	// Validate and Test change nothing.
	var v struct {
		Valid  bool `json:"valid"`
		Errors []struct {
			Line int `json:"line"`
		} `json:"errors"`
	}
	if code := httpDo(t, nil, "POST", ts.url("/v1/rules:validate"), adminToken, map[string]any{"files": []map[string]string{{"name": "bad.yaml", "content": bad}}}, &v); code != 200 || v.Valid || len(v.Errors) == 0 || v.Errors[0].Line != 4 {
		t.Fatalf("validate: %d %+v", code, v)
	}
	tr, err := rulesc.Test(admin, &pb.TestRulesRequest{
		Attempt: aliceAt(t0.Add(82*time.Hour), tokyo, "phone", pb.Result_RESULT_PASSWORD_OK),
		Files:   []*pb.RuleFile{{Name: "open.yaml", Content: "version: open-1\nrules:\n  - id: noop\n    description: Never.\n    when: \"false\"\n    action: deny\n"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if label(tr.Decision.RulesVersion) != "open-1" || tr.Decision.Action != pb.Action_ACTION_ALLOW || tr.Current.Action != pb.Action_ACTION_DENY {
		t.Fatalf("test: candidate %v %v, current %v", tr.Decision.RulesVersion, tr.Decision.Action, tr.Current.Action)
	}
	if g, _ := rulesc.Get(admin, &pb.GetRulesRequest{}); g.GetVersion() != put.Version {
		t.Fatalf("Test changed the rules: %v", g.GetVersion())
	}

	// Field errors name the field on both APIs.
	_, err = risk.Score(ctx, &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "999.1.1.1"}})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !hasViolation(st, "attempt.ip", "not an IPv4") {
		t.Fatalf("bad ip over grpc: %v", st)
	}
	e = apiError{}
	if code := httpDo(t, nil, "POST", ts.url("/v1/score"), "", map[string]any{"ip": "81.2.69.160", "password_sha1": "nothex"}, &e); code != 400 || e.Error.Field != "password_sha1" {
		t.Fatalf("bad hash over http: %d %+v", code, e)
	}

	// The metrics moved: decisions by action and tenant, rule matches,
	// latency, rules version and reloads, requests per route.
	for _, c := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"riskgate_decisions_total", []string{"action", "allow", "tenant", "acme"}, 3},
		{"riskgate_decisions_total", []string{"action", "step_up", "tenant", "acme"}, 1},
		{"riskgate_decisions_total", []string{"action", "deny", "tenant", "acme"}, 2},
		{"riskgate_rule_matches_total", []string{"rule", "impossible-travel", "mode", "enforce"}, 1},
		{"riskgate_rule_matches_total", []string{"rule", "deny-tokyo", "mode", "enforce"}, 2},
		{"riskgate_score_duration_seconds", nil, 7},
		{"riskgate_store_duration_seconds", []string{"op", "observe"}, 7},
		{"riskgate_outcomes_total", []string{"outcome", "step_up_passed"}, 1},
		{"riskgate_rules_version_info", []string{"version", put.Version}, 1},
		{"riskgate_rules_reloads_total", []string{"trigger", "api", "result", "rejected"}, 1},
		{"riskgate_http_requests_total", []string{"route", "POST /v1/score", "code", "200"}, 1},
		{"riskgate_grpc_requests_total", []string{"method", "/riskgate.v1.RiskService/Score", "code", "OK"}, 5},
	} {
		if got := ts.metricValue(t, c.name, c.labels...); got < c.min {
			t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.min)
		}
	}
	// And /metrics serves them as text.
	resp, err = http.Get(ts.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(text), `riskgate_decisions_total{action="deny",tenant="acme"} 2`) {
		t.Errorf("/metrics lacks the deny count:\n%.2000s", text)
	}
}

func hasViolation(st *status.Status, field, desc string) bool {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				if v.Field == field && strings.Contains(v.Description, desc) {
					return true
				}
			}
		}
	}
	return false
}

// TestRuleErrorsAsData: a rejected ruleset's problems carry their file
// (as the request named it), line, rule and field as data on both APIs,
// from the rules' own positions, not from reading them back out of a
// message.
func TestRuleErrorsAsData(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken})
	bad := "rules:\n  - id: ok\n    description: Fine.\n    when: \"true\"\n    score: 1\n  - id: typo\n    description: Misspelt field.\n    when: geo.impossible_travle\n    action: deny\n"
	var e struct {
		Error struct {
			Details []struct {
				File, Rule, Field, Message string
				Line                       int
			} `json:"details"`
		} `json:"error"`
	}
	code := httpDo(t, nil, "PUT", ts.url("/v1/rules"), adminToken, map[string]any{"files": []map[string]string{{"name": "bad.yaml", "content": bad}}}, &e)
	if code != 400 || len(e.Error.Details) != 1 {
		t.Fatalf("http: %d %+v", code, e)
	}
	if d := e.Error.Details[0]; d.File != "bad.yaml" || d.Line != 8 || d.Rule != "typo" || d.Field != "when" || !strings.HasPrefix(d.Message, "bad.yaml:8: rule \"typo\": when:") {
		t.Errorf("http detail %+v", d)
	}
	v, err := pb.NewRulesServiceClient(ts.grpcConn(t)).Validate(withToken(context.Background(), adminToken),
		&pb.ValidateRulesRequest{Files: []*pb.RuleFile{{Name: "bad.yaml", Content: bad}}})
	if err != nil || v.Valid || len(v.Errors) != 1 {
		t.Fatalf("grpc: %v %v", v, err)
	}
	if r := v.Errors[0]; r.File != "bad.yaml" || r.Line != 8 || r.Rule != "typo" || r.Field != "when" {
		t.Errorf("grpc error %v", r)
	}
}
