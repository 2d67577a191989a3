package httpapi

import (
	"reflect"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

func jsonNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

// TestRequestTypesMirrorEngine: the request types decode exactly the JSON
// fields of the engine's types, so the HTTP API takes what the README documents.
func TestRequestTypesMirrorEngine(t *testing.T) {
	for _, c := range []struct{ api, eng reflect.Type }{
		{reflect.TypeOf(attemptJSON{}), reflect.TypeOf(engine.Attempt{})},
		{reflect.TypeOf(outcomeJSON{}), reflect.TypeOf(engine.Outcome{})},
	} {
		if a, e := jsonNames(c.api), jsonNames(c.eng); !reflect.DeepEqual(a, e) {
			t.Errorf("%s decodes %v; %s has %v", c.api, a, c.eng, e)
		}
	}
}

func TestAttemptConversion(t *testing.T) {
	j := attemptJSON{IP: "192.0.2.1", Result: "password_bad", Time: "2026-05-09T11:00:00.5+02:00"}
	a, err := j.attempt("")
	if err != nil {
		t.Fatal(err)
	}
	if a.Result != engine.ResultPasswordBad || a.Time.UTC().Hour() != 9 || a.Time.Nanosecond() != 5e8 {
		t.Fatalf("%+v", a)
	}
	j.Result = "maybe"
	if _, err := j.attempt("attempt."); err == nil || !strings.HasPrefix(err.Error(), "attempt.result:") {
		t.Fatalf("bad result: %v", err)
	}
	o := outcomeJSON{Outcome: "confirmed_fraud", DecisionID: "d"}
	if out, err := o.outcome(); err != nil || out.Outcome != engine.ConfirmedFraud {
		t.Fatalf("outcome: %+v %v", out, err)
	}
}
