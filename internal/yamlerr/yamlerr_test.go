package yamlerr

import (
	"errors"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestLine: every syntax error of these files gets the line of its cause,
// on the first line too (where yaml's text has none), for the parser's
// errors (whose "line N" counts from 0) as for the scanner's.
func TestLine(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"tab, first line", "\thttp: x\n", 1, "found character that cannot start any token (a tab: YAML indents with spaces)"},
		{"tab", "http:\n\taddr: x\n", 2, "found character that cannot start any token (a tab"},
		{"tab in a mapping", "http:\n  addr: x\n\tgrpc: y\n", 3, "tab character that violates indentation"},
		{"not a token, first line", "@a: b\n", 1, "found character that cannot start any token"},
		{"two colons, first line", "a: b: c\n", 1, "mapping values are not allowed in this context"},
		{"two colons", "a: 1\nb: c: d\n", 2, "mapping values are not allowed in this context"},
		{"bad indentation", "http:\n  addr: x\n   bad: y\n", 3, "mapping values are not allowed"},
		{"dedent", "http:\n  addr: x\n y: z\n", 3, "did not find expected key"},
		{"dedent, far", "a:\n  b: 1\n  c: 2\n  e: 5\n d: 3\n", 5, "did not find expected key"},
		{"rule key indented too little", "rules:\n  - id: a\n    when: x\n  - id: b\n    when: y\n   action: deny\n", 6, "did not find expected '-' indicator"},
		{"rule key indented too little, second document", "a: 1\n---\nrules:\n  - id: a\n    when: x\n  action: deny\n", 6, "did not find expected '-' indicator"},
		{"dedent, first lines", "a: 1\n b: 2\n", 2, "mapping values are not allowed"},
		{"sequence in a mapping", "a: 1\n- b\n", 2, "did not find expected key"},
		{"unclosed flow", "a: b\nc: [x\n", 2, "did not find expected ',' or ']'"},
		{"unclosed flow, first line", "c: [x\n", 1, "did not find expected ',' or ']'"},
		{"unclosed flow mapping", "a: 1\n\nc: {x: 1\n", 3, "did not find expected ',' or '}'"},
		{"unclosed quote, first line", "http: \"x\n", 1, "found unexpected end of stream: the quoted string opened on this line is never closed"},
		{"unclosed quote, first line, more lines", "http: \"x\nb: c\nd: e\n", 1, "never closed"},
		{"unclosed quote", "http:\n  addr: \"x\n", 2, "never closed"},
		{"unclosed single quote", "a: 1\n\n\nb: 'unterminated\n", 4, "never closed"},
		{"unclosed quote, no final newline", "a: 1\nb: \"x", 2, "never closed"},
		{"no node, no final newline", "a: 1\nb: [", 2, "did not find expected node content"},
		{"no node, first line, no final newline", "[", 1, "did not find expected node content"},
		{"unclosed flow, first line, no final newline", "c: [x", 1, "did not find expected ',' or ']'"},
		{"unclosed flow, no final newline", "a: 1\nc: [x", 2, "did not find expected ',' or ']'"},
		{"dedent, no final newline", "a:\n  b: 1\n c", 3, "did not find expected key"},
		{"bad escape", "a: 1\nb: \"\\q\"\n", 2, "found unknown escape character"},
		{"control character", "a: 1\nb: x\x01y\n", 2, "control characters are not allowed"},
		{"bad UTF-8", "a: 1\n\nb: \xff\n", 3, "invalid leading UTF-8 octet"},
		{"document end", "a: 1\nb: 2\n--- x\n: y\n", 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			for dec := yaml.NewDecoder(strings.NewReader(c.yaml)); err == nil; {
				var n yaml.Node
				err = dec.Decode(&n)
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			if err == nil {
				if c.line == 0 {
					return
				}
				t.Fatal("no error")
			}
			line, msg, ok := Line([]byte(c.yaml), err)
			if c.line == 0 {
				return
			}
			if !ok || line != c.line || !strings.Contains(msg, c.msg) || strings.HasPrefix(msg, "yaml:") || strings.HasPrefix(msg, "line") {
				t.Fatalf("%v: got line %d %q %v, want line %d %q", err, line, msg, ok, c.line, c.msg)
			}
		})
	}
	// Not syntax errors: the caller keeps its message.
	var v struct{ A int }
	err := yaml.Unmarshal([]byte("a: x\n"), &v)
	if _, _, ok := Line([]byte("a: x\n"), err); ok {
		t.Errorf("type error: %v", err)
	}
	if _, _, ok := Line(nil, errors.New("open x: no such file")); ok {
		t.Error("not YAML's")
	}
}

