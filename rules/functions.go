package rules

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr"

	"github.com/riskgate/riskgate/engine"
)

// function is a function rules can call besides expr's built-ins. The
// compiler registers these and the reference documents these, from this
// one list, so that a function cannot be added without its documentation
// and an example (which a test compiles and runs).
type function struct {
	name      string
	signature string
	doc       string
	// example is an expression over exampleEnv; the reference shows it and
	// what it gives.
	example string
	fn      func(params ...any) (any, error)
	types   []any
}

var customFunctions = []function{
	{
		name:      "sprintf",
		signature: "sprintf(format, args...) → string",
		doc:       "Formats a reason message, Go's fmt verbs: `%s` a string, `%d` an int, `%.0f` a float without decimals, `%v` any value. Use it in a rule's `reason:` to say what the rule saw. The format must be a constant string (the rule's cost counts what it can print).",
		example:   `sprintf("%.0f km/h from %s in %.1f hours", geo.speed_kmh, geo.previous_country, geo.hours_since_last)`,
		fn:        sprintf,
		types:     []any{new(func(string, ...any) string)},
	},
}

// exampleEnv is the environment the reference's examples run on.
func exampleEnv() *engine.Env {
	return &engine.Env{Geo: engine.GeoEnv{SpeedKMH: 2712.4, PreviousCountry: "FR", HoursSince: 3.5}}
}

func functionOptions() []expr.Option {
	opts := make([]expr.Option, len(customFunctions))
	for i, f := range customFunctions {
		opts[i] = expr.Function(f.name, f.fn, f.types...)
	}
	return opts
}

func functionNames() []string {
	names := make([]string, len(customFunctions))
	for i, f := range customFunctions {
		names[i] = f.name
	}
	return names
}

// sprintf formats reason messages: sprintf("%.0f km/h", geo.speed_kmh).
func sprintf(args ...any) (any, error) {
	format, ok := args[0].(string)
	if !ok {
		return nil, errors.New("sprintf: format must be a string")
	}
	return fmt.Sprintf(format, args[1:]...), nil
}

// runExample compiles and runs a function's example on exampleEnv.
func runExample(f function) (string, error) {
	p, err := expr.Compile(f.example, exprOptions()...)
	if err != nil {
		return "", fmt.Errorf("%s: example: %w", f.name, err)
	}
	out, err := expr.Run(p, *exampleEnv())
	if err != nil {
		return "", fmt.Errorf("%s: example: %w", f.name, err)
	}
	return fmt.Sprintf("%#v", out), nil
}

// writeFunctions renders the functions section of the reference.
func writeFunctions(b *strings.Builder) {
	b.WriteString("## Functions\n\n")
	b.WriteString("Besides expr's [built-in functions](https://expr-lang.org/docs/language-definition) (`len`, `any`, `all`, `filter`, `upper`, `lower`, `trim`, ...),\n")
	b.WriteString("rules can call these. `now()` is disabled so that rules decide the same way in a replay as live: read `attempt.hour` and `attempt.weekday` instead.\n\n")
	b.WriteString("| function | what it does | example | gives |\n| --- | --- | --- | --- |\n")
	for _, f := range customFunctions {
		got, err := runExample(f)
		if err != nil {
			got = "error: " + err.Error()
		}
		fmt.Fprintf(b, "| `%s` | %s | `%s` | `%s` |\n", f.signature, strings.ReplaceAll(f.doc, "|", `\|`), strings.ReplaceAll(f.example, "|", `\|`), strings.ReplaceAll(got, "|", `\|`))
	}
	b.WriteString("\nThe examples run on an attempt whose `geo.speed_kmh` is 2712.4, `geo.previous_country` \"FR\" and `geo.hours_since_last` 3.5.\n\n")
}
