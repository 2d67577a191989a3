package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// A login scored twice (before the password check, then with its result)
// reports the second decision's outcome: the first, marked BeforePassword,
// must hold nothing, or every two-step login leaves a pending decision
// until it expires.
func TestBeforePasswordHoldsNothing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		attempt func(last time.Time) engine.Attempt
		action  engine.Action
	}{
		{"allow", func(last time.Time) engine.Attempt {
			a := paris(last.Add(24 * time.Hour))
			a.Result = engine.ResultUnknown
			return a
		}, engine.ActionAllow},
		{"step_up", func(last time.Time) engine.Attempt {
			a := paris(last.Add(48 * time.Hour))
			a.Result, a.DeviceID = engine.ResultUnknown, "new-phone"
			a.Geo = &engine.GeoHint{Country: "JP", Lat: ptr(35.68), Lon: ptr(139.69)}
			return a
		}, engine.ActionStepUp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, before := range []bool{false, true} {
				h := newHarness(t, nil)
				a := tc.attempt(h.train(t, 3))
				a.BeforePassword = before
				d := h.score(t, a)
				if d.Action != tc.action {
					t.Fatalf("before_password %v: %s %v, want %s", before, d.Action, ruleIDs(d.Reasons), tc.action)
				}
				if got, want := h.store.Stats().Pending.Entries, map[bool]int{false: 1, true: 0}[before]; got != want {
					t.Errorf("before_password %v: %d pending decisions, want %d", before, got, want)
				}
				o := engine.LoginSucceeded
				if tc.action == engine.ActionStepUp {
					o = engine.StepUpPassed
				}
				err := h.e.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: o})
				switch {
				case before && !errors.Is(err, engine.ErrUnknownDecision):
					t.Errorf("outcome of a before_password decision: %v, want ErrUnknownDecision", err)
				case !before && err != nil:
					t.Errorf("outcome of a decision scored at one point: %v", err)
				}
				// An analyst's label needs no pending decision.
				if err := h.e.Report(ctx, engine.Outcome{DecisionID: d.DecisionID, Outcome: engine.ConfirmedLegit}); err != nil {
					t.Errorf("label of a before_password %v decision: %v", before, err)
				}
			}
		})
	}
}

func TestBeforePasswordWantsResultUnknown(t *testing.T) {
	h := newHarness(t, nil)
	for _, r := range []engine.Result{engine.ResultPasswordOK, engine.ResultPasswordBad, engine.ResultNoSuchUser} {
		a := paris(t0)
		a.Result, a.BeforePassword = r, true
		_, err := h.e.Score(context.Background(), a)
		var fe *engine.FieldError
		if !errors.As(err, &fe) || fe.Field != "before_password" || !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("before_password with result %s: %v, want a field error naming before_password", r, err)
		}
	}
	if st := h.store.Stats(); st.Accounts.Entries != 0 || st.Windows.Entries != 0 {
		t.Errorf("a refused attempt reached the store: %+v", st)
	}
}
