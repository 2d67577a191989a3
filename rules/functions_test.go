package rules

import (
	"strings"
	"testing"
)

// TestFunctionsDocumented: every function rules can call has its
// documentation and an example in the reference, and the example compiles
// and runs: the reference cannot show a function that does not work.
func TestFunctionsDocumented(t *testing.T) {
	ref := Reference()
	if len(customFunctions) == 0 {
		t.Fatal("no functions")
	}
	for _, f := range customFunctions {
		if f.doc == "" || f.example == "" || !strings.Contains(f.example, f.name+"(") {
			t.Errorf("%s: documentation or example missing", f.name)
		}
		got, err := runExample(f)
		if err != nil {
			t.Errorf("%s: %v", f.name, err)
		}
		if !strings.Contains(ref, "`"+f.signature+"`") || !strings.Contains(ref, "`"+got+"`") {
			t.Errorf("the reference lacks %s or its result %s", f.signature, got)
		}
	}
	if got, _ := runExample(customFunctions[0]); got != `"2712 km/h from FR in 3.5 hours"` {
		t.Errorf("sprintf example gives %s", got)
	}
	// A rule can call each one, in a reason.
	_, err := Compile(Source{Name: "f.yaml", Data: []byte("rules:\n  - id: f\n    description: F.\n    when: geo.impossible_travel\n    reason: " + `sprintf("%.0f km/h", geo.speed_kmh)` + "\n    action: deny\n")})
	if err != nil {
		t.Fatal(err)
	}
}
