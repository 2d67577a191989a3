package rules

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/syncbuf"
)

const betaOverlay = "version: beta-1\ndisable: [new-country]\n"

// tenantsFixture is a shared rules folder and a tenants folder with the
// overlays of acme and beta.
type tenantsFixture struct {
	root, shared, tenants string
}

func newTenantsFixture(t *testing.T) tenantsFixture {
	t.Helper()
	root := t.TempDir()
	f := tenantsFixture{root: root, shared: filepath.Join(root, "rules"), tenants: filepath.Join(root, "tenants")}
	for _, d := range []string{f.shared, filepath.Join(f.tenants, "acme"), filepath.Join(f.tenants, "beta")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.write(t, filepath.Join(f.shared, "rules.yaml"), sharedRules)
	f.write(t, filepath.Join(f.tenants, "acme", "rules.yaml"), acmeOverlay)
	f.write(t, filepath.Join(f.tenants, "beta", "rules.yaml"), betaOverlay)
	return f
}

// write writes a file whole, as an atomic writer does (a hidden
// temporary renamed over it): a watch's reload never reads it half
// written. (With os.WriteFile, a reload under the race detector could
// read it truncated, and report an empty rule file before the edit.)
func (tenantsFixture) write(t *testing.T, path, data string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// overlayLabel is the version label of a tenant's overlay in force, "" for
// none.
func overlayLabel(m *Manager, tenant string) string {
	s := m.Tenant(tenant)
	if s == nil {
		return ""
	}
	return label(strings.TrimPrefix(s.Overlay.Version(), "tenant:"+tenant+"@"))
}

// TestTenantOverlaysReloadOnTheirOwn: one tenant's broken overlay froze
// every overlay: a reload that found it kept all of them in force, so
// that another tenant's edits (and a new tenant's folder, and a removed
// one) waited for the fix. Each overlay now loads on its own: the broken
// one keeps its last good overlay in force (a tenant without one is
// decided by the shared rules), reported with its file:line in the
// reload's error, the tenant's failure and the stale gauge; the others'
// edits are in force. By a reload (SIGHUP) and by the file watch.
func TestTenantOverlaysReloadOnTheirOwn(t *testing.T) {
	for _, mode := range []string{"reload", "watch"} {
		t.Run(mode, func(t *testing.T) {
			f := newTenantsFixture(t)
			r := newTenantsRun(t, f, mode, TriggerSignal)
			m, log, settle := r.m, &r.log, r.settle
			stale := func() map[string]float64 { return r.stale("acme", "beta", "gamma") }
			acmeSet := m.ForTenant("acme")

			// Break acme's overlay (a misspelt field at line 7) and edit
			// beta's, in one change.
			f.write(t, filepath.Join(f.tenants, "acme", "rules.yaml"), strings.Replace(acmeOverlay, "attempt.hour", "attempt.houre", 1))
			f.write(t, filepath.Join(f.tenants, "beta", "rules.yaml"), strings.Replace(betaOverlay, "beta-1", "beta-2", 1))
			err := settle("beta's edit in force and acme's rejection reported", func() bool {
				return overlayLabel(m, "beta") == "beta-2" && m.TenantFailure("acme") != nil
			})
			if mode == "reload" && (err == nil || !strings.Contains(err.Error(), "tenant acme: ") || !strings.Contains(err.Error(), filepath.Join(f.tenants, "acme", "rules.yaml")+":7: ")) {
				t.Errorf("the reload's error does not name acme's file:line: %v", err)
			}
			if got := overlayLabel(m, "acme"); got != "acme-1" || m.ForTenant("acme") != acmeSet {
				t.Errorf("acme's overlay in force %q, want its last good one, acme-1", got)
			}
			fail := m.TenantFailure("acme")
			probs := fail.Problems()
			if len(probs) != 1 || probs[0].File != "rules.yaml" || probs[0].Line != 7 || !strings.Contains(probs[0].Err.Error(), "attempt.hour") ||
				strings.Contains(probs[0].Error(), f.tenants) {
				t.Errorf("acme's problems: %v", probs)
			}
			if m.TenantFailure("beta") != nil {
				t.Errorf("beta reported as failed: %v", m.TenantFailure("beta").Err)
			}
			if got := stale(); len(got) != 1 || got["acme"] != 1 {
				t.Errorf("stale overlays %v, want acme", got)
			}
			if float64(m.LoadStats().Loads[LoadKey{map[string]string{"reload": TriggerSignal, "watch": TriggerFile}[mode], "failure"}]) < 1 {
				t.Error("the rejection is not counted among the failed reloads")
			}
			since := fail.Since

			// A new tenant whose first overlay is broken has none in force:
			// the shared rules decide it. A shared change is layered under
			// the kept overlay; acme's rejection stays reported, since the
			// same time, and is logged once.
			if err := os.MkdirAll(filepath.Join(f.tenants, "gamma"), 0o755); err != nil {
				t.Fatal(err)
			}
			f.write(t, filepath.Join(f.tenants, "gamma", "rules.yaml"), "rules: [")
			f.write(t, filepath.Join(f.shared, "rules.yaml"), strings.Replace(sharedRules, "version: shared", "version: shared-2", 1))
			settle("gamma's rejection reported and the shared change in force", func() bool {
				return m.TenantFailure("gamma") != nil && label(m.Set().Version()) == "shared-2" && strings.HasPrefix(m.ForTenant("acme").Version(), "shared-2@")
			})
			if m.Tenant("gamma") != nil || m.ForTenant("gamma") != m.Current() {
				t.Error("gamma, without a good overlay, is not decided by the shared rules")
			}
			if got := overlayLabel(m, "acme"); got != "acme-1" {
				t.Errorf("acme's overlay in force after a shared change %q, want acme-1", got)
			}
			if m.TenantFailure("acme") == nil || !m.TenantFailure("acme").Since.Equal(since) {
				t.Errorf("acme's failure after another reload: %+v, since %v", m.TenantFailure("acme"), since)
			}
			if got := stale(); len(got) != 2 || got["acme"] != 1 || got["gamma"] != 1 {
				t.Errorf("stale overlays %v, want acme and gamma", got)
			}
			if n := strings.Count(log.String(), `tenant rules rejected; the tenant's last good overlay stays in force" trigger=`); n != 1 {
				t.Errorf("acme's rejection logged %d times, want once:\n%s", n, log.String())
			}
			if !strings.Contains(log.String(), "tenant=gamma") {
				t.Errorf("gamma's rejection is not logged:\n%s", log.String())
			}

			// Fix acme, remove gamma: acme's new overlay is in force and
			// nothing is stale.
			f.write(t, filepath.Join(f.tenants, "acme", "rules.yaml"), strings.Replace(acmeOverlay, "acme-1", "acme-2", 1))
			if err := os.RemoveAll(filepath.Join(f.tenants, "gamma")); err != nil {
				t.Fatal(err)
			}
			if err := settle("acme's fix in force", func() bool {
				return overlayLabel(m, "acme") == "acme-2" && m.TenantFailure("acme") == nil && m.TenantFailure("gamma") == nil
			}); err != nil {
				t.Errorf("reload: %v", err)
			}
			if got := stale(); len(got) != 0 {
				t.Errorf("stale overlays %v after the fix", got)
			}
			if len(m.Snapshot().TenantFailures) != 0 {
				t.Errorf("failures %v", m.Snapshot().TenantFailures)
			}
		})
	}
}

// TestTenantUnreadableFiles: a tenant folder whose files cannot be read (a
// file over the size bound) dropped the tenant's overlay at a reload, as
// if its folder were empty, with a debug line. It is now a rejection like
// a file that does not compile: the last good overlay stays. At a start,
// where there is none, the tenant is decided by the shared rules and
// reported, as `rules check` warns of it, rather than failing the start.
func TestTenantUnreadableFiles(t *testing.T) {
	f := newTenantsFixture(t)
	m, err := NewManager(Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(f.tenants, "acme", "big.yaml")
	f.write(t, big, "# "+strings.Repeat("x", MaxFileSize))
	if _, err := m.Reload(TriggerSignal); err == nil || !strings.Contains(err.Error(), "tenant acme: ") {
		t.Errorf("reload: %v", err)
	}
	if got := overlayLabel(m, "acme"); got != "acme-1" {
		t.Errorf("acme's overlay in force %q, want acme-1", got)
	}
	fail := m.TenantFailure("acme")
	if fail == nil {
		t.Fatal("acme's unreadable file is not reported")
	}
	if p := fail.Problems(); len(p) != 1 || !strings.Contains(p[0].Error(), "big.yaml") || strings.Contains(p[0].Error(), f.tenants) {
		t.Errorf("problems %v", p)
	}

	m, err = NewManager(Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Logger: discard()})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if m.Tenant("acme") != nil || m.TenantFailure("acme") == nil || overlayLabel(m, "beta") != "beta-1" {
		t.Errorf("start: acme %v, failure %v, beta %q", m.Tenant("acme"), m.TenantFailure("acme"), overlayLabel(m, "beta"))
	}
	if got := float64(m.LoadStats().Stale["acme"]); got != 1 {
		t.Errorf("stale{acme} = %v at start", got)
	}
}

// TestTenantPutClearsFailure: a put of a tenant's overlay writes its
// folder, replacing the files a reload rejected: the tenant is no longer
// reported stale.
func TestTenantPutClearsFailure(t *testing.T) {
	f := newTenantsFixture(t)
	m, err := NewManager(Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	f.write(t, filepath.Join(f.tenants, "acme", "rules.yaml"), "rules: [")
	if _, err := m.Reload(TriggerSignal); err == nil || m.TenantFailure("acme") == nil {
		t.Fatalf("reload: %v", err)
	}
	if _, err := m.PutTenant("acme", "", src("rules.yaml", strings.Replace(acmeOverlay, "acme-1", "acme-3", 1))); err != nil {
		t.Fatal(err)
	}
	if m.TenantFailure("acme") != nil || overlayLabel(m, "acme") != "acme-3" {
		t.Errorf("after the put: failure %v, overlay %q", m.TenantFailure("acme"), overlayLabel(m, "acme"))
	}
	if n := len(m.LoadStats().Stale); n != 0 {
		t.Errorf("%d stale series after the put", n)
	}
	if _, err := m.Reload(TriggerSignal); err != nil || m.TenantFailure("acme") != nil {
		t.Errorf("reload after the put: %v", err)
	}
}

// TestTenantsFolderWarnsOnce: a folder named like no tenant, a rule file
// directly in the tenants folder and an overlay that disables a rule the
// shared set lacks were warned of at every reload, which any tenant's edit
// makes. Each is warned of once, and again only once it changed.
func TestTenantsFolderWarnsOnce(t *testing.T) {
	f := newTenantsFixture(t)
	if err := os.MkdirAll(filepath.Join(f.tenants, "not a tenant"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.write(t, filepath.Join(f.tenants, "stray.yaml"), acmeOverlay)
	f.write(t, filepath.Join(f.tenants, "beta", "rules.yaml"), "disable: [failurez]\n")
	var log syncbuf.Buffer
	m, err := NewManager(Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := m.Reload(TriggerSignal); err != nil {
			t.Fatal(err)
		}
	}
	count := func(s string) int { return strings.Count(log.String(), s) }
	for _, tc := range []struct{ what, line string }{
		{"the folder named like no tenant", "no tenant name"},
		{"the stray rule file", "no tenant reads it"},
		{"the disabled rule the shared set lacks", `"tenant overlay does not fit the shared rules" tenant=beta`},
	} {
		if n := count(tc.line); n != 1 {
			t.Errorf("%s warned of %d times over a start and 3 reloads, want once:\n%s", tc.what, n, log.String())
		}
	}
	// Renamed to another name no tenant has: a new problem, warned of
	// once.
	if err := os.Rename(filepath.Join(f.tenants, "not a tenant"), filepath.Join(f.tenants, "still not one")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := m.Reload(TriggerSignal); err != nil {
			t.Fatal(err)
		}
	}
	if n := count("no tenant name"); n != 2 || !strings.Contains(log.String(), "still not one") {
		t.Errorf("the renamed folder: %d warnings in all, want 2:\n%s", n, log.String())
	}
	// Gone, then back: warned of again.
	if err := os.Remove(filepath.Join(f.tenants, "stray.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reload(TriggerSignal); err != nil {
		t.Fatal(err)
	}
	f.write(t, filepath.Join(f.tenants, "stray.yaml"), acmeOverlay)
	if _, err := m.Reload(TriggerSignal); err != nil {
		t.Fatal(err)
	}
	if n := count("no tenant reads it"); n != 2 {
		t.Errorf("the stray file back: %d warnings in all, want 2", n)
	}
}

// TestReloadErrorFor: the watch tries a path again while its reload
// fails; a tenant's rejected files fail its own folder's path only, not
// another tenant's, the tenants folder's or the shared files'.
func TestReloadErrorFor(t *testing.T) {
	acme, shared, folder := errors.New("acme broken"), errors.New("shared broken"), errors.New("folder unreadable")
	for _, tc := range []struct {
		name string
		r    reloadResult
		path string
		want error
	}{
		{"the broken tenant", reloadResult{tenants: map[string]error{"acme": acme}}, "/r/tenants/acme", acme},
		{"another tenant", reloadResult{tenants: map[string]error{"acme": acme}}, "/r/tenants/beta", nil},
		{"the tenants folder", reloadResult{tenants: map[string]error{"acme": acme}}, "/r/tenants/", nil},
		{"the shared rules", reloadResult{tenants: map[string]error{"acme": acme}}, "/r/rules", nil},
		{"the shared rules broken", reloadResult{shared: shared}, "/r/rules", shared},
		{"a tenant, the shared rules broken", reloadResult{shared: shared}, "/r/tenants/beta", nil},
		{"a tenant, the folder unreadable", reloadResult{folder: folder}, "/r/tenants/beta", folder},
		{"the folder unreadable", reloadResult{folder: folder}, "/r/tenants", folder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.r.errFor("/r/tenants", tc.path)
			if (got == nil) != (tc.want == nil) || (got != nil && !errors.Is(got, tc.want)) {
				t.Errorf("errFor(%s) = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

// decideTenant is the action a tenant's ruleset in force takes on env.
func decideTenant(m *Manager, tenant string, env engine.Env) engine.Action {
	a, _, _ := decide(m.ForTenant(tenant), env)
	return a
}

// TestBrokenSharedFilesDoNotFreezeOverlays: shared files that do not
// compile kept every overlay edit from loading too; the overlays now load
// on the shared set in force.
func TestBrokenSharedFilesDoNotFreezeOverlays(t *testing.T) {
	f := newTenantsFixture(t)
	m, err := NewManager(Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	shared := m.Set().Version()
	f.write(t, filepath.Join(f.shared, "rules.yaml"), "rules: [")
	// beta's edit no longer disables new-country: its 50 is a step-up.
	f.write(t, filepath.Join(f.tenants, "beta", "rules.yaml"), "version: beta-2\nthresholds: {step_up: 30, deny: 80}\n")
	changed, err := m.Reload(TriggerSignal)
	if err == nil || !changed {
		t.Fatalf("reload: changed %v, %v", changed, err)
	}
	if m.Set().Version() != shared || overlayLabel(m, "beta") != "beta-2" {
		t.Errorf("shared %s (want %s), beta %q (want beta-2)", m.Set().Version(), shared, overlayLabel(m, "beta"))
	}
	if a := decideTenant(m, "beta", engine.Env{Geo: engine.GeoEnv{NewCountry: true}}); a != engine.ActionStepUp {
		t.Errorf("beta's new country: %v, want step_up", a)
	}
}

// TestTenantsFolderGone: the whole tenants folder gone while the server
// ran (moved away, or a volume that failed to mount: no folder, or an
// empty mount point) dropped every overlay with one warning, nothing
// reported stale: every tenant fell back to the shared rules, those that
// had tightened them loosened without anyone deciding so. It is now a
// reload failure: every overlay stays in force, reported stale (gauge,
// the tenant's failure, logged once), until the folder is back. An empty
// folder with the NoOverlaysMarker removes them on purpose. By a reload
// and by the file watch.
func TestTenantsFolderGone(t *testing.T) {
	for _, mode := range []string{"reload", "watch"} {
		for _, how := range []string{"removed", "emptied", "emptied on purpose"} {
			t.Run(mode+"/"+how, func(t *testing.T) {
				f := newTenantsFixture(t)
				r := newTenantsRun(t, f, mode, TriggerFile)
				m, log, settle := r.m, &r.log, r.settle
				stale := func() map[string]float64 { return r.stale("acme", "beta") }
				mv := func(from, to string) {
					t.Helper()
					if err := os.Rename(from, to); err != nil {
						t.Fatal(err)
					}
				}
				acmeSet := m.ForTenant("acme")
				away := filepath.Join(f.root, "away")
				var gone, back func()
				switch how {
				case "removed":
					gone, back = func() { mv(f.tenants, away) }, func() { mv(away, f.tenants) }
				default: // an empty mount point: the folder stays, its folders go
					gone = func() {
						if err := os.Mkdir(away, 0o755); err != nil {
							t.Fatal(err)
						}
						if how == "emptied on purpose" {
							f.write(t, filepath.Join(f.tenants, NoOverlaysMarker), "")
						}
						mv(filepath.Join(f.tenants, "acme"), filepath.Join(away, "acme"))
						mv(filepath.Join(f.tenants, "beta"), filepath.Join(away, "beta"))
					}
					back = func() {
						mv(filepath.Join(away, "acme"), filepath.Join(f.tenants, "acme"))
						mv(filepath.Join(away, "beta"), filepath.Join(f.tenants, "beta"))
					}
				}

				gone()
				if how == "emptied on purpose" {
					if err := settle("every overlay removed", func() bool { return len(m.TenantNames()) == 0 }); err != nil {
						t.Errorf("reload: %v", err)
					}
					if got := stale(); len(got) != 0 || len(m.Snapshot().TenantFailures) != 0 {
						t.Errorf("stale %v, failures %v", got, m.Snapshot().TenantFailures)
					}
					back()
					settle("the overlays back", func() bool { return overlayLabel(m, "acme") == "acme-1" && overlayLabel(m, "beta") == "beta-1" })
					return
				}
				err := settle("both tenants reported stale", func() bool {
					return m.TenantFailure("acme") != nil && m.TenantFailure("beta") != nil
				})
				if mode == "reload" {
					if err == nil {
						t.Error("the reload found the tenants folder gone and returned no error")
					}
					// Again: the same problem, logged once.
					if _, err := m.Reload(TriggerFile); err == nil {
						t.Error("the second reload returned no error")
					}
				}
				if overlayLabel(m, "acme") != "acme-1" || overlayLabel(m, "beta") != "beta-1" || m.ForTenant("acme") != acmeSet {
					t.Errorf("overlays in force: acme %q, beta %q; want both kept", overlayLabel(m, "acme"), overlayLabel(m, "beta"))
				}
				env := engine.Env{Geo: engine.GeoEnv{NewCountry: true}}
				if a, _, _ := decide(m.Current(), env); decideTenant(m, "beta", env) == a {
					t.Errorf("beta's new country: %v, as the shared rules decide it; want its overlay's (new-country disabled)", a)
				}
				if got := stale(); len(got) != 2 {
					t.Errorf("stale overlays %v, want acme and beta", got)
				}
				if float64(m.LoadStats().Loads[LoadKey{TriggerFile, "failure"}]) < 1 {
					t.Error("the folder's failure is not counted among the failed reloads")
				}
				p := m.TenantFailure("acme").Problems()
				if len(p) != 1 || !strings.Contains(p[0].Error(), "tenants folder") || strings.Contains(p[0].Error(), f.root) {
					t.Errorf("acme's problems %v: want the tenants folder named, without the server's path", p)
				}
				if _, err := m.PutTenant("acme", "", src("rules.yaml", acmeOverlay)); !errors.Is(err, ErrTenantsFolderUnavailable) {
					t.Errorf("a put while the tenants folder is gone: %v, want ErrTenantsFolderUnavailable (it would leave acme's overlay alone in the folder)", err)
				}
				if n := strings.Count(log.String(), `"tenants rules folder rejected;`); n != 1 {
					t.Errorf("the folder's problem logged %d times at error level, want once:\n%s", n, log.String())
				}

				back()
				// back moves the tenants' folders one at a time: a reload
				// between the two finds acme back and beta gone (removed on
				// purpose, for all it can tell), and the next one brings beta
				// back. Wait for the end of it, not the first reload.
				if err := settle("nothing stale once the folder is back", func() bool {
					return len(m.Snapshot().TenantFailures) == 0 && overlayLabel(m, "acme") == "acme-1" && overlayLabel(m, "beta") == "beta-1"
				}); err != nil {
					t.Errorf("reload: %v", err)
				}
				if got := stale(); len(got) != 0 {
					t.Errorf("stale overlays %v once the folder is back", got)
				}
				if overlayLabel(m, "acme") != "acme-1" || overlayLabel(m, "beta") != "beta-1" {
					t.Errorf("overlays in force: acme %q, beta %q", overlayLabel(m, "acme"), overlayLabel(m, "beta"))
				}
				// One tenant's folder removed on purpose: its overlay goes.
				if err := os.RemoveAll(filepath.Join(f.tenants, "beta")); err != nil {
					t.Fatal(err)
				}
				settle("beta's overlay removed", func() bool { return m.Tenant("beta") == nil })
				if m.Tenant("acme") == nil || m.TenantFailure("beta") != nil || len(stale()) != 0 {
					t.Errorf("after beta's folder was removed: acme %v, beta's failure %v", m.Tenant("acme"), m.TenantFailure("beta"))
				}
			})
		}
	}
}

// TestTenantsFolderMissingAtStart: a start without the tenants folder
// warns and has no overlays (a reload without it, with none in force,
// too); it is read once it appears.
func TestTenantsFolderMissingAtStart(t *testing.T) {
	f := newTenantsFixture(t)
	away := filepath.Join(f.root, "away")
	if err := os.Rename(f.tenants, away); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Logger: discard()})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if len(m.TenantNames()) != 0 {
		t.Errorf("overlays %v", m.TenantNames())
	}
	if _, err := m.Reload(TriggerSignal); err != nil || len(m.Snapshot().TenantFailures) != 0 {
		t.Errorf("reload without the folder and no overlay: %v, failures %v", err, m.Snapshot().TenantFailures)
	}
	if err := os.Rename(away, f.tenants); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reload(TriggerSignal); err != nil || overlayLabel(m, "acme") != "acme-1" {
		t.Errorf("reload with the folder back: %v, acme %q", err, overlayLabel(m, "acme"))
	}
}

// tenantsRun is a Manager over a tenants fixture, reloaded by hand
// (mode "reload", with trigger) or watching its files (mode "watch"),
// logging to log.
type tenantsRun struct {
	t       *testing.T
	m       *Manager
	log     syncbuf.Buffer
	mode    string
	trigger string
}

func newTenantsRun(t *testing.T, f tenantsFixture, mode, trigger string) *tenantsRun {
	t.Helper()
	r := &tenantsRun{t: t, mode: mode, trigger: trigger}
	m, err := NewManager(Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Debounce: 20 * time.Millisecond, Poll: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&r.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r.m = m
	if mode == "watch" {
		watching(t, m)
		// The watch's first look, which watching sees begin, is waited
		// out: reading the tenants' folders after the test's first
		// change, it would put in force overlays other than those the
		// test took before it (new ones, of the same files), or, reading
		// the tenants folder while the test moves it, fail with another
		// error than the folder found gone (TestTenantsFolderMovedWhileRead),
		// whose error lines TestTenantsFolderGone counts.
		if _, err := m.Reload(TriggerFile); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// settle reloads (mode "reload") or waits for the watch, until cond, and
// returns the reload's error.
func (r *tenantsRun) settle(what string, cond func() bool) error {
	r.t.Helper()
	if r.mode == "watch" {
		waitUntil(r.t, what, cond)
		return nil
	}
	_, err := r.m.Reload(r.trigger)
	if !cond() {
		r.t.Fatalf("after the reload: not %s (%v)", what, err)
	}
	return err
}

// stale returns the stale gauge of each of tenants that is not 0.
func (r *tenantsRun) stale(tenants ...string) map[string]float64 {
	out := map[string]float64{}
	for _, tenant := range tenants {
		if v := float64(r.m.LoadStats().Stale[tenant]); v != 0 {
			out[tenant] = v
		}
	}
	return out
}

// TestTenantsFolderMovedWhileRead: a reload that read the tenants folder
// while it was moved away (or unmounted, or swapped for another) took each
// tenant's folder of its listing it had not read yet for one removed on
// purpose, and dropped its overlay: those tenants fell back to the shared
// rules, with nothing stale reported (the next reload, finding the folder
// gone, reported only the overlays left). Such a read is now the whole
// folder's failure, as the folder gone at the start of a reload is: every
// overlay stays, every one reported stale; and once the folder is back,
// the watch reloads it at once, though the reload it failed was of a
// tenant's folder whose retry backs off, and the watch does not poll. One
// tenant's folder removed during a read, the tenants folder staying, is
// still that tenant's overlay removed. By a reload and by the file watch.
// (Not swapped under the watch: the watch reads the new folder at once,
// and the failure before it is too brief to be looked at.)
func TestTenantsFolderMovedWhileRead(t *testing.T) {
	for _, tc := range []struct{ mode, how string }{{"reload", "moved away"}, {"reload", "swapped"}, {"watch", "moved away"}} {
		mode, how := tc.mode, tc.how
		t.Run(mode+"/"+how, func(t *testing.T) {
			f := newTenantsFixture(t)
			// No poll: only the watch's own checks can bring the
			// overlays back. A debounce long beside the test's moves,
			// so that the watch seldom sees the folder gone before it
			// is back: the reload that failed is of beta's folder.
			m, err := NewManager(Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Debounce: 100 * time.Millisecond, Poll: -1, Logger: discard()})
			if err != nil {
				t.Fatal(err)
			}
			if mode == "watch" {
				watching(t, m)
			}
			// The watch's first look, if still in flight, is waited
			// out: the hook is for the reload below.
			if _, err := m.Reload(TriggerFile); err != nil {
				t.Fatal(err)
			}
			stale := func() map[string]float64 {
				out := map[string]float64{}
				for _, tenant := range []string{"acme", "beta"} {
					if v := float64(m.LoadStats().Stale[tenant]); v != 0 {
						out[tenant] = v
					}
				}
				return out
			}
			rename := func(from, to string) { // under the reload: t.Error, not t.Fatal
				if err := os.Rename(from, to); err != nil {
					t.Error(err)
				}
			}
			away := filepath.Join(f.root, "away")
			var moved atomic.Bool
			// Before beta's folder is read, acme's read: the folder
			// goes, or is swapped for one without beta.
			m.setBeforeTenantRead(func(tenant string) {
				if tenant != "beta" || moved.Swap(true) {
					return
				}
				rename(f.tenants, away)
				if how == "swapped" {
					next := filepath.Join(f.root, "next")
					if err := os.MkdirAll(filepath.Join(next, "acme"), 0o755); err != nil {
						t.Error(err)
					}
					if err := os.WriteFile(filepath.Join(next, "acme", "rules.yaml"), []byte(acmeOverlay), 0o644); err != nil {
						t.Error(err)
					}
					rename(next, f.tenants)
				}
			})
			f.write(t, filepath.Join(f.tenants, "beta", "rules.yaml"), strings.Replace(betaOverlay, "beta-1", "beta-2", 1))
			failed := func() bool { return m.TenantFailure("acme") != nil && m.TenantFailure("beta") != nil }
			switch mode {
			case "reload":
				if _, err := m.Reload(TriggerSignal); err == nil || !strings.Contains(err.Error(), "tenant beta's folder") {
					t.Errorf("reload: %v, want the tenants folder's failure", err)
				}
			default:
				deadline := time.Now().Add(5 * time.Second)
				for !failed() && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
			}
			if !moved.Load() {
				t.Fatal("the reload did not read beta's folder")
			}
			if !failed() {
				t.Fatalf("after the read: acme's failure %v, beta's %v; want both reported stale (overlays %v)", m.TenantFailure("acme"), m.TenantFailure("beta"), m.TenantNames())
			}
			if overlayLabel(m, "acme") != "acme-1" || overlayLabel(m, "beta") != "beta-1" {
				t.Errorf("overlays in force: acme %q, beta %q; want both kept", overlayLabel(m, "acme"), overlayLabel(m, "beta"))
			}
			if got := stale(); len(got) != 2 {
				t.Errorf("stale overlays %v, want acme and beta", got)
			}
			want := map[string]string{"moved away": "missing", "swapped": "replaced while it was read"}[how]
			if p := m.TenantFailure("beta").Problems(); len(p) != 1 || !strings.Contains(p[0].Error(), want) || strings.Contains(p[0].Error(), f.root) {
				t.Errorf("beta's problems %v: want the tenants folder %s, without the server's path", p, want)
			}
			if how == "moved away" {
				rename(away, f.tenants)
			}

			// Back (moved away), or another folder (swapped): read
			// whole, at once by the watch.
			wantBeta := map[string]string{"moved away": "beta-2", "swapped": ""}[how]
			back := func() bool {
				return len(m.Snapshot().TenantFailures) == 0 && overlayLabel(m, "acme") == "acme-1" && overlayLabel(m, "beta") == wantBeta
			}
			if mode == "reload" {
				if _, err := m.Reload(TriggerSignal); err != nil || !back() {
					t.Fatalf("reload with the folder back: %v; acme %q, beta %q, failures %v", err, overlayLabel(m, "acme"), overlayLabel(m, "beta"), m.Snapshot().TenantFailures)
				}
			} else {
				waitUntil(t, "the folder read whole", back)
			}
			if got := stale(); len(got) != 0 {
				t.Errorf("stale overlays %v once the folder is back", got)
			}
			if how == "swapped" {
				return
			}

			// One tenant's folder removed during a read, the tenants
			// folder staying: its overlay goes.
			var removed atomic.Bool
			m.setBeforeTenantRead(func(tenant string) {
				if tenant == "beta" && !removed.Swap(true) {
					if err := os.RemoveAll(filepath.Join(f.tenants, "beta")); err != nil {
						t.Error(err)
					}
				}
			})
			f.write(t, filepath.Join(f.tenants, "acme", "rules.yaml"), strings.Replace(acmeOverlay, "acme-1", "acme-2", 1))
			gone := func() bool {
				return overlayLabel(m, "acme") == "acme-2" && m.Tenant("beta") == nil && len(m.Snapshot().TenantFailures) == 0
			}
			if mode == "reload" {
				if _, err := m.Reload(TriggerSignal); err != nil || !gone() {
					t.Errorf("reload: %v; acme %q, beta %q, failures %v", err, overlayLabel(m, "acme"), overlayLabel(m, "beta"), m.Snapshot().TenantFailures)
				}
			} else {
				waitUntil(t, "beta's overlay removed with its folder, acme's edit in force", gone)
			}
			if !removed.Load() {
				t.Error("the reload did not read beta's folder")
			}
		})
	}
}

// TestTenantFolderUnmounted: a tenant's folder that was a volume of its
// own (a mount point: on another device than its parent) when its rule
// files were read or written, found without rule files on another device,
// is a volume unmounted (its mount point left empty), not the tenant's
// overlay emptied on purpose: the overlay stays in force, reported stale,
// until rule files are back. A tenant's folder that is a link to nothing
// is the same. Emptied on its own volume, or a plain folder, or removed,
// the folder removes the overlay as before. Devices are stood in for (a
// test cannot mount); TestTenantFolderUnmounted's cases were also run on
// tmpfs mounts by hand.
func TestTenantFolderUnmounted(t *testing.T) {
	f := newTenantsFixture(t)
	m, err := NewManager(Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	acme := filepath.Join(f.tenants, "acme")
	mounted := true // acme's folder is a volume of its own
	m.mu.Lock()
	m.folderDevice = func(dir string) (uint64, bool) {
		dev, ok := folderDevice(dir)
		if mounted && dir == acme {
			dev++ // the volume's device, not its parent's
		}
		return dev, ok
	}
	m.mu.Unlock()
	reload := func(what string, want error) {
		t.Helper()
		if _, err := m.Reload(TriggerSignal); !errors.Is(err, want) && (want != nil || err != nil) {
			t.Fatalf("%s: reload: %v, want %v", what, err, want)
		}
	}
	kept := func(what, tenant, label string, why error) {
		t.Helper()
		if got := overlayLabel(m, tenant); got != label {
			t.Errorf("%s: %s's overlay in force %q, want %q kept", what, tenant, got, label)
		}
		if fail := m.TenantFailure(tenant); fail == nil || !errors.Is(fail.Err, why) {
			t.Errorf("%s: %s's failure %v, want %v", what, tenant, fail, why)
		}
		if got := m.LoadStats().Stale[tenant]; got != 1 {
			t.Errorf("%s: stale{%s} = %v, want 1", what, tenant, got)
		}
	}
	reload("acme mounted", nil) // its rule files read from its volume

	mounted = false
	if err := os.Remove(filepath.Join(acme, "rules.yaml")); err != nil {
		t.Fatal(err)
	}
	reload("acme's volume unmounted", errTenantFolderOtherFS)
	kept("acme's volume unmounted", "acme", "acme-1", errTenantFolderOtherFS)
	if got := overlayLabel(m, "beta"); got != "beta-1" {
		t.Errorf("beta's overlay %q", got)
	}

	// Mounted again, with an edit made meanwhile.
	mounted = true
	f.write(t, filepath.Join(acme, "rules.yaml"), strings.Replace(acmeOverlay, "acme-1", "acme-2", 1))
	reload("acme's volume back", nil)
	if got := overlayLabel(m, "acme"); got != "acme-2" || m.TenantFailure("acme") != nil {
		t.Errorf("acme's volume back: overlay %q, failure %v; want acme-2, none", got, m.TenantFailure("acme"))
	}

	// Emptied on its own volume: no overlay, on purpose.
	if err := os.Remove(filepath.Join(acme, "rules.yaml")); err != nil {
		t.Fatal(err)
	}
	reload("acme's volume emptied", nil)
	if m.Tenant("acme") != nil || m.TenantFailure("acme") != nil {
		t.Errorf("acme's volume emptied: overlay %v, failure %v; want neither", m.Tenant("acme"), m.TenantFailure("acme"))
	}

	// A put onto the volume, then an unmount: the put's folder was a
	// volume of its own too.
	if _, err := m.PutTenant("acme", "", []Source{{Name: "rules.yaml", Data: []byte(strings.Replace(acmeOverlay, "acme-1", "acme-3", 1))}}); err != nil {
		t.Fatal(err)
	}
	mounted = false
	if err := os.Remove(filepath.Join(acme, "rules.yaml")); err != nil {
		t.Fatal(err)
	}
	reload("acme's volume unmounted after a put", errTenantFolderOtherFS)
	kept("acme's volume unmounted after a put", "acme", "acme-3", errTenantFolderOtherFS)

	// A plain folder emptied (beta's, on the tenants folder's own file
	// system) removes its overlay, whatever acme's volume does.
	if err := os.Remove(filepath.Join(f.tenants, "beta", "rules.yaml")); err != nil {
		t.Fatal(err)
	}
	reload("beta emptied", errTenantFolderOtherFS) // acme's still
	if m.Tenant("beta") != nil || m.TenantFailure("beta") != nil {
		t.Errorf("beta emptied: overlay %v, failure %v; want neither", m.Tenant("beta"), m.TenantFailure("beta"))
	}

	// Removed while unmounted: the overlay goes, on purpose.
	if err := os.Remove(acme); err != nil {
		t.Fatal(err)
	}
	reload("acme's folder removed", nil)
	if m.Tenant("acme") != nil || m.TenantFailure("acme") != nil {
		t.Errorf("acme's folder removed: overlay %v, failure %v; want neither", m.Tenant("acme"), m.TenantFailure("acme"))
	}
}

// TestTenantFolderLinkDangling: a tenant's folder that is a link into a
// volume that is gone (a link to nothing) keeps the tenant's overlay,
// reported stale; the link removed, the overlay goes.
func TestTenantFolderLinkDangling(t *testing.T) {
	root := t.TempDir()
	shared, tenants, volume := filepath.Join(root, "rules"), filepath.Join(root, "tenants"), filepath.Join(root, "volume")
	gamma := filepath.Join(volume, "overlays", "gamma")
	for _, d := range []string{shared, tenants, gamma} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var f tenantsFixture
	f.write(t, filepath.Join(shared, "rules.yaml"), sharedRules)
	f.write(t, filepath.Join(gamma, "rules.yaml"), strings.ReplaceAll(acmeOverlay, "acme", "gamma"))
	// Another tenant, so that the folder never holds no tenant's folder
	// (TestTenantsFolderGone's case).
	if err := os.MkdirAll(filepath.Join(tenants, "beta"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.write(t, filepath.Join(tenants, "beta", "rules.yaml"), betaOverlay)
	link := filepath.Join(tenants, "gamma")
	if err := os.Symlink(gamma, link); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Options{Paths: []string{shared}, TenantsDir: tenants, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if got := overlayLabel(m, "gamma"); got != "gamma-1" {
		t.Fatalf("gamma's overlay at start %q", got)
	}
	if err := os.RemoveAll(volume); err != nil { // as an unmount leaves it: the link's target gone
		t.Fatal(err)
	}
	if _, err := m.Reload(TriggerSignal); !errors.Is(err, errTenantFolderDangling) {
		t.Errorf("reload with gamma's link dangling: %v", err)
	}
	if got := overlayLabel(m, "gamma"); got != "gamma-1" {
		t.Errorf("gamma's link dangling: overlay %q, want gamma-1 kept", got)
	}
	if fail := m.TenantFailure("gamma"); fail == nil || !errors.Is(fail.Err, errTenantFolderDangling) {
		t.Errorf("gamma's link dangling: failure %v", fail)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reload(TriggerSignal); err != nil {
		t.Errorf("reload with gamma's link removed: %v", err)
	}
	if m.Tenant("gamma") != nil || m.TenantFailure("gamma") != nil {
		t.Errorf("gamma's link removed: overlay %v, failure %v; want neither", m.Tenant("gamma"), m.TenantFailure("gamma"))
	}
}
