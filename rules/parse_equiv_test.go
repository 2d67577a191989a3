package rules

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// strictDecode is the reference parse used to do: a second, KnownFields
// decode of the text. parse's single decode must give the same document,
// or the same errors, for every input.
func strictDecode(src Source) (*fileDoc, ErrorList) {
	var doc fileDoc
	dec := yaml.NewDecoder(bytes.NewReader(src.Data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		errs := yamlErrors(src.Name, src.Data, err)
		var root yaml.Node
		if yaml.Unmarshal(src.Data, &root) == nil && len(root.Content) == 1 {
			inRules(&doc, root.Content[0], errs, err) // the rules' ids
		}
		return nil, errs
	}
	return &doc, nil
}

func checkParseMatchesStrict(t *testing.T, data []byte) {
	t.Helper()
	src := Source{Name: "r.yaml", Data: data}
	got, gerrs := parse(src)
	if gerrs != nil {
		// parse's own checks (empty file, a second document, not a
		// mapping) come before any decode; past them, its errors are the
		// strict decoder's.
		if got != nil && !hasBroken(got) {
			t.Fatalf("%q: doc and errors both set, no rule broken", data)
		}
		var root, next yaml.Node
		docs := yaml.NewDecoder(bytes.NewReader(data))
		if docs.Decode(&root) != nil || docs.Decode(&next) != io.EOF || root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
			return
		}
		if doc, werrs := strictDecode(src); werrs == nil && (fractions(src, root.Content[0]) != nil || doc.Version != "" && !validLabel(doc.Version)) {
			return // parse's own checks, past the decode
		}
		_, want := strictDecode(src)
		// (A doc decoded but for some rules comes with the fractions
		// found in the others.)
		if gerrs.Error() != want.Error() && (got == nil || !strings.HasPrefix(gerrs.Error(), want.Error()+"\n")) {
			t.Fatalf("%q: errors\n%v\nwant the strict decoder's\n%v", data, gerrs, want)
		}
		return
	}
	want, werrs := strictDecode(src)
	if werrs != nil {
		t.Fatalf("%q: parse accepted what the strict decoder refuses: %v", data, werrs)
	}
	// Compare the decoded fields; line numbers are parse's own addition.
	got.versionLine = 0
	if got.Thresholds != nil {
		got.Thresholds.line = 0
	}
	for i := range got.Rules {
		got.Rules[i].line, got.Rules[i].lines = 0, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: doc\n%+v\nwant\n%+v", data, got, want)
	}
}

// TestParseMatchesStrictDecode: decoding the parsed tree once, with keys
// checked on the tree, gives exactly what the strict decoder of the text
// gives: the same documents, and for bad input the same messages in the
// same order (unknown keys, aliases, merge keys, tagged keys, wrong types).
func TestParseMatchesStrictDecode(t *testing.T) {
	inputs := []string{
		"rules:\n  - id: a\n    description: d\n    when: \"true\"\n    action: deny\n",
		"rule:\n  - id: a\n",
		"rules:\n  - id: a\n    description: d\n    when: \"true\"\n    acton: deny\n",
		"rules:\n  - id: a\n    acton: deny\n    score: high\n",
		"rules:\n  - id: a\n    score: high\n    acton: deny\n",
		"thresholds: {step_up: 1, deny: 2, allow: 3}\nrules: []\n",
		"thresholds: high\nrules: []\n",
		"thresholds: {step_up: x}\nrules: []\n",
		"settings: {default_mode: shadow, extra: 1}\nrules: []\n",
		"settings: ~\nthresholds: ~\nrules: ~\n",
		"rules: [ {id: x} ]",
		"rules: [ ~, {id: x} ]",
		"rules: [ 1, {id: x} ]",
		"rules: {id: x}\n",
		"base: &b {id: a, description: d, when: \"true\", action: deny}\nrules: [*b]\n",
		"rules:\n  - &b {id: a, description: d, when: \"true\", action: deny}\n  - *b\n",
		"rules:\n  - <<: {id: a, description: d}\n    when: \"true\"\n",
		"rules:\n  - <<: {id: a, acton: d}\n    when: \"true\"\n",
		"rules:\n  - !!str id: a\n",
		"rules:\n  - !!binary aWQ=: a\n",
		"rules:\n  - 1: a\n",
		"rules:\n  - ? [a]\n    : b\n",
		"rules:\n  - id: a\n    id: b\n",
		"rules: []\nrules: []\n",
		"rules:\n  - id: a\n    when: {x: 1}\n    reason: [a]\n    tags: [a, b]\n",
		"rules:\n  - id: a\n    tags: a\n",
		"version: 2\ndisable: [a, {x: y}]\nrules: []\n",
		"rules: []\n---\nrules: [x]\n",
		"\"rules\": [{\"id\": \"a\", \"Action\": \"deny\"}]\n",
		"Rules: []\n",
		"rules:\n  - id: a\n    score: 99.9\n",
		"thresholds: {step_up: 1.5, deny: x}\nrules: []\n",
		"version: \"a b\"\nrules: []\n",
	}
	for _, in := range inputs {
		checkParseMatchesStrict(t, []byte(in))
	}
	checkParseMatchesStrict(t, DefaultSource().Data)
	files, _ := filepath.Glob("../examples/*/*.yaml")
	more, _ := filepath.Glob("../testdata/*.yaml")
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkParseMatchesStrict(t, data)
	}
}

// FuzzParseMatchesStrictDecode: the same comparison on arbitrary input.
func FuzzParseMatchesStrictDecode(f *testing.F) {
	f.Add(DefaultSource().Data)
	f.Add([]byte("rules:\n  - <<: {id: a, acton: d}\n    when: \"true\"\n"))
	f.Add([]byte("thresholds: {step_up: 1, deny: 2, allow: 3}\nrules: [ {id: x, score: y} ]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		checkParseMatchesStrict(t, data)
	})
}

// hasBroken reports whether a rule of doc did not decode whole.
func hasBroken(doc *fileDoc) bool {
	for _, r := range doc.Rules {
		if r.broken != nil {
			return true
		}
	}
	return false
}
