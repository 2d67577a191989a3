package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dupRule is a file defining the rule dup twice, at lines 2 and 6: the
// second's message names the file of the first, by the path it was
// compiled under.
const dupRule = "rules:\n  - id: dup\n    description: D.\n    when: attempt.channel == \"web\"\n    action: deny\n  - id: dup\n    description: D.\n    when: attempt.channel == \"api\"\n    action: deny\n"

// TestRejectedNamesNoPath: a rejected put or validate named the request's
// files by their names in Problem.File but by their server paths in the
// messages ("first defined at /srv/rules/rules.yaml:2"), for the shared
// set loaded from one file or a folder and for a tenant's overlay.
func TestRejectedNamesNoPath(t *testing.T) {
	root := t.TempDir()
	single := filepath.Join(root, "prod.yaml")
	folder := filepath.Join(root, "rules")
	tenants := filepath.Join(root, "tenants")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{single, filepath.Join(folder, "a.yaml")} {
		if err := os.WriteFile(p, []byte(ruleA), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		paths []string
		call  func(m *Manager) error
	}{
		{"put into one file", []string{single}, func(m *Manager) error { _, err := m.Put("", src("rules.yaml", dupRule)); return err }},
		{"validate into one file", []string{single}, func(m *Manager) error { _, err := m.Validate(src("rules.yaml", dupRule)); return err }},
		{"put into a folder", []string{folder}, func(m *Manager) error { _, err := m.Put("", src("rules.yaml", dupRule)); return err }},
		{"validate into a folder", []string{folder}, func(m *Manager) error { _, err := m.Validate(src("rules.yaml", dupRule)); return err }},
		{"tenant put", []string{folder}, func(m *Manager) error {
			_, err := m.PutTenant("acme", "", src("rules.yaml", dupRule))
			return err
		}},
		{"tenant validate", []string{folder}, func(m *Manager) error {
			_, err := m.ValidateTenant("acme", src("rules.yaml", dupRule))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewManager(Options{Paths: tc.paths, TenantsDir: tenants, Logger: discard()})
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(m)
			var rej *RejectedError
			if !errors.As(err, &rej) || len(rej.Problems) != 1 {
				t.Fatalf("%v", err)
			}
			p := rej.Problems[0]
			if want := `rules.yaml:6: rule "dup": duplicate id, first defined at rules.yaml:2`; p.Error.Error() != want || p.File != "rules.yaml" || p.Index != 0 || err.Error() != want {
				t.Errorf("problem %q (file %q, index %d), error %q; want %q", p.Error.Error(), p.File, p.Index, err.Error(), want)
			}
		})
	}
}

// TestTenantFailureNamesNoPath: a tenant's reload error, as its view shows
// it, names its files by their base names, in the messages too, and its
// folder, when the error is the folder's own, by the tenant's name: the
// folder's path was left in ("open /srv/tenants/acme: permission
// denied"), as only the folder followed by a separator was stripped.
func TestTenantFailureNamesNoPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tenants", "acme")
	for _, tc := range []struct {
		name string
		err  error
		want string // the one problem, formatted
	}{
		{"the folder unreadable", fmt.Errorf("rules: open %s: permission denied", dir),
			": rules: open acme: permission denied"},
		{"a file unreadable", fmt.Errorf("rules: %s: larger than %d bytes", filepath.Join(dir, "big.yaml"), MaxFileSize),
			fmt.Sprintf(": rules: big.yaml: larger than %d bytes", MaxFileSize)},
		{"a file that does not compile", ErrorList{{File: filepath.Join(dir, "b.yaml"), Line: 2, Rule: "dup", Field: "id",
			Err: fmt.Errorf("duplicate id, first defined at %s:2", filepath.Join(dir, "a.yaml"))}},
			`b.yaml:2: rule "dup": duplicate id, first defined at a.yaml:2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &TenantFailure{Tenant: "acme", Err: tc.err, dir: dir}
			p := f.Problems()
			if len(p) != 1 || p[0].Error() != tc.want || strings.Contains(p.Error(), dir) {
				t.Errorf("problems %q, want %q", p.Error(), tc.want)
			}
		})
	}
}
