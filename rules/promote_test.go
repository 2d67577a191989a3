package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetMode(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "rules:\n  - id: a\n    mode: shadow\n    when: true\n", "rules:\n  - id: a\n    mode: enforce\n    when: true\n"},
		// The mode line's own comment described the shadow mode: it goes;
		// the comments on other lines stay byte for byte.
		{"comment", "rules:\n  # keep me   \n  - id: a # the id\n    mode: shadow      # recorded in decision.shadow, changes nothing\n    when: true # always\n", "rules:\n  # keep me   \n  - id: a # the id\n    mode: enforce\n    when: true # always\n"},
		{"comment, quoted, CRLF", "rules:\r\n  - id: a\r\n    mode: 'shadow'\t# trial\r\n", "rules:\r\n  - id: a\r\n    mode: enforce\r\n"},
		{"comment, last line", "rules:\n  - id: a\n    mode: shadow # trial", "rules:\n  - id: a\n    mode: enforce"},
		{"quoted", "rules:\n  - id: a\n    mode: \"shadow\"\n", "rules:\n  - id: a\n    mode: enforce\n"},
		{"default mode", "settings: {default_mode: shadow}\nrules:\n  - id: b\n    when: x\n  - id: a\n    when: y\n", "settings: {default_mode: shadow}\nrules:\n  - id: b\n    when: x\n  - id: a\n    mode: enforce\n    when: y\n"},
		{"id not first", "rules:\n- description: d\n  id: a\n  when: y\n", "rules:\n- description: d\n  id: a\n  mode: enforce\n  when: y\n"},
		{"empty mode", "rules:\n  - id: a\n    mode:\n    when: y\n", "rules:\n  - id: a\n    mode: enforce\n    when: y\n"},
		{"empty mode, comment", "rules:\n  - mode:   # default\n    id: a\n", "rules:\n  - mode: enforce\n    id: a\n"},
		{"null mode", "rules:\n  - id: a\n    mode: ~\n", "rules:\n  - id: a\n    mode: enforce\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := setMode([]byte(tc.in), "a", "enforce")
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	if _, err := setMode([]byte("rules:\n  - {id: a, mode: shadow}\n"), "a", "enforce"); err == nil || !strings.Contains(err.Error(), "flow style") {
		t.Fatalf("flow style: %v", err)
	}
}

const shadowFile = "version: trial\n# the analyst's comment stays\nrules:\n  - id: keep\n    description: Kept.\n    when: ip.failures_10m > 3\n    action: deny\n  - id: trial\n    description: On trial.\n    when: geo.new_country\n    action: step_up\n    mode: shadow\n"

// TestPromote: a shadow rule becomes enforced through Put's path: the
// file on disk is edited in place, the version changes, and the engine
// sees the rule enforced.
func TestPromote(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(file, []byte(shadowFile), 0o640); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, dir)
	before := m.Set().Version()
	if _, err := m.Promote("", "nope"); !errors.Is(err, ErrNoRule) {
		t.Fatalf("unknown rule: %v", err)
	}
	if _, err := m.Promote("", "keep"); !errors.Is(err, ErrNotShadow) {
		t.Fatalf("enforced rule: %v", err)
	}
	if _, err := m.Promote("sha256:000000000000", "trial"); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("stale version: %v", err)
	}
	s, err := m.Promote(before, "trial")
	if err != nil {
		t.Fatal(err)
	}
	if s.Set.Version() == before || s.Origin != OriginFile {
		t.Fatalf("version %s (was %s), origin %s", s.Set.Version(), before, s.Origin)
	}
	for _, r := range s.Set.Rules() {
		if r.Mode != Enforce {
			t.Fatalf("rule %s still %s", r.ID, r.Mode)
		}
	}
	data, _ := os.ReadFile(file)
	if want := strings.Replace(shadowFile, "mode: shadow", "mode: enforce", 1); string(data) != want {
		t.Fatalf("file on disk:\n%s", data)
	}
	// A reload reads the same content: nothing changes.
	if changed, err := m.Reload(TriggerSignal); err != nil || changed {
		t.Fatalf("reload after promote: changed %v, %v", changed, err)
	}
}

// TestPromoteEmbedded: the embedded default has no file; a promotion is
// held in memory, like a put.
func TestPromoteEmbedded(t *testing.T) {
	m := newManager(t)
	var id string
	for _, r := range m.Set().Rules() {
		if r.Mode == Shadow {
			id = r.ID
		}
	}
	if id == "" {
		t.Skip("the default ruleset has no shadow rule")
	}
	s, err := m.Promote("", id)
	if err != nil {
		t.Fatal(err)
	}
	if s.Origin != OriginAPI {
		t.Fatalf("origin %s", s.Origin)
	}
}

// TestPromoteFlowStyle: a rule whose mode cannot be edited in place is
// ErrCannotEdit (the caller's to fix by hand), the shared set's as a
// tenant's, and nothing changes.
func TestPromoteFlowStyle(t *testing.T) {
	dir := t.TempDir()
	const flow = "settings: {default_mode: shadow}\nrules:\n  - {id: flow, description: Flow., when: geo.new_country, action: step_up}\n"
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(flow), 0o644); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, dir)
	before := m.Set().Version()
	if _, err := m.Promote("", "flow"); !errors.Is(err, ErrCannotEdit) || !strings.Contains(err.Error(), "flow style") {
		t.Errorf("shared: %v", err)
	}
	if _, err := m.PutTenant("acme", "", src("acme.yaml", strings.Replace(flow, "id: flow", "id: acme-flow", 1))); err != nil {
		t.Fatal(err)
	}
	if _, err := m.PromoteTenant("acme", "", "acme-flow"); !errors.Is(err, ErrCannotEdit) {
		t.Errorf("tenant: %v", err)
	}
	if m.Set().Version() != before {
		t.Error("a refused promotion changed the ruleset")
	}
}
