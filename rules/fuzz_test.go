package rules

import (
	"errors"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

// FuzzCompile loads arbitrary rule files: they may be rejected, never may
// they panic, and a compiled set must evaluate without panicking.
func FuzzCompile(f *testing.F) {
	f.Add([]byte(DefaultSource().Data))
	f.Add([]byte("rules:\n  - id: a\n    description: d\n    when: ip.failures_10m > 3 && \"x\" in ip.lists\n    action: deny\n"))
	f.Add([]byte("thresholds: {step_up: 1, deny: 2}\nrules:\n  - id: a\n    description: d\n    when: |\n      geo.speed_kmh / user.logins > 2\n    score: 5\n    reason: sprintf(\"%v\", attempt.attributes)\n"))
	f.Add([]byte("rules: [ {id: x} ]"))
	f.Add([]byte("{{{"))
	f.Add([]byte("rules: []\n---\nrules:\n  - id: b\n    description: d\n    when: device.new\n    action: deny\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Compile(Source{Name: "fuzz.yaml", Data: data})
		if err != nil {
			var el ErrorList
			if !errors.As(err, &el) || len(el) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
			}
			return
		}
		var v engine.Verdict
		s.Evaluate(&engine.Env{}, &v)
		env := engine.Env{IP: engine.IPEnv{Lists: []string{"x"}}, User: engine.UserEnv{Logins: 3}, Geo: engine.GeoEnv{SpeedKMH: 9}}
		s.Evaluate(&env, &v)
	})
}
