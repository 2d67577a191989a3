package rules

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr/file"
	"go.yaml.in/yaml/v3"

	"github.com/riskgate/riskgate/engine"
)

// Analysts read these messages, not Go: expr's type checker names the Go
// types of the environment ("type engine.GeoEnv has no field new_contry"),
// so compile errors are rewritten in the rule language's own words, with
// the documented field nearest to a typo ("did you mean `geo.new_country`?").

// docFields are the documented fields ("geo.new_country"), envGroups the
// groups ("geo"), and goNames each Go type of the environment with how a
// rule names it.
// Built at the first compile error, not at init: a start that compiles
// cleanly never needs them.
var vocabulary = sync.OnceValue(func() *vocab {
	v := &vocab{functions: functionNames()}
	v.docFields, v.envGroups, v.goNames, v.groupOf = documented()
	return v
})

type vocab struct {
	docFields, envGroups, functions []string
	goNames, groupOf                map[string]string
}

func documented() (fields, groups []string, names, groupOf map[string]string) {
	names = map[string]string{"engine.Env": "the rule environment"}
	groupOf = map[string]string{}
	env := reflect.TypeOf(engine.Env{})
	for i := range env.NumField() {
		f := env.Field(i)
		g := f.Tag.Get("expr")
		groups = append(groups, g)
		names[f.Type.String()] = "`" + g + "` (a group of fields)"
		groupOf[f.Type.String()] = g
		var walk func(t reflect.Type)
		walk = func(t reflect.Type) {
			for j := range t.NumField() {
				sf := t.Field(j)
				if sf.Anonymous {
					walk(sf.Type)
					continue
				}
				fields = append(fields, g+"."+sf.Tag.Get("expr"))
			}
		}
		walk(f.Type)
	}
	sort.Strings(fields)
	return fields, groups, names, groupOf
}

// lazyRegexp is a regexp compiled at its first use rather than at init, for
// the patterns of error paths and of loading, so that none of them is a
// cost of every process's start.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

var (
	noField     = lazyRegexp(`^type (\S+) has no field (\S+)$`)
	unknownName = lazyRegexp(`^unknown name (\S+)$`)
	unknownFunc = lazyRegexp(`^unknown func (\S+)$`)
	goType      = lazyRegexp(`\b(?:map\[string\]string|\[\]string|\[\]interface \{\}|interface \{\}|engine\.[A-Za-z]+|float64|int)\b`)
)

// explain rewrites an expr compile error of expression src for analysts,
// keeping expr's position and caret.
func explain(err error, src string) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return err
	}
	out := *fe
	v := vocabulary()
	msg := fe.Message
	switch {
	case noField().MatchString(msg):
		m := noField().FindStringSubmatch(msg)
		if g, ok := v.groupOf[m[1]]; ok {
			msg = fmt.Sprintf("%s has no field %s", g, m[2]) + didYouMean(g+"."+m[2], v.docFields)
		} else {
			msg = "no field " + m[2]
		}
	case unknownName().MatchString(msg):
		name := unknownName().FindStringSubmatch(msg)[1]
		path := pathAt(src, fe.From, name)
		msg = "unknown name " + name
		if strings.Contains(path, ".") {
			msg += didYouMean(path, v.docFields)
		} else {
			msg += didYouMean(name, append(append([]string{}, v.envGroups...), v.functions...))
		}
	case unknownFunc().MatchString(msg):
		name := unknownFunc().FindStringSubmatch(msg)[1]
		msg += didYouMean(name, v.functions)
	}
	out.Message = readable(msg)
	out.Snippet = shortSnippet(out.Snippet, src, out.Line, out.Column)
	return &out
}

// snippetWidth is how much of an expression's line an error quotes
// around its caret.
const snippetWidth = 120

// shortSnippet cuts expr's snippet, the whole line in error and a caret
// under its column, to snippetWidth characters around the column, marking
// what it left out with "…": a rule of a few thousand conditions on one
// line put the whole line, and as many dots, in the error (90 KB from
// rules check, in a PUT's answer and in the log).
func shortSnippet(snippet, src string, line, col int) string {
	lines := strings.Split(src, "\n")
	if snippet == "" || line < 1 || line > len(lines) {
		return snippet
	}
	r := []rune(strings.ReplaceAll(lines[line-1], "\t", " "))
	if len(r) <= snippetWidth {
		return snippet
	}
	col = min(max(col, 0), len(r))
	start := max(0, col-snippetWidth/2)
	end := min(len(r), start+snippetWidth)
	start = max(0, end-snippetWidth)
	var b strings.Builder
	b.WriteString("\n | ")
	dots := col - start
	if start > 0 {
		b.WriteString("…")
		dots++
	}
	b.WriteString(string(r[start:end]))
	if end < len(r) {
		b.WriteString("…")
	}
	b.WriteString("\n | ")
	b.WriteString(strings.Repeat(".", dots))
	b.WriteByte('^')
	return b.String()
}

