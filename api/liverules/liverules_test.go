package liverules

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/rules"
)

const ruleA = "version: a\nrules:\n  - id: a\n    description: A.\n    when: ip.failures_10m > 3\n    action: deny\n"
const ruleB = "version: b\nrules:\n  - id: b\n    description: B.\n    when: ip.failures_10m > 5\n    action: deny\n"

func newManager(t *testing.T, paths ...string) *Manager {
	t.Helper()
	set, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(rules.NewHolder(set), Options{Paths: paths, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func src(name, data string) []rules.Source { return []rules.Source{{Name: name, Data: []byte(data)}} }

// TestPutSingleFile: with one rule file, Put writes it, so that a reload
// (or a restart) keeps the new rules; the version is the same either way.
func TestPutSingleFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte(ruleA), 0o640); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, file)
	if _, err := m.Put("", append(src("x.yaml", ruleB), src("y.yaml", ruleB)...)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("two files into one: %v", err)
	}
	s, err := m.Put("a", src("anything.yaml", ruleB))
	if err != nil {
		t.Fatal(err)
	}
	if s.Origin != OriginFile || s.Set.Version() != "b" || s.PersistPath != file {
		t.Fatalf("%+v", s)
	}
	if got, _ := os.ReadFile(file); string(got) != ruleB {
		t.Fatalf("file: %q", got)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v: the file's permissions were not kept", fi.Mode().Perm())
	}
	if changed, err := m.Reload(TriggerSignal); err != nil || changed {
		t.Fatalf("reload after put: changed %v, %v", changed, err)
	}
	if m.holder.Set().Version() != "b" {
		t.Fatal("holder not swapped")
	}
	if _, err := m.Put("a", src("r.yaml", ruleA)); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("stale version: %v", err)
	}
}

// TestPutRejected: a ruleset that does not compile changes nothing, on disk
// or in force, and its problems name the request's files and lines.
func TestPutRejected(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(ruleA), 0o644)
	os.WriteFile(filepath.Join(dir, "a_test.yaml"), []byte("tests: []\n"), 0o644)
	m := newManager(t, dir)
	bad := "rules:\n  - id: x\n    description: X.\n    when: ip.nope > 1\n    action: deny\n"
	_, err := m.Put("", append(src("good.yaml", ruleB), src("bad.yaml", bad)...))
	var rej *RejectedError
	if !errors.As(err, &rej) || len(rej.Problems) != 1 {
		t.Fatalf("%v", err)
	}
	p := rej.Problems[0]
	if p.Index != 1 || p.File != "bad.yaml" || p.Line != 4 || !strings.HasPrefix(p.Message, "bad.yaml:4: ") || strings.Contains(err.Error(), dir) {
		t.Fatalf("%+v / %v", p, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 || m.Snapshot().Set.Version() != "a" {
		t.Fatalf("a rejected put changed something: %v %s", entries, m.Snapshot().Set.Version())
	}
	// A good put replaces the folder's rule files, keeping rule tests.
	if _, err := m.Put("", src("b.yaml", ruleB)); err != nil {
		t.Fatal(err)
	}
	var names []string
	entries, _ = os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "a_test.yaml,b.yaml" {
		t.Fatalf("folder after put: %v", names)
	}
}

// TestPutMemoryOnly: without rule files there is nowhere to write; the put
// is held in memory and says so.
func TestPutMemoryOnly(t *testing.T) {
	m := newManager(t)
	if m.Snapshot().Origin != OriginEmbedded {
		t.Fatal(m.Snapshot().Origin)
	}
	s, err := m.Put("", src("", ruleB))
	if err != nil {
		t.Fatal(err)
	}
	if s.Origin != OriginAPI || s.PersistPath != "" || s.Sources[0].Name != "rules.yaml" {
		t.Fatalf("%+v", s)
	}
	for _, name := range []string{"../evil.yaml", "x.txt", "a_test.yaml", ".hidden.yaml", strings.Repeat("a", 200) + ".yaml"} {
		if _, err := m.Put("", src(name, ruleB)); !errors.Is(err, ErrInvalid) {
			t.Errorf("name %q: %v", name, err)
		}
	}
}

// TestReloadKeepsOldOnError: a file that does not compile is rejected and
// the set in force stays.
func TestReloadKeepsOldOnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(file, []byte(ruleA), 0o644)
	m := newManager(t, file)
	os.WriteFile(file, []byte("rules: [\n"), 0o644)
	if _, err := m.Reload(TriggerSignal); err == nil {
		t.Fatal("a broken file reloaded")
	}
	if m.Snapshot().Set.Version() != "a" || m.holder.Set().Version() != "a" {
		t.Fatal("the old set did not stay")
	}
	os.WriteFile(file, []byte(ruleB), 0o644)
	if changed, err := m.Reload(TriggerSignal); err != nil || !changed || m.holder.Set().Version() != "b" {
		t.Fatalf("fixed file: %v %v", changed, err)
	}
}
