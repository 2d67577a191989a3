package yamlerr

import (
	"bytes"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The errors of anchors and aliases, which go.yaml.in/yaml/v3 raises
// without any position: the parser's on an alias to an anchor not defined
// before it, the decoder's on a merge key (<<) whose value is no mapping
// and on an alias inside the value of its own anchor.
const (
	unknownAnchorPrefix = "unknown anchor '"
	unknownAnchorSuffix = "' referenced"
	mergeNotMap         = "map merge requires map or sequence of maps as the value"
)

// containsItself is the decoder's message for an alias met again inside
// its anchor's value.
func containsItself(anchor string) string { return "anchor '" + anchor + "' value contains itself" }

// maxAliasCandidates bounds the lines aliasLine parses up to, each a parse
// of the file's beginning: an error's path, but a file of many comments
// naming the alias should not cost seconds.
const maxAliasCandidates = 32

// maxWalk bounds the nodes a walk of the documents visits: aliases make
// a tree a graph, which yaml's decoder walks within limits of its own.
const maxWalk = 1 << 20

// aliasLine returns the 1-based line of an anchor or alias error of data,
// whose message is msg (without "yaml: "), or 0 if msg is none of those
// or its place cannot be told for sure.
func aliasLine(data []byte, msg string) int {
	if name, ok := strings.CutPrefix(msg, unknownAnchorPrefix); ok {
		if name, ok = strings.CutSuffix(name, unknownAnchorSuffix); ok {
			return unknownAnchorLine(data, name, msg)
		}
		return 0
	}
	if msg != mergeNotMap && !(strings.HasPrefix(msg, "anchor '") && strings.HasSuffix(msg, "' value contains itself")) {
		return 0
	}
	w := walker{msg: msg, aliases: map[*yaml.Node]bool{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if dec.Decode(&doc) != nil {
			return 0 // the end, or a later document that does not parse: not found
		}
		if w.walk(&doc) {
			if w.found == nil {
				return 0
			}
			return w.found.Line
		}
	}
}

// unknownAnchorLine finds the alias *name that the parser refused. Its
// text may be anywhere (a comment, a quoted string, a block scalar): each
// line where it may be an alias token is a candidate, and the first
// whose prefix of the file (up to that line's end) fails with the same
// error is the alias's. A prefix without the alias cannot fail so; one
// ending with its line does, as the parser meets the alias before the
// end of the prefix.
func unknownAnchorLine(data []byte, name, msg string) int {
	if name == "" {
		return 0
	}
	alias := []byte("*" + name)
	tried := 0
	for n, rest := 1, data; len(rest) > 0; n++ {
		text := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			text, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if !hasAliasToken(text, alias) {
			continue
		}
		if tried++; tried > maxAliasCandidates {
			return 0
		}
		if sameError(prefix(data, n), msg) {
			return n
		}
	}
	return 0
}

// hasAliasToken reports whether alias (*name) is in text where yaml's
// scanner could read it as an alias: where a token may start (the line's
// start, after a blank, a flow indicator, or the ':' of a quoted key in
// a flow mapping, {"a":*x}) and ended as the scanner ends an anchor's
// name (a blank, the end, or one of ?:,]}%@`). It may say yes where yaml
// reads no alias (a plain scalar a:*x): the parse decides.
func hasAliasToken(text, alias []byte) bool {
	for i := 0; ; {
		j := bytes.Index(text[i:], alias)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(alias)
		before := start == 0 || strings.IndexByte(" \t[{,:", text[start-1]) >= 0
		after := end == len(text) || strings.IndexByte(" \t\r?:,]}%@`", text[end]) >= 0
		if before && after {
			return true
		}
		i = start + 1
	}
}

// walker walks a document's nodes in the order yaml's decoder does, to
// find the node where it raised msg: mappings' keys and values in order,
// a merge key's value after the mapping's other keys (the last merge key
// of a mapping is the one merged), aliases into their anchor's node.
// yaml's decoder walks only what its target has fields for, this walk
// everything: the node found has the problem msg names, though a decode
// into a struct may have met it only after another (one under a field it
// skips), which it reports once this one is fixed.
type walker struct {
	msg     string
	aliases map[*yaml.Node]bool // the aliases being walked into, as the decoder's
	visits  int
	found   *yaml.Node
}

// walk walks n and reports whether to stop: found is the node of the
// error, or nil when the walk cannot tell (too long, or it met another
// error first).
func (w *walker) walk(n *yaml.Node) bool {
	if w.visits++; w.visits > maxWalk {
		return true
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if w.walk(c) {
				return true
			}
		}
	case yaml.AliasNode:
		if w.aliases[n] {
			// The decoder's "contains itself", if the error is this
			// one's; else a path the decoder did not take (this walk
			// takes them all): not walked again.
			if w.msg == containsItself(n.Value) {
				w.found = n
				return true
			}
			return false
		}
		if n.Alias == nil {
			return false
		}
		w.aliases[n] = true
		stop := w.walk(n.Alias)
		delete(w.aliases, n)
		return stop
	case yaml.MappingNode:
		var merge *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; isMerge(k) {
				merge = n.Content[i+1]
				continue
			}
			if w.walk(n.Content[i]) || w.walk(n.Content[i+1]) {
				return true
			}
		}
		if merge != nil {
			return w.merge(merge)
		}
	}
	return false
}

// merge walks a merge key's value as the decoder merges it, stopping at
// the first part that is no mapping.
func (w *walker) merge(v *yaml.Node) bool {
	bad := func(n *yaml.Node) bool {
		if w.msg == mergeNotMap {
			w.found = n
		}
		return true
	}
	switch v.Kind {
	case yaml.MappingNode:
		return w.walk(v)
	case yaml.AliasNode:
		if v.Alias != nil && v.Alias.Kind != yaml.MappingNode {
			return bad(v)
		}
		return w.walk(v)
	case yaml.SequenceNode:
		for _, e := range v.Content {
			if e.Kind == yaml.AliasNode && e.Alias != nil && e.Alias.Kind != yaml.MappingNode || e.Kind != yaml.AliasNode && e.Kind != yaml.MappingNode {
				return bad(e)
			}
			if w.walk(e) {
				return true
			}
		}
		return false
	default:
		return bad(v)
	}
}

// isMerge is yaml's test of a merge key: a plain <<, or one tagged
// !!merge ("<<" quoted is a string).
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge")
}
