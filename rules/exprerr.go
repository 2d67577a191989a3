package rules

import (
	"reflect"
	"regexp"
	"strings"

	"github.com/riskgate/riskgate/engine"
)

// groups maps the Go type of each group of rule fields (engine.GeoEnv) to
// its name in rules (geo) and its fields' names.
var groups = func() map[string]group {
	m := map[string]group{}
	env := reflect.TypeOf(engine.Env{})
	for i := range env.NumField() {
		f := env.Field(i)
		g := group{name: f.Tag.Get("expr")}
		if f.Type.Kind() == reflect.Struct {
			for j := range f.Type.NumField() {
				if n := f.Type.Field(j).Tag.Get("expr"); n != "" {
					g.fields = append(g.fields, n)
				}
			}
		}
		m[f.Type.String()] = g
	}
	return m
}()

type group struct {
	name   string
	fields []string
}

var (
	noField     = regexp.MustCompile(`type \*?(engine\.\w+) has no field (\w+)`)
	unknownName = regexp.MustCompile(`unknown name (\w+)`)
	goTypeName  = regexp.MustCompile(`\*?engine\.(\w+)`)
)

// explainExprError rewrites an expr compile error in the words of the
// rule language: the group of fields (geo) rather than the Go type behind
// it (engine.GeoEnv), and the closest field name when one is near enough
// to be a typo ("did you mean geo.new_country?").
func explainExprError(err error) error {
	msg := err.Error()
	head, rest, _ := strings.Cut(msg, "\n")
	if m := noField.FindStringSubmatchIndex(head); m != nil {
		g := groups[head[m[2]:m[3]]]
		field := head[m[4]:m[5]]
		repl := g.name + " has no field " + field
		if s := closest(field, g.fields); s != "" {
			repl += " (did you mean " + g.name + "." + s + "?)"
		}
		head = head[:m[0]] + repl + head[m[1]:]
	} else if m := unknownName.FindStringSubmatchIndex(head); m != nil {
		var names []string
		for _, g := range groups {
			names = append(names, g.name)
		}
		if s := closest(head[m[2]:m[3]], names); s != "" {
			head = head[:m[1]] + " (did you mean " + s + "?)" + head[m[1]:]
		}
	}
	head = goTypeName.ReplaceAllStringFunc(head, func(t string) string {
		if g, ok := groups[strings.TrimPrefix(t, "*")]; ok {
			return g.name
		}
		return t
	})
	if rest != "" {
		head += "\n" + rest
	}
	return &explained{msg: head, err: err}
}

type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// closest returns the candidate within an edit distance of 2 of s (and
// less than half its length), the nearest, or "".
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(s, c); d < bestD && d*2 < len(s) {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance of two short names.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
