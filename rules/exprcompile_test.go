package rules

import (
	"os"
	"reflect"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// exprCases are expressions that compile and expressions that do not, each
// with the kind a rule expects of it: every error path of expr.Compile
// (parse, check, the expected kind, the optimizer folding a constant
// error) and the shapes the rules use (fields at several depths, maps,
// functions, builtins, constants folded).
var exprCases = []struct {
	src  string
	kind reflect.Kind
}{
	{`attempt.failed && ip.usernames_10m >= 20`, reflect.Bool},
	{`geo.speed_kmh > 900 and geo.previous_country != geo.country`, reflect.Bool},
	{`attempt.attributes["risk"] == "high" || attempt.channel in ["api", "sso"]`, reflect.Bool},
	{`len(attempt.user_agent) > 512 and upper(attempt.channel) == "WEB"`, reflect.Bool},
	{`any(["a", "b"], # == attempt.channel)`, reflect.Bool},
	{`rba.score > 2 * 1.5 and not user.known`, reflect.Bool},
	{`sprintf("%.0f km/h from %s", geo.speed_kmh, geo.previous_country)`, reflect.String},
	{`"new device: " + device.family`, reflect.String},
	{`attempt.hour`, reflect.Bool},                   // not a bool
	{`attempt.failed`, reflect.String},               // not a string
	{`attempt.no_such_field > 1`, reflect.Bool},      // unknown field
	{`ip.usernames_10m > "ten"`, reflect.Bool},       // mismatched types
	{`now().Hour() > 3`, reflect.Bool},               // disabled builtin
	{`attempt.failed &&`, reflect.Bool},              // syntax
	{`1 / 0 > 1`, reflect.Bool},                      // folded by the optimizer
	{`sprintf(1, 2) == ""`, reflect.Bool},            // a function's types
	{"attempt.failed\n  && geo.nope", reflect.Bool},  // an error's line
	{`[1, 2, 3][5] == 1`, reflect.Bool},              // folded index out of range
	{`let x = ip.usernames_1h; x > 3`, reflect.Bool}, // variables
	{`attempt.channel matches "^(api|web)$"`, reflect.Bool},
	{`[attempt.failed, "a"][0]`, reflect.Bool}, // of no known type: expected kinds allow it
}

// compileBoth compiles src with x and with expr.Compile, and fails t unless
// both give the same program or the same error.
func compileBoth(t *testing.T, x *exprCompiler, src string, kind reflect.Kind) {
	t.Helper()
	got, gerr := x.compile(src, kind)
	want, werr := expr.Compile(src, exprOptions(expr.AsKind(kind))...)
	if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
		t.Fatalf("%q as %v: error %v, expr.Compile's %v", src, kind, gerr, werr)
	}
	if werr != nil {
		return
	}
	if g, w := programText(got), programText(want); g != w {
		t.Fatalf("%q as %v: program\n%s\nexpr.Compile's\n%s", src, kind, g, w)
	}
}

func programText(p *vm.Program) string { return p.Node().String() + "\n" + p.Disassemble() }

// TestExprCompilerMatchesExpr: one shared compiler, used for every
// expression of the repository's rule files and the cases above in turn,
// compiles each exactly as expr.Compile does on its own: what one
// expression leaves in the shared cache changes no other.
func TestExprCompilerMatchesExpr(t *testing.T) {
	x := newExprCompiler()
	files := []string{"default.yaml", "backtest/testdata/baseline.yaml", "backtest/testdata/candidate.yaml", "../api/alert/testdata/rules.yaml"}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, errs := parse(Source{Name: f, Data: data})
		if errs != nil {
			t.Fatalf("%s: %v", f, errs)
		}
		for _, r := range doc.Rules {
			compileBoth(t, x, r.When.Value, reflect.Bool)
			n++
			if r.Reason.Value != "" {
				compileBoth(t, x, r.Reason.Value, reflect.String)
				n++
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d expressions in the rule files", n)
	}
	// Twice, so that each case also runs after all the others.
	for range 2 {
		for _, c := range exprCases {
			compileBoth(t, x, c.src, c.kind)
		}
	}
}

// FuzzExprCompilerMatchesExpr: for any expression, the shared compiler
// and expr.Compile agree, with one compiler kept across the inputs.
func FuzzExprCompilerMatchesExpr(f *testing.F) {
	for _, c := range exprCases {
		f.Add(c.src, c.kind == reflect.Bool)
	}
	x := newExprCompiler()
	f.Fuzz(func(t *testing.T, src string, asBool bool) {
		kind := reflect.String
		if asBool {
			kind = reflect.Bool
		}
		compileBoth(t, x, src, kind)
	})
}
