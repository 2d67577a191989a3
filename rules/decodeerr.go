package rules

import (
	"errors"

	"go.yaml.in/yaml/v3"
)

// inRules names the rule of each decode error (the decoder gives lines,
// and a file's errors read `file:line: rule "id": ...` as the compiler's
// do) and reports whether every error is inside one of the rules, each
// a value of the wrong type or an unknown key, which the decoder skips
// and goes on: doc then holds the rest, and the rules in error are
// marked broken, naming the keys in error. An error elsewhere (the thresholds, a syntax error)
// leaves the doc unusable.
func inRules(doc *fileDoc, m *yaml.Node, errs ErrorList, err error) bool {
	var items []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "rules" && m.Content[i+1].Kind == yaml.SequenceNode {
			items = m.Content[i+1].Content
		}
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return false // a syntax error, or one about anchors: the doc is unusable
	}
	all := len(items) == len(doc.Rules)
	for _, e := range errs {
		j := ruleAt(items, e.Line)
		if j < 0 {
			all = false
			continue
		}
		e.Rule = idOf(items[j])
		if all {
			d := &doc.Rules[j]
			if d.broken == nil {
				d.broken = map[string]bool{}
			}
			d.broken[e.Field] = true
		}
	}
	if !all {
		for i := range doc.Rules {
			doc.Rules[i].broken = nil
		}
	}
	return all
}

// otherErrors are the compile errors of a rule that did not decode whole
// about its keys that did (a when: typo beside a score: of the wrong
// type), but the one about the rule as a whole, which may only say that
// the keys in error were left out.
func (d *ruleDoc) otherErrors(errs ErrorList) ErrorList {
	var out ErrorList
	for _, e := range errs {
		if e.Field != "" && !d.broken[e.Field] {
			out = append(out, e)
		}
	}
	return out
}

// ruleAt is the index of the rule of items whose lines hold line, or -1.
func ruleAt(items []*yaml.Node, line int) int {
	if line <= 0 {
		return -1
	}
	for j, item := range items {
		if item.Kind == yaml.MappingNode && item.Line <= line && line <= lastLine(item) {
			return j
		}
	}
	return -1
}

// lastLine is the last line a node's text starts a value on.
func lastLine(n *yaml.Node) int {
	l := n.Line
	for _, c := range n.Content {
		l = max(l, lastLine(c))
	}
	return l
}

// idOf is a rule mapping's id, when it is a plain value.
func idOf(item *yaml.Node) string {
	for k := 0; k+1 < len(item.Content); k += 2 {
		if v := item.Content[k+1]; item.Content[k].Value == "id" && v.Kind == yaml.ScalarNode && validID(v.Value) {
			return v.Value
		}
	}
	return ""
}
