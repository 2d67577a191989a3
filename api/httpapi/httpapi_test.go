package httpapi

import (
	"github.com/riskgate/riskgate/api/wire"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

func TestAttemptConversion(t *testing.T) {
	j := wire.AttemptJSON{IP: "192.0.2.1", Result: "password_bad", Time: "2026-05-09T11:00:00.5+02:00"}
	a, err := j.Convert("")
	if err != nil {
		t.Fatal(err)
	}
	if a.Result != engine.ResultPasswordBad || a.Time.UTC().Hour() != 9 || a.Time.Nanosecond() != 5e8 {
		t.Fatalf("%+v", a)
	}
	j.Result = "maybe"
	if _, err := j.Convert("attempt."); err == nil || !strings.HasPrefix(err.Error(), "attempt.result:") {
		t.Fatalf("bad result: %v", err)
	}
	o := wire.OutcomeJSON{Outcome: "confirmed_fraud", DecisionID: "d"}
	if out, err := o.Convert(); err != nil || out.Outcome != engine.ConfirmedFraud {
		t.Fatalf("outcome: %+v %v", out, err)
	}
}
