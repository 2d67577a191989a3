package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/rules"
)

// TestRevertedEditClearsRejection: through a real server and its file
// watch, a rejected edit undone by putting the file back as it was (the
// usual fix) clears what reported it: riskgate_rules_last_reload_success
// back to 1 for the shared rules given as a file, and for a tenant's
// overlay its stale gauge, its reload_error and /readyz's count. The
// shared file stayed rejected until a SIGHUP or another edit, and the
// dashboard's alert on the gauge fired indefinitely.
func TestRevertedEditClearsRejection(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, tenantTokens: map[string]string{"acme": acmeToken}, rulesFile: true})
	const bad = "  - id: bad\n    description: d\n    when: nope\n    action: deny\n"
	// put writes a file whole, by a rename, so that the watch never
	// reads it half written.
	put := func(dir, name, data string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, ".tmp-"+name)
		if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	success := func() float64 { return ts.metricValue(t, "riskgate_rules_last_reload_success") }
	var view struct {
		Overlay *struct {
			Version string `json:"version"`
		} `json:"overlay"`
		ReloadError any `json:"reload_error"`
	}
	acme := func() bool {
		t.Helper()
		view.Overlay, view.ReloadError = nil, nil
		if code := httpDo(t, nil, "GET", ts.url("/v1/tenants/acme/rules"), adminToken, nil, &view); code != 200 {
			t.Fatalf("get acme: %d", code)
		}
		return view.ReloadError != nil
	}
	ready := func() string {
		t.Helper()
		var r struct {
			Checks map[string]string `json:"checks"`
		}
		if code := httpDo(t, nil, "GET", ts.url("/readyz"), "", nil, &r); code != 200 {
			t.Fatalf("readyz: %d %+v", code, r)
		}
		return r.Checks["rules"]
	}
	stale := func() float64 { return ts.metricValue(t, "riskgate_rules_tenant_overlay_stale", "tenant", "acme") }

	acmeDir := filepath.Join(ts.tenantsDir, "acme")
	put(acmeDir, "rules.yaml", acmeOverlay)
	waitFor(t, "acme's overlay in force", func() bool {
		return !acme() && view.Overlay != nil && strings.Contains(view.Overlay.Version, "@acme-1@")
	})

	// The shared rules, given as a file: a bad edit, then the file as it was.
	good := string(rules.DefaultSource().Data)
	put(ts.rulesDir, "rules.yaml", good+bad)
	waitFor(t, "the shared edit rejected", func() bool { return success() == 0 })
	// Still ready (the rules in force decide), but saying so.
	const sharedRejected = "the last reload of the rule files was rejected"
	if r := ready(); !strings.Contains(r, sharedRejected) {
		t.Errorf("readyz while the shared edit is rejected: %q", r)
	}
	put(ts.rulesDir, "rules.yaml", good)
	waitFor(t, "the shared revert loaded", func() bool { return success() == 1 })
	if r := ready(); strings.Contains(r, sharedRejected) {
		t.Errorf("readyz after the revert: %q", r)
	}

	// acme's overlay: a bad edit, then the file as it was.
	put(acmeDir, "rules.yaml", acmeOverlay+bad)
	waitFor(t, "acme's edit rejected and reported", func() bool {
		return acme() && stale() == 1 && strings.Contains(ready(), "1 tenant overlay(s) rejected") && success() == 0
	})
	put(acmeDir, "rules.yaml", acmeOverlay)
	waitFor(t, "acme's revert loaded and no longer reported", func() bool {
		return !acme() && stale() == 0 && !strings.Contains(ready(), "rejected") && success() == 1
	})
	if view.Overlay == nil || !strings.Contains(view.Overlay.Version, "@acme-1@") {
		t.Errorf("acme's overlay after the revert: %+v", view.Overlay)
	}
}
