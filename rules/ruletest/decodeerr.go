package ruletest

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/riskgate/riskgate/rules"
)

// decodeMessage says a strict decode's error of the test file path: each
// of a *yaml.TypeError's errors on a line of its own, as path:line:
// message, an unknown key with the known key nearest to it, as rules
// check says a rule file's ("unmarshal errors:\n  line 12: unknown key
// \"actoin\"" named no file at the line, and no key to use instead).
func decodeMessage(path string, err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return path + ": " + yamlMessage(err)
	}
	lines := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		m := decodeLine.FindStringSubmatch(e)
		if m == nil {
			lines = append(lines, path+": "+yamlMessage(errors.New(e)))
			continue
		}
		msg := m[2]
		if u := unknownFieldOf.FindStringSubmatch(msg); u != nil {
			msg = fmt.Sprintf("unknown key %q", u[1])
			if keys := docKeys()[u[2]]; len(keys) > 0 {
				if near := rules.Nearest(u[1], keys); near != "" {
					msg += fmt.Sprintf("; did you mean %q?", near)
				} else {
					msg += " (known: " + strings.Join(keys, ", ") + ")"
				}
			}
		} else {
			msg = yamlMessage(errors.New(msg))
		}
		lines = append(lines, fmt.Sprintf("%s:%s: %s", path, m[1], msg))
	}
	return strings.Join(lines, "\n")
}

var (
	decodeLine     = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownFieldOf = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
)

// docKeys are the keys of each mapping of a test file, by the Go type the
// decoder names in its errors.
var docKeys = sync.OnceValue(func() map[string][]string {
	out := map[string][]string{}
	for _, t := range []reflect.Type{reflect.TypeFor[fileDoc](), reflect.TypeFor[testDoc](), reflect.TypeFor[eventDoc](), reflect.TypeFor[expectDoc]()} {
		var keys []string
		for i := range t.NumField() {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
				keys = append(keys, name)
			}
		}
		out[t.String()] = keys
	}
	return out
})

var (
	unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)
	wrongType    = regexp.MustCompile("cannot unmarshal !!\\w+ `([^`]*)` into (\\S+)")
)

// yamlMessage says a strict decode's error without Go types: field
// repaet not found in type ruletest.eventDoc is unknown key "repaet".
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = unknownField.ReplaceAllString(msg, `unknown key "$1"`)
	return wrongType.ReplaceAllStringFunc(msg, func(m string) string {
		sub := wrongType.FindStringSubmatch(m)
		return "want " + rules.WantedYAML(sub[2]) + ", got `" + sub[1] + "`"
	})
}
