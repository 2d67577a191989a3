package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// TestReportByAttemptReusedID: an outcome sent with its attempt under an
// attempt_id another attempt had used (another user's: a client whose ids
// restart, two processes counting alike) answered OK and counted nothing,
// taken for a retry of the first; Score refuses such a reuse, but an
// outcome's failure is evidence, and it is now counted, once.
func TestReportByAttemptReusedID(t *testing.T) {
	tests := []struct {
		name    string
		scored  bool // the first attempt was scored under the id, and failed
		result  engine.Result
		outcome engine.OutcomeKind
	}{
		{"an outcome's id reused", false, engine.ResultUnknown, engine.LoginFailed},
		{"an outcome's id reused by a failed attempt", false, engine.ResultPasswordBad, engine.LoginFailed},
		{"a failed Score's id reused", true, engine.ResultPasswordBad, engine.LoginFailed},
		{"a failed Score's id reused by a step-up failure", true, engine.ResultUnknown, engine.StepUpFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			ctx := context.Background()
			first := paris(t0)
			first.AttemptID, first.Result = "a-1", tt.result
			if tt.scored {
				first.Result = engine.ResultPasswordBad
				h.score(t, first)
			} else if err := h.e.Report(ctx, engine.Outcome{Attempt: &first, Outcome: tt.outcome}); err != nil {
				t.Fatal(err)
			}
			other := paris(t0.Add(time.Second))
			other.AttemptID, other.UserID, other.Username, other.Result = "a-1", "u-bob", "bob@example.com", tt.result
			for range 2 { // the second is a retry: counted once
				if err := h.e.Report(ctx, engine.Outcome{Attempt: &other, Outcome: tt.outcome}); err != nil {
					t.Fatal(err)
				}
			}
			probe := paris(t0.Add(time.Minute))
			probe.Result = engine.ResultUnknown
			if got := h.score(t, probe).Signals.IP.Failures10m; got != 2 {
				t.Errorf("address failures: %d, want 2 (alice's and bob's)", got)
			}
			probe.UserID, probe.Username = "u-bob", "bob@example.com"
			if got := h.score(t, probe).Signals.Account.Failures1h; got != 1 {
				t.Errorf("bob's account failures: %d, want 1", got)
			}
		})
	}
}
