package rules

import (
	"bytes"
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

const sharedRules = "version: shared\nthresholds: {step_up: 40, deny: 90}\nrules:\n" +
	"  - id: new-country\n    description: New country.\n    when: geo.new_country\n    score: 50\n" +
	"  - id: failures\n    description: Failures.\n    when: ip.failures_10m > 3\n    action: deny\n"

const acmeOverlay = "version: acme-1\nthresholds: {step_up: 20, deny: 60}\ndisable: [failures]\nrules:\n" +
	"  - id: acme-night\n    description: Night logins.\n    when: attempt.hour < 6\n    action: step_up\n"

// decide is what a tenant's ruleset answers for an environment.
func decide(rs engine.Ruleset, env engine.Env) (engine.Action, int, []string) {
	var v engine.Verdict
	rs.Evaluate(&env, &v)
	var ids []string
	for _, r := range v.Reasons {
		ids = append(ids, r.RuleID)
	}
	return v.Action, v.Score, ids
}

func TestCompose(t *testing.T) {
	shared, err := Compile(Source{Name: "shared.yaml", Data: []byte(sharedRules)})
	if err != nil {
		t.Fatal(err)
	}
	o, err := CompileOverlay("acme", Source{Name: "acme.yaml", Data: []byte(acmeOverlay)})
	if err != nil {
		t.Fatal(err)
	}
	set := Compose(shared, o)
	if !strings.HasPrefix(set.Version(), shared.Version()+" + tenant:acme@acme-1@sha256:") {
		t.Fatalf("version %q", set.Version())
	}
	if s, ov := SplitVersion(set.Version()); s != shared.Version() || ov != o.Version() {
		t.Fatalf("split %q %q", s, ov)
	}
	env := engine.Env{Geo: engine.GeoEnv{NewCountry: true}, IP: engine.IPEnv{NetWindows: engine.NetWindows{Failures10m: 5}}, Attempt: engine.AttemptEnv{Hour: 12}}
	// Shared: failures denies; acme disables it, and its own thresholds
	// make the new country's 50 a step-up... and 50 < 60, so step_up.
	if a, _, ids := decide(shared, env); a != engine.ActionDeny || len(ids) != 2 {
		t.Fatalf("shared: %v %v", a, ids)
	}
	if a, sc, ids := decide(set, env); a != engine.ActionStepUp || sc != 50 || strings.Join(ids, ",") != "new-country" {
		t.Fatalf("acme: %v %d %v", a, sc, ids)
	}
	env.Attempt.Hour = 3
	if _, _, ids := decide(set, env); strings.Join(ids, ",") != "new-country,acme-night" {
		t.Fatalf("acme at night: %v", ids)
	}
	// An overlay rule with a shared rule's id replaces it in place.
	o2, err := CompileOverlay("beta", Source{Name: "b.yaml", Data: []byte("rules:\n  - id: new-country\n    description: Beta trusts travellers.\n    when: geo.new_country\n    score: 5\n")})
	if err != nil {
		t.Fatal(err)
	}
	if _, sc, ids := decide(Compose(shared, o2), env); sc != 5 || strings.Join(ids, ",") != "new-country,failures" {
		t.Fatalf("beta: %d %v", sc, ids)
	}
	if Compose(shared, nil) != shared {
		t.Fatal("no overlay is the shared set itself")
	}
}

func TestOverlayErrors(t *testing.T) {
	shared, _ := Compile(Source{Name: "shared.yaml", Data: []byte(sharedRules)})
	for _, tc := range []struct{ name, tenant, file, want string }{
		{"half thresholds", "acme", "thresholds: {step_up: 20}\n", "sets both step_up and deny"},
		{"bad thresholds", "acme", "thresholds: {step_up: 70, deny: 60}\n", "want 0 < step_up <= deny"},
		{"bad tenant", "../x", "disable: [failures]\n", "tenant"},
		{"duplicate disable", "acme", "disable: [failures, failures]\n", "already disabled"},
		{"bad rule", "acme", "rules:\n  - id: x\n    description: X.\n    when: geo.new_contry\n    action: deny\n", "did you mean `geo.new_country`?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileOverlay(tc.tenant, Source{Name: "o.yaml", Data: []byte(tc.file)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	o, err := CompileOverlay("acme", Source{Name: "o.yaml", Data: []byte("disable:\n  - failure\n")})
	if err != nil {
		t.Fatal(err)
	}
	errs := o.Check(shared)
	if len(errs) != 1 || errs[0].Line != 2 || !strings.Contains(errs[0].Error(), `no rule "failure" (did you mean "failures"?)`) {
		t.Fatalf("check: %v", errs)
	}
	if _, err := Compile(Source{Name: "s.yaml", Data: []byte(sharedRules + "disable: [x]\n")}); err == nil || !strings.Contains(err.Error(), "only a tenant overlay") {
		t.Fatalf("shared disable: %v", err)
	}
}

// TestManagerTenants: overlays load from the tenants folder, a put writes
// one tenant's folder only, other tenants keep the shared set (the same
// pointer: nothing composed for them), and a change of the shared set is
// layered under every overlay.
func TestManagerTenants(t *testing.T) {
	root := t.TempDir()
	sharedDir, tenants := filepath.Join(root, "rules"), filepath.Join(root, "tenants")
	for _, d := range []string{sharedDir, filepath.Join(tenants, "acme"), filepath.Join(tenants, ".hidden")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, data string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(sharedDir, "rules.yaml"), sharedRules)
	write(filepath.Join(tenants, "acme", "rules.yaml"), acmeOverlay)
	m, err := NewManager(Options{Paths: []string{sharedDir}, TenantsDir: tenants, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.TenantNames(); strings.Join(got, ",") != "acme" {
		t.Fatalf("tenants %v", got)
	}
	if m.ForTenant("other") != m.Current() || m.ForTenant("default") != m.Current() {
		t.Fatal("a tenant without an overlay must get the shared set itself")
	}
	acme := m.ForTenant("acme")
	if !strings.Contains(acme.Version(), " + tenant:acme@") {
		t.Fatalf("acme version %q", acme.Version())
	}

	// A put for beta: written to tenants/beta, acme untouched.
	if _, err := m.PutTenant("beta", "tenant:beta@sha256:000000000000", src("x.yaml", "disable: [failures]\n")); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("if_version for a tenant without an overlay: %v", err)
	}
	var rej *RejectedError
	if _, err := m.PutTenant("beta", "", src("x.yaml", "disable: [failurez]\n")); !errors.As(err, &rej) || rej.Problems[0].File != "x.yaml" {
		t.Fatalf("unknown disabled rule: %v", err)
	}
	b, err := m.PutTenant("beta", "", src("beta.yaml", "disable: [failures]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Origin != OriginFile || b.PersistPath != filepath.Join(tenants, "beta") {
		t.Fatalf("beta: origin %s path %s", b.Origin, b.PersistPath)
	}
	if data, err := os.ReadFile(filepath.Join(tenants, "beta", "beta.yaml")); err != nil || string(data) != "disable: [failures]\n" {
		t.Fatalf("beta on disk: %q %v", data, err)
	}
	if m.ForTenant("acme") != acme {
		t.Fatal("a put for beta changed acme's ruleset")
	}
	env := engine.Env{IP: engine.IPEnv{NetWindows: engine.NetWindows{Failures10m: 5}}, Attempt: engine.AttemptEnv{Hour: 12}}
	if a, _, _ := decide(m.ForTenant("beta"), env); a != engine.ActionNone {
		t.Fatalf("beta disabled failures, got %v", a)
	}
	if a, _, _ := decide(m.ForTenant("other"), env); a != engine.ActionDeny {
		t.Fatalf("other tenants keep failures, got %v", a)
	}

	// A shared change is layered under every overlay; the overlays'
	// versions stay.
	ov := m.Tenant("acme").Overlay.Version()
	if _, err := m.Put("", src("rules.yaml", strings.Replace(sharedRules, "score: 50", "score: 55", 1))); err != nil {
		t.Fatal(err)
	}
	shared, overlay := SplitVersion(m.ForTenant("acme").Version())
	if shared != m.Set().Version() || overlay != ov {
		t.Fatalf("after a shared put: %q", m.ForTenant("acme").Version())
	}
	// A reload reads the same files: nothing changes.
	if changed, err := m.Reload(TriggerSignal); err != nil || changed {
		t.Fatalf("reload: %v %v", changed, err)
	}
	// A broken overlay on disk is refused by a reload; what is in force stays.
	write(filepath.Join(tenants, "acme", "rules.yaml"), "rules: [")
	if _, err := m.Reload(TriggerSignal); err == nil || !strings.Contains(err.Error(), "tenant acme") {
		t.Fatalf("broken overlay: %v", err)
	}
	if m.Tenant("acme").Overlay.Version() != ov {
		t.Fatal("a broken overlay replaced the one in force")
	}
	// ...and fails a start, as a broken shared file does.
	if _, err := NewManager(Options{Paths: []string{sharedDir}, TenantsDir: tenants, Logger: discard()}); err == nil {
		t.Fatal("a broken overlay must fail the start")
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkRulesFor: what the engine pays per Score to find the ruleset:
// Current (before overlays) against ForTenant for a tenant without one and
// for a tenant with one, among 1,000 tenants with overlays.
func BenchmarkRulesFor(b *testing.B) {
	m, err := NewManager(Options{Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	var sink engine.Ruleset
	b.Run("no-overlays", func(b *testing.B) {
		for b.Loop() {
			sink = m.ForTenant("default")
		}
	})
	for i := range 1000 {
		if _, err := m.PutTenant(fmt.Sprintf("t%d", i), "", src("o.yaml", "disable: [new-device]\n")); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("current", func(b *testing.B) {
		for b.Loop() {
			sink = m.Current()
		}
	})
	b.Run("tenant-without-overlay", func(b *testing.B) {
		for b.Loop() {
			sink = m.ForTenant("default")
		}
	})
	b.Run("tenant-with-overlay", func(b *testing.B) {
		for b.Loop() {
			sink = m.ForTenant("t500")
		}
	})
	_ = sink
}

// TestTenantPutMetrics: a tenant's overlay put is a load counted as a
// success and timed; a rejected one is counted as rejected (not as a
// failure, which is rule files that do not load) and changes
// neither the success gauge (nothing on disk is rejected) nor the time of
// the last load; neither changes the shared ruleset's version or rule
// count.
func TestTenantPutMetrics(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(file, []byte(sharedRules), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	m, err := NewManager(Options{Paths: []string{file}, TenantsDir: filepath.Join(dir, "tenants"), Logger: discard(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	version := m.Set().Version()
	loaded := now // the start's load
	for _, step := range []struct {
		name, overlay string
		ok            bool
	}{
		{"rejected", "rules: [\n", false},
		{"put", acmeOverlay, true},
		{"rejected again", "disable: [failurez]\n", false},
		{"put again", "disable: [failures]\n", true},
	} {
		now = now.Add(time.Second)
		_, err := m.PutTenant("acme", "", src("acme.yaml", step.overlay))
		if (err == nil) != step.ok {
			t.Fatalf("%s: %v", step.name, err)
		}
		if step.ok {
			loaded = now
		}
		mt := m.LoadStats()
		if !mt.Healthy {
			t.Errorf("%s: last reload success 0, want 1", step.name)
		}
		if got := mt.LastLoad.Unix(); got != loaded.Unix() {
			t.Errorf("%s: last reload at %v, want %v", step.name, got, loaded.Unix())
		}
	}
	mt := m.LoadStats()
	for result, want := range map[string]uint64{"success": 2, "rejected": 2, "failure": 0} {
		if got := mt.Loads[LoadKey{TriggerAPI, result}]; got != want {
			t.Errorf("reloads{api,%s} = %v, want %v", result, got, want)
		}
	}
	if mt.Version != version || mt.Rules != 2 {
		t.Errorf("the shared ruleset's version or count changed: %q, count %v", mt.Version, mt.Rules)
	}
}

// TestOverlayCostIsBounded: a tenant's logins run the shared rules and
// its overlay's, so the bound on a ruleset's cost holds for the two
// together: an overlay over it on its own is refused wherever it is
// compiled, and one that fits alone but not with the shared rules is
// refused by a put, naming the overlay's costliest rule; disabling shared
// rules makes room.
func TestOverlayCostIsBounded(t *testing.T) {
	heavy := func(prefix string, n int) string {
		var b strings.Builder
		b.WriteString("rules:\n")
		for i := range n {
			fmt.Fprintf(&b, "  - id: %s-%d\n    description: Heavy.\n    when: len(repeat(attempt.user_agent, 400)) == %d\n    score: 1\n", prefix, i, i)
		}
		return b.String()
	}
	var alone ErrorList
	if _, err := CompileOverlay("acme", src("acme.yaml", heavy("acme", 7))...); !errors.As(err, &alone) || !strings.Contains(err.Error(), "too costly") {
		t.Fatalf("an overlay over the bound on its own: %v", err)
	}
	shared, err := Compile(src("shared.yaml", heavy("shared", 4))...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Options{Set: shared, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	var rej *RejectedError
	_, err = m.PutTenant("acme", "", src("acme.yaml", heavy("acme", 3)))
	if !errors.As(err, &rej) || len(rej.Problems) != 1 || rej.Problems[0].File != "acme.yaml" || rej.Problems[0].Rule != "acme-0" ||
		!strings.Contains(rej.Problems[0].Err.Error(), "the tenant's ruleset (the shared rules with this overlay's) is too costly") {
		t.Fatalf("an overlay over the bound with the shared rules: %v", err)
	}
	if m.Tenant("acme") != nil {
		t.Fatal("a refused overlay was put in force")
	}
	if _, err := m.ValidateTenant("acme", src("acme.yaml", heavy("acme", 3))); !errors.As(err, &rej) {
		t.Errorf("validate: %v", err)
	}
	if _, err := m.PutTenant("acme", "", src("acme.yaml", "disable: [shared-0]\n"+heavy("acme", 3))); err != nil {
		t.Errorf("an overlay that disables a heavy shared rule to fit: %v", err)
	}
}

// TestTenantsFolderWithRuleFiles: --rules-tenants given a tenant's own
// folder (tenants/acme for tenants) found no overlay and said nothing; the
// rule files directly in it, which no tenant reads, are now warned of by
// name.
func TestTenantsFolderWithRuleFiles(t *testing.T) {
	root := t.TempDir()
	sharedDir, acme := filepath.Join(root, "rules"), filepath.Join(root, "tenants", "acme")
	for _, d := range []string{sharedDir, acme} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range map[string]string{
		filepath.Join(sharedDir, "rules.yaml"): sharedRules,
		filepath.Join(acme, "rules.yaml"):      acmeOverlay,
		filepath.Join(acme, "notes.txt"):       "not rules",
	} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	m, err := NewManager(Options{Paths: []string{sharedDir}, TenantsDir: acme, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.TenantNames(); len(got) != 0 {
		t.Errorf("tenants %v, want none", got)
	}
	want := "path=" + filepath.Join(acme, "rules.yaml")
	if !strings.Contains(log.String(), "no tenant reads it") || !strings.Contains(log.String(), want) {
		t.Errorf("log does not warn of %s:\n%s", want, log.String())
	}
	if strings.Contains(log.String(), "notes.txt") {
		t.Errorf("log warns of a file that is no rule file:\n%s", log.String())
	}
}

// TestWatchTenantFolders: a tenant's folder made while the server runs is
// loaded and then watched (an edit in it is put in force), and a folder
// removed takes its overlay with it. The watch once saw neither: a new
// folder waited for SIGHUP and its edits for a restart, and a removed one
// kept its overlay.
func TestWatchTenantFolders(t *testing.T) {
	root := t.TempDir()
	sharedDir, tenants := filepath.Join(root, "rules"), filepath.Join(root, "tenants")
	for _, d := range []string{sharedDir, tenants} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(sharedDir, "rules.yaml"), []byte(sharedRules), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Options{Paths: []string{sharedDir}, TenantsDir: tenants, Debounce: 20 * time.Millisecond, Poll: 50 * time.Millisecond, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	watching(t, m)
	version := func() string {
		if s := m.Tenant("acme"); s != nil {
			return s.Overlay.Version()
		}
		return ""
	}
	// Written aside and moved in, as a deploy would: the folder appears
	// with its file.
	stage := filepath.Join(root, "stage")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stage, "rules.yaml"), []byte(acmeOverlay), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(stage, filepath.Join(tenants, "acme")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the new tenant folder in force", func() bool { return strings.Contains(version(), "acme-1") })
	edited := strings.Replace(acmeOverlay, "acme-1", "acme-2", 1)
	if err := os.WriteFile(filepath.Join(tenants, "acme", "rules.yaml"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the edit in the new folder in force", func() bool { return strings.Contains(version(), "acme-2") })
	if err := os.RemoveAll(filepath.Join(tenants, "acme")); err != nil {
		t.Fatal(err)
	}
	// The last tenant's folder removed leaves the tenants folder empty,
	// which an unmounted volume does too: the overlay stays, reported,
	// until the folder says it is empty on purpose.
	waitUntil(t, "the emptied folder reported", func() bool { return m.TenantFailure("acme") != nil })
	if m.Tenant("acme") == nil {
		t.Fatal("the overlay was dropped when the tenants folder emptied")
	}
	if err := os.WriteFile(filepath.Join(tenants, NoOverlaysMarker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the removed folder's overlay gone", func() bool { return m.Tenant("acme") == nil && m.TenantFailure("acme") == nil })
}

// A tenant's folder may be a symbolic link to a folder elsewhere (a
// mounted volume, a deploy's release folder). It was skipped without a
// word, at start and at each reload: an overlay put through the API was
// written through the link and in force until the next reload (any
// tenant's edit, SIGHUP) dropped it.
func TestSymlinkedTenantFolder(t *testing.T) {
	root := t.TempDir()
	sharedDir, tenants, elsewhere := filepath.Join(root, "rules"), filepath.Join(root, "tenants"), filepath.Join(root, "volume", "acme")
	for _, d := range []string{sharedDir, tenants, elsewhere} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range map[string]string{
		filepath.Join(sharedDir, "rules.yaml"): sharedRules,
		filepath.Join(elsewhere, "rules.yaml"): acmeOverlay,
	} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(elsewhere, filepath.Join(tenants, "acme")); err != nil {
		t.Fatal(err)
	}
	// A link to a file, or to nothing, is no tenant's folder.
	if err := os.Symlink(filepath.Join(sharedDir, "rules.yaml"), filepath.Join(tenants, "file")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "gone"), filepath.Join(tenants, "dangling")); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Options{Paths: []string{sharedDir}, TenantsDir: tenants, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.TenantNames(); strings.Join(got, ",") != "acme" {
		t.Fatalf("tenants at start %v, want acme", got)
	}
	if _, err := m.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if got := m.TenantNames(); strings.Join(got, ",") != "acme" {
		t.Errorf("tenants after a reload %v, want acme", got)
	}
	if got, want := m.tenantWatchPaths(), []string{tenants, filepath.Join(tenants, "acme")}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("watched %v, want %v", got, want)
	}
}
