package rules

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
)

const ruleA = "version: a\nrules:\n  - id: a\n    description: A.\n    when: ip.failures_10m > 3\n    action: deny\n"
const ruleB = "version: b\nrules:\n  - id: b\n    description: B.\n    when: ip.failures_10m > 5\n    action: deny\n"

// strict is the README's example: a file that keeps its version: label
// while an analyst edits its score.
const strict = "version: strict-2026-05\nrules:\n  - id: new-country-deny\n    description: Logins from a country never seen for this user are refused.\n    when: geo.new_country\n    action: deny\n    score: %d\n"

func newManager(t *testing.T, paths ...string) *Manager {
	t.Helper()
	m, err := NewManager(Options{Paths: paths, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func src(name, data string) []Source { return []Source{{Name: name, Data: []byte(data)}} }

// label is a version's version: label, before its content hash.
func label(v string) string { l, _, _ := strings.Cut(v, "@"); return l }

// scoreInForce is the score of the one rule in force, as the engine sees it.
func scoreInForce(t *testing.T, m *Manager) int {
	t.Helper()
	var v engine.Verdict
	m.Current().Evaluate(&engine.Env{Geo: engine.GeoEnv{NewCountry: true}}, &v)
	return v.Score
}

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
	s, err := m.Put(m.Set().Version(), src("anything.yaml", ruleB))
	if err != nil {
		t.Fatal(err)
	}
	if s.Origin != OriginFile || label(s.Set.Version()) != "b" || s.PersistPath != file {
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
	if label(m.Current().Version()) != "b" {
		t.Fatal("not in force")
	}
	if _, err := m.Put("a", src("r.yaml", ruleA)); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("stale version: %v", err)
	}
}

// TestPutRejected: a ruleset that does not compile changes nothing, on disk
// or in force, and its problems name the request's files, lines and rules
// as data.
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
	if p.Index != 1 || p.File != "bad.yaml" || p.Line != 4 || p.Rule != "x" || p.Field != "when" || !strings.HasPrefix(p.Error.Error(), "bad.yaml:4: ") || strings.Contains(err.Error(), dir) {
		t.Fatalf("%+v / %v", p, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 || label(m.Snapshot().Set.Version()) != "a" {
		t.Fatalf("a rejected put changed something: %v %s", entries, m.Snapshot().Set.Version())
	}
	// A good put replaces the folder's rule files, keeping rule tests of
	// the folder.
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

// TestPutRemovesStaleTests: a put that removes a rule file removes the
// rule tests that named it (they would fail on a missing file); tests of
// the folder, or of files that stay, are kept.
func TestPutRemovesStaleTests(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		// One label in the folder: a ruleset has one.
		"a.yaml": ruleA, "b.yaml": strings.TrimPrefix(ruleB, "version: b\n"),
		"a_test.yaml":      "rule_files: [a.yaml]\ntests: []\n",
		"ab_test.yaml":     "rule_files: [a.yaml, b.yaml]\ntests: []\n",
		"b_test.yaml":      "rule_files: [./b.yaml]\ntests: []\n",
		"folder_test.yaml": "tests: []\n",
		"broken_test.yaml": "rule_files: [a.yaml\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := newManager(t, dir)
	if _, err := m.Put("", src("b.yaml", ruleB)); err != nil {
		t.Fatal(err)
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); got != "b.yaml,b_test.yaml,broken_test.yaml,folder_test.yaml" {
		t.Fatalf("folder after put: %s", got)
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
	if label(m.Snapshot().Set.Version()) != "a" || label(m.Current().Version()) != "a" {
		t.Fatal("the old set did not stay")
	}
	os.WriteFile(file, []byte(ruleB), 0o644)
	if changed, err := m.Reload(TriggerSignal); err != nil || !changed || label(m.Current().Version()) != "b" {
		t.Fatalf("fixed file: %v %v", changed, err)
	}
}

// TestEditKeepingVersionLabel is issue 10's case: score 90 becomes 85 in a
// file that keeps its version: label. A reload puts it in force, and a put
// of new content under the same label is in force and on disk.
func TestEditKeepingVersionLabel(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "strict.yaml")
	os.WriteFile(file, fmt.Appendf(nil, strict, 90), 0o644)
	m := newManager(t, dir)
	v90 := m.Set().Version()
	os.WriteFile(file, fmt.Appendf(nil, strict, 85), 0o644)
	if changed, err := m.Reload(TriggerSignal); err != nil || !changed {
		t.Fatalf("reload of the edit: changed %v, %v", changed, err)
	}
	if got := scoreInForce(t, m); got != 85 || m.Set().Version() == v90 {
		t.Fatalf("after the edit: score %d, version %s (was %s)", got, m.Set().Version(), v90)
	}
	if s, err := m.Put("", src("strict.yaml", fmt.Sprintf(strict, 70))); err != nil || label(s.Set.Version()) != "strict-2026-05" {
		t.Fatalf("put: %v", err)
	}
	if got := scoreInForce(t, m); got != 70 {
		t.Fatalf("after the put: score %d in force", got)
	}
	if data, _ := os.ReadFile(file); string(data) != fmt.Sprintf(strict, 70) {
		t.Fatalf("after the put, on disk: %q", data)
	}
	if changed, err := m.Reload(TriggerSignal); err != nil || changed {
		t.Fatalf("a reload after the put changes nothing: %v %v", changed, err)
	}
}

// TestWatch: an edit of a watched folder's file is put in force by the
// watch, even one that keeps the file's size; a bad edit is refused and
// counted.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "strict.yaml")
	os.WriteFile(file, fmt.Appendf(nil, strict, 90), 0o644)
	m, err := NewManager(Options{Paths: []string{dir}, Debounce: 20 * time.Millisecond, Poll: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	watching(t, m)
	os.WriteFile(file, fmt.Appendf(nil, strict, 85), 0o644)
	waitUntil(t, "the edit in force", func() bool { return scoreInForce(t, m) == 85 })
	os.WriteFile(filepath.Join(dir, "more.yaml"), []byte("rules: [\n"), 0o644)
	waitUntil(t, "the bad file refused", func() bool { return successGauge(m) == 0 })
	if got := scoreInForce(t, m); got != 85 {
		t.Fatalf("after a bad file: score %d", got)
	}
}

// watching runs m.Watch until the test ends, once it has looked at the
// files a first time.
func watching(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	waitUntil(t, "the watch's first look", func() bool {
		return float64(m.LoadStats().Loads[LoadKey{TriggerFile, "unchanged"}]) >= 1
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMetrics: the version in force has one series; a failure drops the
// success gauge and keeps the version.
func TestMetrics(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(file, []byte(ruleA), 0o644)
	now := time.Unix(1700000000, 0)
	m, err := NewManager(Options{Paths: []string{file}, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, []byte(ruleB), 0o644)
	now = now.Add(time.Second)
	if _, err := m.Reload(TriggerSignal); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, []byte("rules: [\n"), 0o644)
	now = now.Add(time.Second)
	if _, err := m.Reload(TriggerFile); err == nil {
		t.Fatal("a broken file reloaded")
	}
	mt := m.LoadStats()
	if mt.Version != m.Set().Version() {
		t.Errorf("version %q, want %q", mt.Version, m.Set().Version())
	}
	if mt.Healthy || mt.LastLoad.Unix() != 1700000002 || mt.Rules != 1 {
		t.Errorf("after a failure: healthy %v, last load %v, rules %d", mt.Healthy, mt.LastLoad.Unix(), mt.Rules)
	}
	for _, c := range []struct {
		trigger, result string
		want            float64
	}{{TriggerStartup, "success", 1}, {TriggerSignal, "success", 1}, {TriggerFile, "failure", 1}} {
		if got := float64(mt.Loads[LoadKey{c.trigger, c.result}]); got != c.want {
			t.Errorf("reloads{%s,%s} = %v, want %v", c.trigger, c.result, got, c.want)
		}
	}
}

// TestEmbeddedDefaultCompiledOnce: serve compiles the embedded rules ahead,
// beside its flag parsing (CompileDefaultAhead), and a manager without rule
// files must then take that set rather than compile it again; the set is
// the one the embedded source compiles to.
func TestEmbeddedDefaultCompiledOnce(t *testing.T) {
	CompileDefaultAhead()
	ahead, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Set() != ahead {
		t.Error("a manager without rule files compiled the embedded rules again")
	}
	if s := m.Snapshot(); s.Origin != OriginEmbedded {
		t.Errorf("origin %q, want %q", s.Origin, OriginEmbedded)
	}
	fresh, err := Compile(DefaultSource())
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Version() != ahead.Version() || len(fresh.Rules()) != len(ahead.Rules()) {
		t.Errorf("compiled ahead: %s with %d rules; compiled now: %s with %d", ahead.Version(), len(ahead.Rules()), fresh.Version(), len(fresh.Rules()))
	}
}

// installLog is a slog handler that keeps the "rules in force" records as
// they reach it, and the version the reload metrics showed at that moment.
type installLog struct {
	m       **Manager
	level   slog.Level
	records []slog.Record
	metered []float64 // the version info gauge of the line's version, when handled
}

func (h *installLog) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *installLog) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *installLog) WithGroup(string) slog.Handler                { return h }
func (h *installLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "rules in force" {
		return nil
	}
	h.records = append(h.records, r.Clone())
	var version string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "version" {
			version = a.Value.String()
		}
		return true
	})
	v := -1.0 // no Manager yet
	if *h.m != nil {
		v = 0
		if (*h.m).LoadStats().Version == version {
			v = 1
		}
	}
	h.metered = append(h.metered, v)
	return nil
}

// TestInstallLog: the line of a ruleset put in force names its slowest
// rules, measured only when the line is written (a slog.LogValuer: the
// measuring is some 1.5ms of every start and install, for nothing under
// --log-level warn), and is written once the reload metrics show the new
// version.
func TestInstallLog(t *testing.T) {
	two := "version: two\nrules:\n  - id: fails\n    description: F.\n    when: ip.failures_10m > 3\n    action: deny\n" +
		"  - id: many-users\n    description: M.\n    when: ip.usernames_10m > 20 && account.failures_1h > 2\n    action: step_up\n"
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte(two), 0o644); err != nil {
		t.Fatal(err)
	}
	var m *Manager
	h := &installLog{m: &m}
	var err error
	if m, err = NewManager(Options{Paths: []string{file}, Logger: slog.New(h)}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(two, "version: two", "version: three", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reload(TriggerSignal); err != nil {
		t.Fatal(err)
	}
	if len(h.records) != 2 {
		t.Fatalf("%d lines \"rules in force\", want 2 (start, reload)", len(h.records))
	}
	if h.metered[1] != 1 {
		t.Errorf("the reload's line was written before the metrics showed its version (gauge %v)", h.metered[1])
	}
	var slowest slog.Value
	h.records[1].Attrs(func(a slog.Attr) bool {
		if a.Key == "slowest" {
			slowest = a.Value
		}
		return true
	})
	if slowest.Kind() != slog.KindLogValuer {
		t.Fatalf("slowest is a %v, measured whether or not the line is written; want a LogValuer", slowest.Kind())
	}
	s := slowest.Resolve().String()
	for _, id := range []string{"fails", "many-users"} {
		if !strings.Contains(s, id+" ") {
			t.Errorf("slowest %q does not name rule %s", s, id)
		}
	}

	quiet := &installLog{m: &m, level: slog.LevelWarn}
	if m, err = NewManager(Options{Paths: []string{file}, Logger: slog.New(quiet)}); err != nil {
		t.Fatal(err)
	}
	if len(quiet.records) != 0 {
		t.Errorf("%d info lines under a warn logger", len(quiet.records))
	}
}
