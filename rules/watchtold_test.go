package rules

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/syncbuf"
)

// linkedRig is a Manager whose shared rule file (given as a file, or its
// folder) and acme's overlay file are links into a data folder (as a ConfigMap's
// files are links): an edit of data/default.yaml or data/acme.yaml raises
// no event in any folder the watch watches, and polling is off, so the
// watch looks at them only when something else makes it. That is how the
// tests below make a reload read a version the watch never looks at.
type linkedRig struct {
	t                   *testing.T
	m                   *Manager
	root, data, tenants string
	log                 syncbuf.Buffer
}

func newLinkedRig(t *testing.T, sharedFolder bool) *linkedRig {
	t.Helper()
	root := t.TempDir()
	r := &linkedRig{t: t, root: root, data: filepath.Join(root, "data"), tenants: filepath.Join(root, "tenants")}
	for _, d := range []string{r.data, filepath.Join(root, "rules"), r.dir("acme"), r.dir("beta")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	put(t, r.data, "default.yaml", sharedRules)
	put(t, r.data, "acme.yaml", acmeOverlay)
	put(t, r.dir("beta"), "rules.yaml", betaOverlay)
	for link, target := range map[string]string{
		filepath.Join(root, "rules", "default.yaml"): filepath.Join(r.data, "default.yaml"),
		filepath.Join(r.dir("acme"), "rules.yaml"):   filepath.Join(r.data, "acme.yaml"),
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	shared := filepath.Join(root, "rules", "default.yaml")
	if sharedFolder {
		shared = filepath.Dir(shared)
	}
	var err error
	r.m, err = NewManager(Options{Paths: []string{shared}, TenantsDir: r.tenants,
		Debounce: 20 * time.Millisecond, Poll: -1, Logger: slog.New(slog.NewTextHandler(&r.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *linkedRig) dir(tenant string) string { return filepath.Join(r.tenants, tenant) }

// edit writes the data file behind the shared rule file (tenant "") or
// acme's overlay: no event the watch sees.
func (r *linkedRig) edit(tenant, data string) {
	name := "default.yaml"
	if tenant != "" {
		name = tenant + ".yaml"
	}
	put(r.t, r.data, name, data)
}

// poke raises an event in a watched folder without changing what the
// watch compares there (a hidden file): the watch looks at the folder.
func (r *linkedRig) poke(dir string) {
	put(r.t, dir, ".poke", "")
}

func (r *linkedRig) success() float64 { return successGauge(r.m) }

// loaded reports whether every rule file loads again, as the gauge, the
// tenants' failures and the stale gauge say.
func (r *linkedRig) loaded() bool {
	return r.success() == 1 && len(r.m.Snapshot().TenantFailures) == 0 && len(r.m.LoadStats().Stale) == 0
}

// TestRejectionFoundOutsideTheWatchClears: a rejection that a reload
// other than the watch's own for that path found (SIGHUP; the watch's
// reload for another tenant's folder, which reads every folder) is
// cleared once the files load again, without another edit or SIGHUP.
// The watch retries only the paths whose load it saw fail: back to the
// version it had loaded, the file was no change to it, even when it
// looked (an event in its folder), and riskgate_rules_last_reload_success
// stayed 0, the tenant stale, until the next edit.
func TestRejectionFoundOutsideTheWatchClears(t *testing.T) {
	for _, c := range []struct {
		name   string
		folder bool   // the shared rules given as their folder
		tenant string // whose file is broken; "" for the shared rules
		// reject makes a reload read the broken file; it reports whether
		// that reload was rejected (a SIGHUP's error), or waits for it.
		reject func(r *linkedRig)
	}{
		{name: "SIGHUP reads the shared file", reject: sighup},
		{name: "SIGHUP reads a file of the shared folder", folder: true, reject: sighup},
		{name: "SIGHUP reads a tenant's overlay", tenant: "acme", reject: sighup},
		{name: "the watch's reload for another tenant reads it", tenant: "acme", reject: func(r *linkedRig) {
			put(r.t, r.dir("beta"), "rules.yaml", strings.Replace(betaOverlay, "beta-1", "beta-2", 1))
			waitUntil(r.t, "beta's edit in force and acme's rejection reported", func() bool {
				return overlayLabel(r.m, "beta") == "beta-2" && r.m.TenantFailure("acme") != nil
			})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newLinkedRig(t, c.folder)
			watching(t, r.m)
			good, folder := sharedRules, filepath.Join(r.root, "rules")
			if c.tenant != "" {
				good, folder = acmeOverlay, r.dir(c.tenant)
			}
			r.edit(c.tenant, good+badRule)
			c.reject(r)
			// The gauge is set once the reload has published what it
			// rejected, a moment after what reject waited for.
			waitUntil(t, "riskgate_rules_last_reload_success 0 after the rejection", func() bool { return r.success() == 0 })
			// Reverted before the watch looked at it; then an event, so
			// that the watch looks and finds the version it loaded.
			r.edit(c.tenant, good)
			r.poke(folder)
			waitUntil(t, "the rejection cleared", r.loaded)
			want := "rules no longer rejected"
			if c.tenant != "" {
				want = "tenant rules no longer rejected"
			}
			if !strings.Contains(r.log.String(), want) {
				t.Errorf("the log does not say %q:\n%s", want, r.log.String())
			}
		})
	}
}

// sighup reloads as SIGHUP does, which must reject the broken file.
func sighup(r *linkedRig) {
	r.t.Helper()
	if _, err := r.m.Reload(TriggerSignal); err == nil {
		r.t.Fatal("SIGHUP loaded the broken file")
	}
}

// TestRestartedWatchRetriesWhatFails: the watch starts again when a
// tenant's folder is added or removed (its paths are the folders); the
// new one knew nothing of the paths the old one was retrying, so a file
// fixed since without a change it sees (here, behind a link; a file made
// readable again) stayed rejected until the next edit. The restart's
// first look finds what fails, and the new watch retries it.
func TestRestartedWatchRetriesWhatFails(t *testing.T) {
	r := newLinkedRig(t, false)
	watching(t, r.m)
	// acme broken, and the watch sees it fail (an event in its folder).
	r.edit("acme", acmeOverlay+badRule)
	r.poke(r.dir("acme"))
	waitUntil(t, "acme's rejection reported", func() bool { return r.m.TenantFailure("acme") != nil && r.success() == 0 })
	// A new tenant: the watch starts again, over gamma's folder too.
	staging := filepath.Join(r.tenants, ".gamma")
	if err := os.MkdirAll(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	put(t, staging, "rules.yaml", "version: gamma-1\n")
	if err := os.Rename(staging, r.dir("gamma")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the watch started again over gamma's folder, and looked", func() bool {
		return strings.Contains(r.log.String(), `msg="watching rule files"`) &&
			strings.Contains(r.log.String()[strings.LastIndex(r.log.String(), `msg="watching rule files"`):], r.dir("gamma"))
	})
	if r.m.TenantFailure("acme") == nil || overlayLabel(r.m, "gamma") != "gamma-1" {
		t.Fatalf("after the restart: acme's failure %v, gamma's overlay %q", r.m.TenantFailure("acme"), overlayLabel(r.m, "gamma"))
	}
	r.edit("acme", acmeOverlay)
	waitUntil(t, "acme's rejection cleared", r.loaded)
}