// TestAliasLine: the errors of anchors and aliases, which yaml raises
// without a line, get the line of their cause: an alias to an anchor not
// defined before it (its text elsewhere, in a comment, a quoted string, a
// block scalar, a longer name, is not taken for it), a merge key whose
// value is no mapping, an alias in its own anchor's value. A document
// whose aliases expand too far has no one place: no line.
func TestAliasLine(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		line       int // 0: no line (ok false)
		msg        string
	}{
		{"unknown anchor", "a: 1\nb: *nope\n", 2, "unknown anchor 'nope' referenced"},
		{"unknown anchor, first line", "a: *nope\n", 1, "unknown anchor 'nope' referenced"},
		{"unknown anchor, its text before", "a: 1 # *nope\nb: '*nope'\nc: \"x *nope\"\nd: |\n  *nope\ne: x\n  *nope y\nf: [1, *nope]\n", 8, "unknown anchor 'nope'"},
		{"unknown anchor, a longer name before", "a: &nopex 1\nb: *nopex\nc: *nope\n", 3, "unknown anchor 'nope'"},
		{"anchor defined after the alias", "a: *x\nb: &x 1\n", 1, "unknown anchor 'x'"},
		{"unknown anchor in a flow mapping", "a: 1\nb: {c: *nope}\n", 2, "unknown anchor 'nope'"},
		{"unknown anchor after a quoted key's colon", "a: x:*nope\nb: {\"c\":*nope}\n", 2, "unknown anchor 'nope'"},
		{"unknown anchor in a flow list over lines", "a: [1,\n  2,\n  *nope,\n  3]\n", 3, "unknown anchor 'nope'"},
		{"unknown anchor as a key", "a: 1\n*nope : 2\n", 2, "unknown anchor 'nope'"},
		{"unknown anchor, CRLF", "a: 1\r\nb: *nope\r\n", 2, "unknown anchor 'nope'"},
		{"unknown anchor, second document", "a: 1\n---\nb: *nope\n", 3, "unknown anchor 'nope'"},
		{"merge of a scalar's alias", "base: &b 10\nrules:\n  - id: x\n    <<: *b\n", 4, "map merge requires map or sequence of maps as the value"},
		{"merge of a scalar", "a: 1\nb:\n  <<: 5\n", 3, "map merge requires map"},
		{"merge of a list with a scalar", "a: &a {x: 1}\nb:\n  <<:\n    - *a\n    - 3\n", 5, "map merge requires map"},
		{"merge of a mapping's alias, then a bad one", "a: &a {x: 1}\nb:\n  <<: *a\nc:\n  <<: [*a, *a, 7]\n", 5, "map merge requires map"},
		{"merges after the mapping's other keys", "a:\n  <<: 1\n  b:\n    <<: 2\n", 4, "map merge requires map"},
		{"a quoted << is no merge", "a:\n  '<<': 1\nb:\n  <<: 2\n", 4, "map merge requires map"},
		{"alias in its own anchor's value", "a: 1\nb: &b\n  x: 1\n  <<: *b\n", 4, "anchor 'b' value contains itself"},
		{"excessive aliasing", "a: &a [x" + strings.Repeat(",x", 9) + "]\nb: &b [*a" + strings.Repeat(",*a", 9) + "]\nc: &c [*b" + strings.Repeat(",*b", 9) + "]\nd: [*c" + strings.Repeat(",*c", 9) + "]\n", 0, "document contains excessive aliasing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Decoded as a program does: into values, every document.
			var err error
			for dec := yaml.NewDecoder(strings.NewReader(c.yaml)); err == nil; {
				var v any
				err = dec.Decode(&v)
			}
			if err == nil || errors.Is(err, io.EOF) {
				t.Fatalf("no error: %v", err)
			}
			line, msg, ok := Line([]byte(c.yaml), err)
			if c.line == 0 {
				if ok || !strings.Contains(err.Error(), c.msg) {
					t.Errorf("%v: got line %d %q, want none, for %q", err, line, msg, c.msg)
				}
				return
			}
			if !ok || line != c.line || !strings.Contains(msg, c.msg) || strings.HasPrefix(msg, "yaml:") {
				t.Errorf("%v: got line %d %q %v, want line %d %q", err, line, msg, ok, c.line, c.msg)
			}
		})
	}
}

// FuzzLine: whatever the text, Line names a line of it, or none.
func FuzzLine(f *testing.F) {
	for _, s := range []string{"a: 1\nb: *nope\n", "a: &a\n  x: 1\n  <<: *a\n", "a:\n  <<: [*b, 3]\n", "http:\n\taddr: x\n", "a: [1,\n  *x]\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var err error
		for dec := yaml.NewDecoder(strings.NewReader(s)); err == nil; {
			var v any
			err = dec.Decode(&v)
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if line, _, ok := Line([]byte(s), err); ok && (line < 1 || line > strings.Count(s, "\n")+1) {
			t.Errorf("%v: line %d of %d", err, line, strings.Count(s, "\n")+1)
		}
	})
}