// readable replaces what is left of Go's type names with the rule
// language's: int, float, string, list, map, or the group a rule reads.
func readable(msg string) string {
	return goType().ReplaceAllStringFunc(msg, func(t string) string {
		switch t {
		case "float64":
			return "float"
		case "int":
			return "int"
		case "map[string]string":
			return "map of string to string"
		case "[]string":
			return "list of string"
		case "[]interface {}":
			return "list"
		case "interface {}":
			return "any value"
		}
		if n, ok := vocabulary().goNames[t]; ok {
			return n
		}
		return "a value" // an engine type no rule names
	})
}

// pathAt is the dotted path that starts at rune offset from in src
// ("devise.known" for an unknown "devise"), or name when it cannot tell.
func pathAt(src string, from int, name string) string {
	r := []rune(src)
	if from < 0 || from >= len(r) {
		return name
	}
	end := from
	for end < len(r) && (r[end] == '_' || r[end] == '.' || r[end] >= 'a' && r[end] <= 'z' || r[end] >= 'A' && r[end] <= 'Z' || r[end] >= '0' && r[end] <= '9') {
		end++
	}
	p := strings.Trim(string(r[from:end]), ".")
	if !strings.HasPrefix(p, name) {
		return name
	}
	if parts := strings.Split(p, "."); len(parts) > 2 {
		p = parts[0] + "." + parts[1]
	}
	return p
}

// didYouMean is "; did you mean `x`?" for the nearest of names, or "".
func didYouMean(s string, names []string) string {
	if n := nearest(s, names); n != "" {
		return fmt.Sprintf("; did you mean `%s`?", n)
	}
	return ""
}

// Nearest returns the name of names nearest to s if it is near enough to
// be a typo of it, else "": for "did you mean" messages beyond rules (the
// configuration file's keys).
func Nearest(s string, names []string) string { return nearest(s, names) }

// nearest returns the name nearest to s by edit distance, if it is near
// enough to be a typo: at most 2 edits, or a quarter of s's length for
// long names. Ties go to the first in names.
func nearest(s string, names []string) string {
	limit := max(2, len(s)/4)
	best, bestD := "", limit+1
	for _, n := range names {
		if n == s {
			continue
		}
		if d := distance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, in bytes (rule
// names are ASCII).
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

var yamlTypeError = lazyRegexp("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")

// yamlTypeMessage rewrites the YAML decoder's "cannot unmarshal !!str
// `high` into int" as "score: want a whole number, got `high`", naming the
// key of the line (line counts from 1) when there is one.
func yamlTypeMessage(msg string, data []byte, line int) string {
	if u := yamlUnknownField().FindStringSubmatch(msg); u != nil {
		return unknownKeyMessage(u[1], u[2])
	}
	m := yamlTypeError().FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := WantedYAML(m[3])
	out := fmt.Sprintf("want %s, got `%s`", want, m[2])
	if quoted(m[1], m[2], m[3]) {
		out = fmt.Sprintf("want %s, got the quoted string %q: write it without the quotes", want, m[2])
	}
	if key := keyOfLine(data, line); key != "" {
		out = key + ": " + out
	}
	return out
}

// WantedYAML says, in a YAML file's words, what a value decoded into the
// Go type t (as the YAML decoder names it: int, *int, []string,
// time.Duration, rules.ruleDoc, map[string]any) must be: "a whole number",
// "a list", "a mapping of keys".
func WantedYAML(t string) string {
	switch t = strings.TrimPrefix(t, "*"); {
	case t == "int":
		return "a whole number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "time."):
		return "a time or duration"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.Contains(t, ".") || strings.HasPrefix(t, "map"):
		return "a mapping of keys"
	}
	return "a value of another type"
}

// quoted reports whether a string value (tag str) would have been of the
// wanted type t without its quotes: alert: "true", score: "10".
func quoted(tag, value, t string) bool {
	if tag != "str" {
		return false
	}
	switch strings.TrimPrefix(t, "*") {
	case "bool":
		var v any
		if yaml.Unmarshal([]byte(value), &v) != nil {
			return false
		}
		_, ok := v.(bool)
		return ok
	case "int":
		_, err := strconv.Atoi(value)
		return err == nil
	}
	return false
}

// yamlUnknownField is a strict decoder's unknown key: "field scroe not
// found in type rules.ruleDoc", which names a Go type the writer of a rule
// file never saw.
var yamlUnknownField = lazyRegexp(`^field (\S+) not found in type (\S+)$`)

// unknownKeyMessage says which key is unknown, and the nearest known one of
// the mapping it is in.
func unknownKeyMessage(key, goType string) string {
	var keys []string
	for _, t := range []reflect.Type{fileDocType, ruleDocType, thresholdsDocType, settingsDocType} {
		if t.String() != goType {
			continue
		}
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
					keys = append(keys, name)
				}
			}
		}
	}
	if near := nearest(key, keys); near != "" {
		return fmt.Sprintf("unknown key %q; did you mean %q?", key, near)
	}
	if len(keys) > 0 {
		return fmt.Sprintf("unknown key %q (known: %s)", key, strings.Join(keys, ", "))
	}
	return fmt.Sprintf("unknown key %q", key)
}

var yamlKey = lazyRegexp(`^\s*(?:-\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*:`)

func keyOfLine(data []byte, line int) string {
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	if m := yamlKey().FindStringSubmatch(lines[line-1]); m != nil {
		return m[1]
	}
	return ""
}
