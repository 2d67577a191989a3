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

// badRule does not compile: the brief's "when: nope".
const badRule = "  - id: bad\n    description: d\n    when: nope\n    action: deny\n"

// TestWatchRevertedEdit: a rejected edit undone (the file put back as it
// was, or the bad file removed) clears the rejection, as a fix does:
// riskgate_rules_last_reload_success back to 1, the tenant's overlay no
// longer stale nor reported. A rule file given as a file stayed rejected
// (the watch took "back to the version loaded" for nothing to do, and the
// Manager clears a rejection by a load alone) until SIGHUP or another
// edit, and the dashboard's alert on the gauge fired indefinitely.
func TestWatchRevertedEdit(t *testing.T) {
	for _, c := range []struct {
		name string
		file bool // the shared rules given as their file, not their folder
		// breaks makes the rejected change; revert undoes it.
		breaks, revert func(t *testing.T, shared, acme string)
		tenant         bool // the change is acme's, not the shared rules'
	}{
		{name: "shared file given, edited back", file: true,
			breaks: func(t *testing.T, shared, _ string) { put(t, shared, "default.yaml", sharedRules+badRule) },
			revert: func(t *testing.T, shared, _ string) { put(t, shared, "default.yaml", sharedRules) }},
		{name: "shared folder, file edited back",
			breaks: func(t *testing.T, shared, _ string) { put(t, shared, "default.yaml", sharedRules+badRule) },
			revert: func(t *testing.T, shared, _ string) { put(t, shared, "default.yaml", sharedRules) }},
		{name: "shared folder, bad file added then removed",
			breaks: func(t *testing.T, shared, _ string) { put(t, shared, "zz.yaml", "rules:\n"+badRule) },
			revert: func(t *testing.T, shared, _ string) { remove(t, filepath.Join(shared, "zz.yaml")) }},
		// Deleted, a rule file or folder is a reload that fails, as it is
		// at start (a restart would fail): the gauge says so until it is
		// back. It stayed 1, the loaded rules in force, with a log line.
		{name: "shared file given, deleted then put back", file: true,
			breaks: func(t *testing.T, shared, _ string) { remove(t, filepath.Join(shared, "default.yaml")) },
			revert: func(t *testing.T, shared, _ string) { put(t, shared, "default.yaml", sharedRules) }},
		{name: "shared folder removed then made again",
			breaks: func(t *testing.T, shared, _ string) {
				if err := os.RemoveAll(shared); err != nil {
					t.Fatal(err)
				}
			},
			revert: func(t *testing.T, shared, _ string) {
				if err := os.Mkdir(shared, 0o755); err != nil {
					t.Fatal(err)
				}
				put(t, shared, "default.yaml", sharedRules)
			}},
		{name: "tenant file edited back", tenant: true,
			breaks: func(t *testing.T, _, acme string) { put(t, acme, "rules.yaml", acmeOverlay+badRule) },
			revert: func(t *testing.T, _, acme string) { put(t, acme, "rules.yaml", acmeOverlay) }},
		{name: "tenant file edited back, shared file given", file: true, tenant: true,
			breaks: func(t *testing.T, _, acme string) { put(t, acme, "rules.yaml", acmeOverlay+badRule) },
			revert: func(t *testing.T, _, acme string) { put(t, acme, "rules.yaml", acmeOverlay) }},
		{name: "tenant folder, bad file added then removed", tenant: true,
			breaks: func(t *testing.T, _, acme string) { put(t, acme, "zz.yaml", "rules:\n"+badRule) },
			revert: func(t *testing.T, _, acme string) { remove(t, filepath.Join(acme, "zz.yaml")) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			shared, tenants := filepath.Join(root, "rules"), filepath.Join(root, "tenants")
			acme := filepath.Join(tenants, "acme")
			for _, d := range []string{shared, acme} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			put(t, shared, "default.yaml", sharedRules)
			put(t, acme, "rules.yaml", acmeOverlay)
			paths := []string{shared}
			if c.file {
				paths = []string{filepath.Join(shared, "default.yaml")}
			}
			var log syncbuf.Buffer
			m, err := NewManager(Options{Paths: paths, TenantsDir: tenants, Debounce: 20 * time.Millisecond, Poll: 50 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			version, overlay := m.Set().Version(), m.Tenant("acme").Overlay.Version()
			watching(t, m)
			success := func() float64 { return successGauge(m) }

			c.breaks(t, shared, acme)
			waitUntil(t, "the bad edit rejected", func() bool { return success() == 0 })
			if c.tenant {
				waitUntil(t, "acme's overlay reported stale", func() bool {
					return m.TenantFailure("acme") != nil && len(m.LoadStats().Stale) == 1
				})
			}

			c.revert(t, shared, acme)
			waitUntil(t, "the revert loaded", func() bool {
				return success() == 1 && m.TenantFailure("acme") == nil && len(m.LoadStats().Stale) == 0
			})
			if m.Set().Version() != version || m.Tenant("acme") == nil || m.Tenant("acme").Overlay.Version() != overlay {
				t.Errorf("after the revert: %s and acme %v in force, want those of the start", m.Set().Version(), m.Tenant("acme"))
			}
			want := "rules no longer rejected; the ruleset in force is unchanged"
			if c.tenant {
				want = "tenant rules no longer rejected"
			}
			waitUntil(t, "the log saying the rejection is over", func() bool { return strings.Contains(log.String(), want) })
		})
	}
}

// put writes a file whole, by a rename, as an atomic writer does: the
// watch never reads it half written (a prefix of a rule file may
// compile, and be loaded as a version of its own).
func put(t *testing.T, dir, name, data string) {
	t.Helper()
	tmp := filepath.Join(dir, ".tmp-"+name)
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// TestDeletedFileRetriedAcrossWatchRestart: a rule file given to --rules
// and deleted is retried by the watch while it stays deleted, also after
// the watch starts again over a tenant's folder added meanwhile; put
// back, it clears the gauge. The restarted watch began with the file gone
// and never retried it.
func TestDeletedFileRetriedAcrossWatchRestart(t *testing.T) {
	root := t.TempDir()
	shared, tenants := filepath.Join(root, "rules"), filepath.Join(root, "tenants")
	for _, d := range []string{shared, filepath.Join(tenants, "acme")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	put(t, shared, "default.yaml", sharedRules)
	put(t, filepath.Join(tenants, "acme"), "rules.yaml", acmeOverlay)
	var log syncbuf.Buffer
	m, err := NewManager(Options{Paths: []string{filepath.Join(shared, "default.yaml")}, TenantsDir: tenants,
		Debounce: 20 * time.Millisecond, Poll: -1, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	watching(t, m)
	failures := func() uint64 { return m.LoadStats().Loads[LoadKey{TriggerFile, ResultFailure}] }

	remove(t, filepath.Join(shared, "default.yaml"))
	waitUntil(t, "the deleted file rejected", func() bool { return successGauge(m) == 0 })
	if err := os.Mkdir(filepath.Join(tenants, "beta"), 0o755); err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(tenants, "beta"), "rules.yaml", betaOverlay)
	waitUntil(t, "the watch started again over beta's folder", func() bool {
		return strings.Count(log.String(), "watching rule files") >= 2
	})
	after := failures()
	waitUntil(t, "the deleted file retried after the restart", func() bool { return failures() >= after+1 })
	if successGauge(m) != 0 {
		t.Error("the gauge cleared with the file still deleted")
	}
	put(t, shared, "default.yaml", sharedRules)
	waitUntil(t, "the file put back loaded", func() bool { return successGauge(m) == 1 })
}

// TestSeveralFilesOneRetry: with several rule files given to --rules, one
// deleted is retried as one: the shared files load together, and each
// retry reloads them all. Each file was told failing and retried on its
// own, so three files tripled the retries, the "rules rejected" lines and
// the failures counted. The retries back off from a second (1 s, then 2 s
// more), so 3.5 s after the deletion one stream has failed three times at
// most (a slow machine fails fewer, never more); three streams failed
// seven.
func TestSeveralFilesOneRetry(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "a.yaml", sharedRules)
	put(t, dir, "b.yaml", "rules:\n  - id: b-rule\n    description: B.\n    when: ip.failures_1h > 30\n    action: deny\n")
	put(t, dir, "c.yaml", "rules:\n  - id: c-rule\n    description: C.\n    when: ip.failures_24h > 300\n    action: deny\n")
	m, err := NewManager(Options{Paths: []string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml"), filepath.Join(dir, "c.yaml")},
		Debounce: 20 * time.Millisecond, Poll: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	watching(t, m)
	failures := func() uint64 { return m.LoadStats().Loads[LoadKey{TriggerFile, ResultFailure}] }
	remove(t, filepath.Join(dir, "b.yaml"))
	waitUntil(t, "the deletion rejected", func() bool { return failures() >= 1 })
	time.Sleep(3500 * time.Millisecond)
	if n := failures(); n > 3 {
		t.Errorf("%d failures 3.5 s after one of three files was deleted, want 3 at most: one retry, not one per file", n)
	}
	put(t, dir, "b.yaml", "rules:\n  - id: b-rule\n    description: B.\n    when: ip.failures_1h > 30\n    action: deny\n")
	waitUntil(t, "the file put back loaded", func() bool { return successGauge(m) == 1 })
}
