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
// leaves the doc unusable. So does a file with anchors or aliases, or
// with rules sharing a line (a flow list): an alias's error is reported
// at its anchor's line, in another rule, and a line of two rules names
// neither, so an error could be given to the wrong rule, and the rule
// really in error compiled as if it were whole (a false "neither an
// action, a score nor a notify"): such a file gives its decode errors
// alone, as before rules were named.
func inRules(doc *fileDoc, m *yaml.Node, errs ErrorList, err error) bool {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return false // a syntax error, or one about anchors: the doc is unusable
	}
	if hasAnchors(m) {
		return false
	}
	items := ruleItems(m)
	all := len(items) == len(doc.Rules)
	for _, e := range errs {
		if j := ruleAt(items, e.Line); j < 0 {
			all = false
		} else {
			e.Rule = idOf(items[j])
		}
	}
	return all && markBroken(doc, items, errs)
}

// markBroken names the rule of each error, all of them inside items,
// the rules' mappings, and marks the error's key broken in that rule, so
// that it is neither compiled nor checked: a score that did not decode
// is no score of 0 (a false "neither an action, a score nor a notify"),
// and one refused as a fraction is not also out of range. It reports
// false, marking none, when an error is in no one rule.
func markBroken(doc *fileDoc, items []*yaml.Node, errs ErrorList) bool {
	for _, e := range errs {
		if j := ruleAt(items, e.Line); j < 0 || j >= len(doc.Rules) {
			return false
		}
	}
	for _, e := range errs {
		j := ruleAt(items, e.Line)
		if e.Rule == "" {
			e.Rule = idOf(items[j])
		}
		d := &doc.Rules[j]
		if d.broken == nil {
			d.broken = map[string]bool{}
		}
		d.broken[e.Field] = true
	}
	return true
}

// ruleItems are the rules: list's items of the file's mapping m.
func ruleItems(m *yaml.Node) []*yaml.Node {
	var items []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "rules" && m.Content[i+1].Kind == yaml.SequenceNode {
			items = m.Content[i+1].Content
		}
	}
	return items
}

// hasAnchors reports whether n or a node below it is an anchor, an alias
// or a merge key.
func hasAnchors(n *yaml.Node) bool {
	if n.Anchor != "" || n.Kind == yaml.AliasNode || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!merge" {
		return true
	}
	for _, c := range n.Content {
		if hasAnchors(c) {
			return true
		}
	}
	return false
}

// withoutRepeats is errs without the errors repeating one in before or
// an earlier one in errs: an alias's decode error repeats its anchor's
// word for word, and fractions' refusal of a score of
// 99999999999999999999 (before: the decoder's) says what the decoder's
// does, about the same key of the same line.
func withoutRepeats(before, errs ErrorList) ErrorList {
	var out ErrorList
	for _, e := range errs {
		if !repeats(e, before, true) && !repeats(e, out, false) {
			out = append(out, e)
		}
	}
	return out
}

// repeats reports whether l has an error of e's file, line and key, and
// with its message unless sameKey: one about a value on a line is about
// that line's key (keyOfLine), which errors about two keys of a flow
// mapping's line share.
func repeats(e *Error, l ErrorList, sameKey bool) bool {
	for _, p := range l {
		if p.File == e.File && p.Line == e.Line && p.Field == e.Field && (sameKey && e.Line > 0 && e.Field != "" || p.Err.Error() == e.Err.Error()) {
			return true
		}
	}
	return false
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

// ruleAt is the index of the rule of items whose lines hold line, or -1,
// also when the line holds more than one.
func ruleAt(items []*yaml.Node, line int) int {
	if line <= 0 {
		return -1
	}
	at := -1
	for j, item := range items {
		if item.Line <= line && line <= lastLine(item) {
			if at >= 0 || item.Kind != yaml.MappingNode {
				return -1 // the line holds two rules, or no rule's mapping
			}
			at = j
		}
	}
	return at
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
