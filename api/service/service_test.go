package service_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/riskgate/riskgate/api/auth"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/enginetest"
	"github.com/riskgate/riskgate/rules"
)

func newService(t *testing.T) *service.Service {
	t.Helper()
	m, err := rules.NewManager(rules.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return service.New(enginetest.New(t, engine.Options{Rules: m}), m)
}

// TestOperations: the use cases every transport shares, with their
// errors: an unknown user, a bad attempt in a rules test (its field named
// under attempt.), a candidate that does not compile (problems as data).
func TestOperations(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	if _, err := s.Profile(ctx, "", "nobody"); !errors.Is(err, service.ErrNoProfile) {
		t.Errorf("profile of nobody: %v", err)
	}
	var fe *engine.FieldError
	if _, err := s.TestRules(ctx, engine.Attempt{IP: "999.1.1.1"}, nil); !errors.As(err, &fe) || fe.Field != "attempt.ip" {
		t.Errorf("rules test of a bad attempt: %v", err)
	}
	bad := []rules.Source{{Name: "bad.yaml", Data: []byte("rules:\n  - id: x\n    description: X.\n    when: ip.nope\n    action: deny\n")}}
	v, err := s.ValidateRules(bad)
	if err != nil || v.Valid() || len(v.Problems) != 1 || v.Problems[0].File != "bad.yaml" || v.Problems[0].Line != 4 || v.Problems[0].Rule != "x" || v.Problems[0].Index != 0 {
		t.Errorf("validate: %+v %v", v, err)
	}
	var rej *rules.RejectedError
	if _, err := s.TestRules(ctx, engine.Attempt{IP: "81.2.69.160"}, bad); !errors.As(err, &rej) {
		t.Errorf("rules test with a bad candidate: %v", err)
	}
	r, err := s.TestRules(ctx, engine.Attempt{IP: "81.2.69.160"}, nil)
	if err != nil || r.Candidate.RulesVersion != s.Rules().Set.Version() || r.Current.RulesVersion != r.Candidate.RulesVersion {
		t.Errorf("rules test with the rules in force: %+v %v", r, err)
	}
}

// TestOpLevels: an operation that is not one needs admin (fail closed).
func TestOpLevels(t *testing.T) {
	if got := service.Op(0).Level(); got != auth.Admin {
		t.Errorf("the zero Op needs %s", got)
	}
	if got := service.Op(200).Level(); got != auth.Admin {
		t.Errorf("an unknown Op needs %s", got)
	}
	seen := map[string]bool{}
	for _, op := range service.Ops() {
		if !op.Valid() || seen[op.String()] {
			t.Errorf("op %d: %q", op, op)
		}
		seen[op.String()] = true
	}
}
