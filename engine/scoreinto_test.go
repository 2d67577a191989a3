package engine_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

// TestScoreIntoDecidesAsScore: two engines on the same clock and history,
// one scored with Score and one with ScoreInto into a Decision that held
// another decision before, decide every attempt of a history alike (but
// for their random ids); an invalid attempt leaves the zero Decision.
func TestScoreIntoDecidesAsScore(t *testing.T) {
	ctx := context.Background()
	byScore, byInto := newHarness(t, nil), newHarness(t, nil)
	attempts := []engine.Attempt{paris(t0.Add(-72 * time.Hour)), paris(t0.Add(-48 * time.Hour)), paris(t0.Add(-24 * time.Hour))}
	travel := paris(t0.Add(-23 * time.Hour))
	travel.IP, travel.DeviceID, travel.Geo = "1.0.16.1", "phone-9", &engine.GeoHint{Country: "JP", Lat: ptr(35.68), Lon: ptr(139.69)}
	failed := paris(t0)
	failed.Result = engine.ResultPasswordBad
	attempts = append(attempts, travel, failed)
	var into engine.Decision
	for i, a := range attempts {
		want, err := byScore.e.Score(ctx, a)
		if err != nil {
			t.Fatalf("attempt %d: Score: %v", i, err)
		}
		if err := byInto.e.ScoreInto(ctx, &a, &into); err != nil {
			t.Fatalf("attempt %d: ScoreInto: %v", i, err)
		}
		if into.DecisionID == "" || into.DecisionID == want.DecisionID {
			t.Fatalf("attempt %d: decision ids %q and %q: each Score its own", i, into.DecisionID, want.DecisionID)
		}
		got := into
		got.DecisionID, got.AttemptID = want.DecisionID, want.AttemptID // random ids, the attempt's defaulting to the decision's
		if !reflect.DeepEqual(got, want) {
			t.Errorf("attempt %d: ScoreInto decided\n%+v\nScore decided\n%+v", i, got, want)
		}
	}
	if into.Action != engine.ActionDeny && into.Action != engine.ActionStepUp && into.Action != engine.ActionAllow {
		t.Fatalf("last action %q", into.Action)
	}
	bad := paris(t0)
	bad.IP = "not an address"
	err := byInto.e.ScoreInto(ctx, &bad, &into)
	if !errors.Is(err, engine.ErrInvalid) {
		t.Fatalf("invalid attempt: %v, want ErrInvalid", err)
	}
	if !reflect.DeepEqual(into, engine.Decision{}) {
		t.Errorf("after an invalid attempt the Decision is %+v, want the zero Decision", into)
	}
}
