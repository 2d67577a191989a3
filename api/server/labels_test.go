package server_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
)

// TestLabelsNeedAKnownDecision: an analyst's label (confirmed_fraud,
// confirmed_legit) for a decision riskgate never issued, or issued for
// another tenant, is NOT_FOUND on both APIs, every time; a label for a
// real decision is accepted, even after its outcome was reported
// (issue 10 item 7).
func TestLabelsNeedAKnownDecision(t *testing.T) {
	ts := startServer(t, testOpts{})
	risk := pb.NewRiskServiceClient(ts.grpcConn(t))
	ctx := context.Background()

	d, err := risk.Score(ctx, &pb.ScoreRequest{Attempt: aliceAt(t0, london, "laptop", pb.Result_RESULT_UNKNOWN)})
	if err != nil {
		t.Fatal(err)
	}
	// Scored before the password check: the outcome completes it.
	if code := httpDo(t, nil, "POST", ts.url("/v1/outcome"), "", map[string]any{"tenant": "acme", "decision_id": d.DecisionId, "outcome": "login_succeeded"}, nil); code != 204 {
		t.Fatalf("outcome: %d", code)
	}
	// A forged id: the real one with its last digit changed.
	forged := d.DecisionId[:len(d.DecisionId)-1] + "0"
	if forged == d.DecisionId {
		forged = d.DecisionId[:len(d.DecisionId)-1] + "1"
	}
	unknown := []struct{ name, tenant, id string }{
		{"anything", "acme", "anything"},
		{"never issued", "acme", "01KJPTP8T0Q1Q1QTDX9WZQHSKA"},
		{"forged", "acme", forged},
		{"another tenant", "other", d.DecisionId},
	}
	for _, outcome := range []string{"confirmed_fraud", "confirmed_legit"} {
		for _, u := range unknown {
			for try := range 2 {
				var e apiError
				code := httpDo(t, nil, "POST", ts.url("/v1/outcome"), "", map[string]any{"tenant": u.tenant, "decision_id": u.id, "outcome": outcome}, &e)
				if code != 404 || e.Error.Code != "not_found" || e.Error.Field != "decision_id" {
					t.Errorf("http %s %s (try %d): %d %+v, want 404 not_found on decision_id", outcome, u.name, try, code, e.Error)
				}
			}
			o := pb.Outcome_OUTCOME_CONFIRMED_FRAUD
			if outcome == "confirmed_legit" {
				o = pb.Outcome_OUTCOME_CONFIRMED_LEGIT
			}
			_, err := risk.Report(ctx, &pb.ReportRequest{Tenant: u.tenant, DecisionId: u.id, Outcome: o})
			if status.Code(err) != codes.NotFound {
				t.Errorf("grpc %s %s: %v, want NotFound", outcome, u.name, err)
			}
		}
		// The real decision, already reported: the label is kept.
		if code := httpDo(t, nil, "POST", ts.url("/v1/outcome"), "", map[string]any{"tenant": "acme", "decision_id": d.DecisionId, "outcome": outcome}, nil); code != 204 {
			t.Errorf("%s on a real decision: %d, want 204", outcome, code)
		}
	}
}
