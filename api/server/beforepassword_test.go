package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// TestBeforePasswordOverTheAPI: a Score marked before_password (the first
// of a login scored twice) holds no pending decision on either transport,
// so an outcome for it is NOT_FOUND; a bad value, or the mark on an
// attempt whose password was checked, is refused naming before_password.
func TestBeforePasswordOverTheAPI(t *testing.T) {
	ts := startServer(t, testOpts{})
	pending := func() float64 {
		return ts.metricValue(t, "riskgate_memory_entries", "table", "pending")
	}
	attempt := func(user string) map[string]any {
		return map[string]any{"user_id": user, "username": user + "@example.com", "ip": "81.2.69.160", "device_id": "d-" + user}
	}
	type decision struct {
		DecisionID string `json:"decision_id"`
		Action     string `json:"action"`
	}

	// HTTP: unmarked, the allow waits for its outcome; marked, nothing does.
	for _, c := range []struct {
		query   string
		pending float64 // added by the Score
		outcome int
	}{
		{"", 1, 204},
		{"?before_password=false", 1, 204},
		{"?before_password=true", 0, 404},
		{"?omit_signals=true&before_password=1", 0, 404},
	} {
		before := pending()
		var d decision
		if code := httpDo(t, nil, "POST", ts.url("/v1/score"+c.query), "", attempt("u-http"), &d); code != 200 || d.Action != "allow" {
			t.Fatalf("%q: %d %+v", c.query, code, d)
		}
		if got := pending() - before; got != c.pending {
			t.Errorf("%q: %v pending decisions added, want %v", c.query, got, c.pending)
		}
		if code := httpDo(t, nil, "POST", ts.url("/v1/outcome"), "", map[string]any{"decision_id": d.DecisionID, "outcome": "login_succeeded"}, nil); code != c.outcome {
			t.Errorf("%q: outcome %d, want %d", c.query, code, c.outcome)
		}
	}
	for _, c := range []struct{ query, result string }{
		{"?before_password=yes", ""},
		{"?before_password=true&before_password=true", ""},
		{"?before_password=true", "password_ok"},
		{"?before_password=t", "no_such_user"},
	} {
		a := attempt("u-refused")
		if c.result != "" {
			a["result"] = c.result
		}
		var e apiError
		if code := httpDo(t, nil, "POST", ts.url("/v1/score"+c.query), "", a, &e); code != 400 || e.Error.Field != "before_password" {
			t.Errorf("%q result %q: %d %+v, want a 400 naming before_password", c.query, c.result, code, e.Error)
		}
	}

	// gRPC.
	rc := pb.NewRiskServiceClient(dial(t, ts.addrs.GRPC, insecure.NewCredentials()))
	ctx := context.Background()
	for _, before := range []bool{false, true} {
		n := pending()
		d, err := rc.Score(ctx, &pb.ScoreRequest{Attempt: &pb.Attempt{UserId: "u-grpc", Username: "g@example.com", Ip: "81.2.69.160"}, BeforePassword: before})
		if err != nil || d.GetAction() != pb.Action_ACTION_ALLOW {
			t.Fatalf("grpc before_password %v: %v %v", before, d, err)
		}
		if got, want := pending()-n, map[bool]float64{false: 1, true: 0}[before]; got != want {
			t.Errorf("grpc before_password %v: %v pending decisions added, want %v", before, got, want)
		}
		_, err = rc.Report(ctx, &pb.ReportRequest{DecisionId: d.GetDecisionId(), Outcome: pb.Outcome_OUTCOME_LOGIN_SUCCEEDED})
		if want := map[bool]codes.Code{false: codes.OK, true: codes.NotFound}[before]; status.Code(err) != want {
			t.Errorf("grpc before_password %v: outcome %v, want %v", before, err, want)
		}
	}
	_, err := rc.Score(ctx, &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160", Result: pb.Result_RESULT_PASSWORD_BAD}, BeforePassword: true})
	if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), "before_password: ") {
		t.Errorf("grpc before_password with password_bad: %v, want InvalidArgument naming before_password", err)
	}
}

// TestBeforePasswordRetryOverTheAPI: a Score resent under its attempt_id
// without the before_password mark it was first sent with (or with one it
// was not) is refused naming attempt_id, on either transport, rather than
// answered with the first decision: unmarked, the caller reports its
// outcome, which for the marked decision was a 404.
func TestBeforePasswordRetryOverTheAPI(t *testing.T) {
	ts := startServer(t, testOpts{})
	rc := pb.NewRiskServiceClient(dial(t, ts.addrs.GRPC, insecure.NewCredentials()))
	ctx := context.Background()
	type decision struct {
		DecisionID string `json:"decision_id"`
	}
	for _, firstMarked := range []bool{true, false} {
		id := fmt.Sprintf("login-marked-%v", firstMarked)
		a := map[string]any{"attempt_id": id, "user_id": "u-retry", "ip": "81.2.69.160"}
		query := map[bool]string{true: "?before_password=true", false: ""}
		var first decision
		if code := httpDo(t, nil, "POST", ts.url("/v1/score"+query[firstMarked]), "", a, &first); code != 200 {
			t.Fatalf("first marked %v: %d", firstMarked, code)
		}
		var e apiError
		if code := httpDo(t, nil, "POST", ts.url("/v1/score"+query[!firstMarked]), "", a, &e); code != 400 ||
			e.Error.Field != "attempt_id" || !strings.Contains(e.Error.Message, "before_password") {
			t.Errorf("first marked %v, resent flipped over HTTP: %d %+v, want a 400 naming attempt_id", firstMarked, code, e.Error)
		}
		_, err := rc.Score(ctx, &pb.ScoreRequest{Attempt: &pb.Attempt{AttemptId: id, UserId: "u-retry", Ip: "81.2.69.160"}, BeforePassword: !firstMarked})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "before_password") {
			t.Errorf("first marked %v, resent flipped over gRPC: %v, want InvalidArgument naming attempt_id", firstMarked, err)
		}
		var again decision
		if code := httpDo(t, nil, "POST", ts.url("/v1/score"+query[firstMarked]), "", a, &again); code != 200 || again.DecisionID != first.DecisionID {
			t.Errorf("first marked %v, a retry as it was: %d %s, want the first decision %s", firstMarked, code, again.DecisionID, first.DecisionID)
		}
		want := map[bool]int{true: 404, false: 204}[firstMarked]
		if code := httpDo(t, nil, "POST", ts.url("/v1/outcome"), "", map[string]any{"decision_id": first.DecisionID, "outcome": "login_succeeded"}, nil); code != want {
			t.Errorf("first marked %v: outcome %d, want %d", firstMarked, code, want)
		}
	}
}
