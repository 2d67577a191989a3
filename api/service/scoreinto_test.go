package service_test

import (
	"context"
	"log/slog"
	"reflect"
	"testing"

	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/enginetest"
	"github.com/riskgate/riskgate/rules"
)

// wrapped is an Engine that is not an *engine.Engine, as a test's or an
// embedder's may be: ScoreInto goes through its Score.
type wrapped struct{ service.Engine }

func attempt() engine.Attempt {
	return engine.Attempt{UserID: "u-1", Username: "alice", IP: "81.2.69.160", DeviceID: "d-1", Result: engine.ResultPasswordOK}
}

// TestScoreIntoEitherEngine: the service decides into the caller's
// Decision the same way whether its engine is an *engine.Engine (called
// directly) or another Engine (through Score).
func TestScoreIntoEitherEngine(t *testing.T) {
	ctx := context.Background()
	m, err := rules.NewManager(rules.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]service.Engine{
		"direct":  enginetest.New(t, engine.Options{Rules: m}),
		"wrapped": wrapped{enginetest.New(t, engine.Options{Rules: m})},
	} {
		s := service.New(e, m)
		a := attempt()
		var d engine.Decision
		if err := s.ScoreInto(ctx, &a, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.DecisionID == "" || d.Action != engine.ActionAllow || d.Signals.Attempt.UserID != "u-1" {
			t.Errorf("%s: decided %+v", name, d)
		}
		a.IP = "999.1.1.1"
		if err := s.ScoreInto(ctx, &a, &d); err == nil {
			t.Fatalf("%s: an invalid attempt decided", name)
		}
		if !reflect.DeepEqual(d, engine.Decision{}) {
			t.Errorf("%s: after an invalid attempt the Decision is %+v", name, d)
		}
	}
}

// TestScoreIntoAllocatesAsTheEngine: deciding through the service
// allocates no more than deciding with the engine itself. A Decision
// passed through an interface's method escapes, and a server's Decision
// (1.2 KB) would be allocated on every call.
func TestScoreIntoAllocatesAsTheEngine(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; checked by the non-race run")
	}
	ctx := context.Background()
	m, err := rules.NewManager(rules.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := enginetest.New(t, engine.Options{Rules: m})
	s := service.New(e, m)
	a := attempt()
	// Each called directly, not through a function value: a pointer
	// passed to one escapes, and both would allocate the Decision.
	byEngine := func() float64 {
		return testing.AllocsPerRun(300, func() {
			var d engine.Decision
			if err := e.ScoreInto(ctx, &a, &d); err != nil {
				t.Fatal(err)
			}
		})
	}
	byService := func() float64 {
		return testing.AllocsPerRun(300, func() {
			var d engine.Decision
			if err := s.ScoreInto(ctx, &a, &d); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Alternated, the least of each kept: a pool emptied by a collection
	// costs a run an allocation now and then.
	minEngine, minService := byEngine(), byService()
	for range 2 {
		minEngine, minService = min(minEngine, byEngine()), min(minService, byService())
	}
	t.Logf("allocations a Score: %.1f by the engine, %.1f through the service", minEngine, minService)
	if minService > minEngine {
		t.Errorf("%.1f allocations a Score through the service, %.1f by the engine itself", minService, minEngine)
	}
}
