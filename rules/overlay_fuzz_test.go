package rules

import (
	"errors"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

// FuzzOverlay loads arbitrary overlay files: they may be rejected, never
// may they panic, and a compiled overlay composes with the default rules
// into a set that evaluates.
func FuzzOverlay(f *testing.F) {
	f.Add([]byte(acmeOverlay))
	f.Add([]byte("disable: [new-device, {x: 1}]\n"))
	f.Add([]byte("thresholds: {step_up: 1}\nrules: []\n"))
	f.Add([]byte("rules: []\n---\nrules:\n  - id: b\n    description: d\n    when: device.new\n    action: deny\n"))
	f.Add([]byte("rules:\n  - id: new-device\n    description: d\n    when: device.new\n    score: 5\n"))
	shared, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := CompileOverlay("acme", Source{Name: "fuzz.yaml", Data: data})
		if err != nil {
			var el ErrorList
			if !errors.As(err, &el) || len(el) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
			}
			return
		}
		_ = o.Check(shared)
		var v engine.Verdict
		Compose(shared, o).Evaluate(&engine.Env{}, &v)
	})
}

// FuzzSetMode edits arbitrary rule files: an edit either fails or gives a
// file that parses, whose rule a has the new mode.
func FuzzSetMode(f *testing.F) {
	f.Add([]byte(shadowFile))
	f.Add([]byte("rules:\n  - id: a\n    mode: 'shadow'\n"))
	f.Add([]byte("settings: {default_mode: shadow}\nrules:\n- id: a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := setMode(data, "a", "enforce")
		if err != nil {
			return
		}
		if _, perr := parse(Source{Name: "x.yaml", Data: out}); perr != nil {
			if _, orig := parse(Source{Name: "x.yaml", Data: data}); orig == nil {
				t.Fatalf("a file that parsed no longer does after the edit:\n%s\n---\n%s\n%v", data, out, perr)
			}
		}
	})
}
