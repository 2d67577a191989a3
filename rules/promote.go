package rules

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrNoRule is wrapped by Promote's error for a rule id the ruleset in
// force does not have.
var ErrNoRule = errors.New("rules: no such rule")

// ErrNotShadow is wrapped by Promote's error for a rule that is already
// enforced.
var ErrNotShadow = errors.New("rules: rule is not in shadow mode")

// ErrCannotEdit is wrapped by Promote's error for a rule whose file text
// cannot be edited in place (a rule written in flow style, {id: ...}): the
// request is sound, the file needs a hand edit first.
var ErrCannotEdit = errors.New("rules: cannot edit the rule's mode")

// Promote flips a shadow rule of the ruleset in force to enforce, through
// the same path as Put: the rule's file is edited (its mode: line, or one
// added under its id: when the mode came from the file's
// settings.default_mode), the whole ruleset compiled, written where the
// rules are loaded from, and put in force under a new version. ifVersion,
// when set, must be the version in force. Only the one line changes: the
// file's comments and layout stay as the analyst wrote them, but for the
// mode: line's own trailing comment, which described the shadow mode and
// is dropped.
func (m *Manager) Promote(ifVersion, ruleID string) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.Snapshot()
	if ifVersion != "" && ifVersion != cur.Set.Version() {
		return nil, fmt.Errorf("%w: in force %s, expected %s", ErrVersionMismatch, cur.Set.Version(), ifVersion)
	}
	files, err := promoted(cur.Set.Rules(), cur.Sources, cur.Set.Version(), ruleID)
	if err != nil {
		return nil, err
	}
	return m.put(files)
}

// PromoteTenant flips a shadow rule of a tenant's overlay to enforce, by
// PutTenant's path. ifVersion, when set, must be the overlay's version.
func (m *Manager) PromoteTenant(tenant, ifVersion, ruleID string) (*TenantSnapshot, error) {
	t := m.Tenant(tenant)
	if t == nil {
		return nil, fmt.Errorf("%w: tenant %.80q has no overlay", ErrNoRule, tenant)
	}
	files, err := promoted(t.Overlay.Rules(), t.Sources, t.Overlay.Version(), ruleID)
	if err != nil {
		return nil, err
	}
	if ifVersion == "" {
		// The files were read from the overlay in force: put them only
		// over that overlay.
		ifVersion = t.Overlay.Version()
	}
	return m.PutTenant(tenant, ifVersion, files)
}

// promoted returns the files of a ruleset or overlay, named as a put names
// them, with ruleID switched to enforce.
func promoted(rules []Rule, sources []Source, version, ruleID string) ([]Source, error) {
	var rule *Rule
	for i, r := range rules {
		if r.ID == ruleID {
			rule = &rules[i]
			break
		}
	}
	if rule == nil {
		return nil, fmt.Errorf("%w: %q is not in %s", ErrNoRule, ruleID, version)
	}
	if rule.Mode != Shadow {
		return nil, fmt.Errorf("%w: %q is already enforced", ErrNotShadow, ruleID)
	}
	if len(sources) == 0 {
		return nil, fmt.Errorf("%w: the ruleset in force was given by the caller and has no files to edit", ErrInvalid)
	}
	files := make([]Source, len(sources))
	found := false
	for i, s := range sources {
		files[i] = Source{Name: putName(s.Name), Data: s.Data}
		if s.Name != rule.File {
			continue
		}
		data, err := setMode(s.Data, ruleID, "enforce")
		if err != nil {
			return nil, fmt.Errorf("%w: promote %q in %s: %w", ErrCannotEdit, ruleID, filepath.Base(s.Name), err)
		}
		files[i].Data, found = data, true
	}
	if !found {
		return nil, fmt.Errorf("rules: promote %q: its file %s is not among the sources in force", ruleID, rule.File)
	}
	return files, nil
}

// putName is the name a put gives a loaded file: its base name (the
// embedded default's "default.yaml (embedded)" becomes default.yaml).
func putName(name string) string {
	name, _, _ = strings.Cut(filepath.Base(name), " ")
	return name
}

// setMode sets the mode: of rule id in a rule file's YAML by editing the
// text, so that the rest of the file stays byte for byte.
func setMode(data []byte, id, mode string) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	item := findRule(&root, id)
	if item == nil {
		return nil, fmt.Errorf("rule %q not found in the file", id)
	}
	if item.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("rule %q is written in flow style {…}: edit its mode by hand", id)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	var idKey *yaml.Node
	for i := 0; i+1 < len(item.Content); i += 2 {
		k, v := item.Content[i], item.Content[i+1]
		switch k.Value {
		case "id":
			idKey = k
		case "mode":
			if v.Kind != yaml.ScalarNode || v.Line < 1 || v.Line > len(lines) {
				return nil, fmt.Errorf("rule %q: mode: want a string", id)
			}
			line := lines[v.Line-1]
			start := v.Column - 1
			end := start + len(v.Value)
			if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
				end += 2
			}
			if start < 0 || end > len(line) {
				return nil, fmt.Errorf("rule %q: mode: value not where the parser says", id)
			}
			text := mode
			if start > 0 && line[start-1] == ':' {
				// An empty value ("mode:" for the default): the parser
				// places it right after the colon.
				text = " " + mode
			}
			rest := line[end:]
			if after := bytes.TrimLeft(rest, " \t"); len(after) > 0 && after[0] == '#' {
				// The line's trailing comment described the mode it had
				// ("# trial", "# recorded in decision.shadow, changes
				// nothing"): false once the mode flips, it goes, with the
				// blanks before it. The line's ending stays.
				rest = rest[len(bytes.TrimRight(rest, "\r\n")):]
			}
			edited := append(append(append([]byte{}, line[:start]...), text...), rest...)
			lines[v.Line-1] = edited
			return bytes.Join(lines, nil), nil
		}
	}
	if idKey == nil || idKey.Line < 1 || idKey.Line > len(lines) {
		return nil, fmt.Errorf("rule %q: no id: line to add a mode under", id)
	}
	// No mode: key: the mode came from settings.default_mode. Add one,
	// indented like the mapping's keys, after the id: line.
	indent := strings.Repeat(" ", idKey.Column-1)
	at := idKey.Line
	if !bytes.HasSuffix(lines[at-1], []byte("\n")) {
		lines[at-1] = append(append([]byte{}, lines[at-1]...), '\n')
	}
	out := make([][]byte, 0, len(lines)+1)
	out = append(out, lines[:at]...)
	out = append(out, []byte(indent+"mode: "+mode+"\n"))
	out = append(out, lines[at:]...)
	return bytes.Join(out, nil), nil
}

// findRule returns the mapping node of rule id in a rule file's document.
func findRule(root *yaml.Node, id string) *yaml.Node {
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "rules" || m.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range m.Content[i+1].Content {
			if item.Kind != yaml.MappingNode {
				continue
			}
			for j := 0; j+1 < len(item.Content); j += 2 {
				if item.Content[j].Value == "id" && item.Content[j+1].Value == id {
					return item
				}
			}
		}
	}
	return nil
}
