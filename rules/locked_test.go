package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

// lockedShared is sharedRules with failures locked.
var lockedShared = strings.Replace(sharedRules, "    action: deny\n", "    action: deny\n    locked: true\n", 1)

// failingEnv matches the shared failures rule (a deny).
var failingEnv = engine.Env{IP: engine.IPEnv{NetWindows: engine.NetWindows{Failures10m: 5}}, Attempt: engine.AttemptEnv{Hour: 12}}

// lockOverrides are overlays that override the locked rule failures, each
// with the field and the line its error names.
var lockOverrides = []struct {
	name, overlay, field string
	line                 int
}{
	{"disable", "disable: [new-country, failures]\n", "disable", 1},
	{"replace", "rules:\n  - id: failures\n    description: Acme's failures only step up.\n    when: ip.failures_10m > 3\n    action: step_up\n", "id", 2},
	{"replace with a shadow rule", "settings: {default_mode: shadow}\nrules:\n  - id: failures\n    description: Trial.\n    when: ip.failures_10m > 3\n    action: deny\n", "id", 3},
}

// wantLockError checks that err names the file:line, the tenant and the
// locked rule of an override.
func wantLockError(t *testing.T, err error, file string, line int, field string) {
	t.Helper()
	var list ErrorList
	var rej *RejectedError
	switch {
	case errors.As(err, &rej):
		for _, p := range rej.Problems {
			list = append(list, p.Error)
		}
	case errors.As(err, &list):
	default:
		t.Fatalf("want the override refused, got %v", err)
	}
	for _, e := range list {
		if e.Rule == "failures" && e.Field == field && e.Line == line && filepath.Base(e.File) == file &&
			strings.Contains(e.Error(), fmt.Sprintf("%s:%d: rule \"failures\": ", file, line)) && strings.Contains(e.Error(), "tenant acme") && strings.Contains(e.Error(), "locked") {
			return
		}
	}
	t.Fatalf("no error names %s:%d, field %s, tenant acme and the locked rule failures: %v", file, line, field, err)
}

// TestLockedRulesOverlayRefused: a tenant overlay could disable or
// replace any shared rule, the operator's deny list and the stuffing
// rules included. A shared rule marked locked: true is refused to every
// overlay that disables or replaces it, wherever overlays are read: a
// put (and :validate), counted as rejected; a start, which fails; a
// reload, which keeps the tenant's last good overlay and reports it. An
// override of a rule that is not locked still loads.
func TestLockedRulesOverlayRefused(t *testing.T) {
	for _, tc := range lockOverrides {
		t.Run(tc.name, func(t *testing.T) {
			f := newTenantsFixture(t)
			f.write(t, filepath.Join(f.shared, "rules.yaml"), lockedShared)
			f.write(t, filepath.Join(f.tenants, "acme", "rules.yaml"), "version: acme-1\n")
			m, err := NewManager(Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Logger: discard()})
			if err != nil {
				t.Fatal(err)
			}
			// A put, and its validation.
			if _, err := m.ValidateTenant("acme", src("acme.yaml", tc.overlay)); err == nil {
				t.Fatal("validate: an override of a locked rule passed")
			} else {
				wantLockError(t, err, "acme.yaml", tc.line, tc.field)
			}
			_, err = m.PutTenant("acme", "", src("acme.yaml", tc.overlay))
			wantLockError(t, err, "acme.yaml", tc.line, tc.field)
			if got := m.LoadStats().Loads[LoadKey{TriggerAPI, ResultRejected}]; got != 1 {
				t.Errorf("rejected puts %d, want 1", got)
			}
			// A reload: acme keeps its overlay in force, reported.
			f.write(t, filepath.Join(f.tenants, "acme", "rules.yaml"), tc.overlay)
			if _, err := m.Reload(TriggerSignal); err == nil {
				t.Fatal("reload: no error")
			} else {
				wantLockError(t, err, "rules.yaml", tc.line, tc.field)
			}
			if overlayLabel(m, "acme") != "acme-1" {
				t.Errorf("acme's overlay in force %q, want its last good one", overlayLabel(m, "acme"))
			}
			fail := m.TenantFailure("acme")
			if fail == nil {
				t.Fatal("no failure reported for acme")
			}
			wantLockError(t, fail.Problems(), "rules.yaml", tc.line, tc.field)
			if st := m.LoadStats(); st.Stale["acme"] != 1 || st.Healthy {
				t.Errorf("stale %v, healthy %v", st.Stale, st.Healthy)
			}
			if a := decideTenant(m, "acme", failingEnv); a != engine.ActionDeny {
				t.Errorf("acme's failures: %v, want deny", a)
			}
			// A start.
			if _, err := NewManager(Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Logger: discard()}); err == nil {
				t.Fatal("start: no error")
			} else {
				wantLockError(t, err, "rules.yaml", tc.line, tc.field)
			}
		})
	}
	// Unlocked, the same overrides load.
	for _, tc := range lockOverrides {
		shared, err := Compile(Source{Name: "shared.yaml", Data: []byte(sharedRules)})
		if err != nil {
			t.Fatal(err)
		}
		o, err := CompileOverlay("acme", Source{Name: "acme.yaml", Data: []byte(tc.overlay)})
		if err != nil {
			t.Fatal(err)
		}
		if errs := o.Locked(shared); errs != nil {
			t.Errorf("%s, unlocked: %v", tc.name, errs)
		}
	}
}

// TestLockedRuleComposed: a locked rule stays in the tenant's ruleset,
// as the shared set has it, whatever its overlay says (the overlay's rule
// of its id left out, never run twice); the overlay's thresholds and its
// other rules apply.
func TestLockedRuleComposed(t *testing.T) {
	shared, err := Compile(Source{Name: "shared.yaml", Data: []byte(lockedShared)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range lockOverrides {
		o, err := CompileOverlay("acme", Source{Name: "acme.yaml", Data: []byte("thresholds: {step_up: 95, deny: 100}\n" + tc.overlay)})
		if err != nil {
			t.Fatal(err)
		}
		set := Compose(shared, o)
		var ids []string
		for _, r := range set.Rules() {
			ids = append(ids, r.ID)
		}
		if a, sc, got := decide(set, failingEnv); a != engine.ActionDeny || strings.Join(got, ",") != "failures" || sc != 0 {
			t.Errorf("%s: %v %d %v, want the shared failures' deny", tc.name, a, sc, got)
		}
		if strings.Count(strings.Join(ids, ","), "failures") != 1 || set.Thresholds().Deny != 100 {
			t.Errorf("%s: rules %v, thresholds %v", tc.name, ids, set.Thresholds())
		}
	}
}

// TestOverlayCannotLock: locked: in an overlay's own rule is refused at
// its line: a lock is the operator's, on the shared rules.
func TestOverlayCannotLock(t *testing.T) {
	_, err := CompileOverlay("acme", Source{Name: "acme.yaml", Data: []byte("rules:\n  - id: acme-x\n    description: X.\n    when: geo.new_country\n    action: deny\n    locked: true\n")})
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Field != "locked" || list[0].Line != 6 || !strings.Contains(list[0].Error(), "acme.yaml:6: rule \"acme-x\": locked: only a shared rule") {
		t.Fatalf("got %v", err)
	}
	if _, err := Compile(Source{Name: "s.yaml", Data: []byte(lockedShared)}); err != nil {
		t.Fatalf("a shared locked rule: %v", err)
	}
	if _, err := Compile(Source{Name: "s.yaml", Data: []byte(strings.Replace(lockedShared, "locked: true", "locked: yes please", 1))}); err == nil || !strings.Contains(err.Error(), "s.yaml:12: rule \"failures\": locked: ") {
		t.Fatalf("locked: not a bool: %v", err)
	}
}

// TestSharedLockWinsOverOverlayInForce: the shared set comes to lock a
// rule that an overlay in force disables (a reload of the shared files,
// or a put of them). The lock wins at once: the tenant's logins run the
// rule; the overlay stays otherwise in force, and the tenant is reported
// rejected (its failure, the stale gauge, the success gauge) until the
// overlay no longer overrides the lock or the lock goes. Its put or
// promotion is refused meanwhile unless it drops the override.
func TestSharedLockWinsOverOverlayInForce(t *testing.T) {
	for _, how := range []string{"reload", "put", "put, in memory"} {
		t.Run(how, func(t *testing.T) {
			f := newTenantsFixture(t)
			opts := Options{Paths: []string{f.shared}, TenantsDir: f.tenants, Logger: discard()}
			if how == "put, in memory" {
				opts.TenantsDir = ""
			}
			m, err := NewManager(opts)
			if err != nil {
				t.Fatal(err)
			}
			overlay := acmeOverlay + "  - id: acme-trial\n    description: Trial.\n    when: attempt.hour > 22\n    action: deny\n    mode: shadow\n"
			if _, err := m.PutTenant("acme", "", src("rules.yaml", overlay)); err != nil {
				t.Fatal(err)
			}
			if a := decideTenant(m, "acme", failingEnv); a != engine.ActionNone {
				t.Fatalf("acme disables failures: %v", a)
			}
			lock := func(shared string) {
				t.Helper()
				if how == "reload" {
					f.write(t, filepath.Join(f.shared, "rules.yaml"), shared)
					if _, err := m.Reload(TriggerSignal); err != nil && shared == sharedRules {
						t.Fatal(err)
					}
					return
				}
				if _, err := m.Put("", src("rules.yaml", shared)); err != nil {
					t.Fatal(err)
				}
			}
			lock(lockedShared)
			if a := decideTenant(m, "acme", failingEnv); a != engine.ActionDeny {
				t.Errorf("acme after the lock: %v, want deny", a)
			}
			if a := decideTenant(m, "acme", engine.Env{Attempt: engine.AttemptEnv{Hour: 3}}); a != engine.ActionStepUp {
				t.Errorf("acme's own rule after the lock: %v, want step_up", a)
			}
			fail := m.TenantFailure("acme")
			if fail == nil {
				t.Fatal("acme not reported")
			}
			wantLockError(t, fail.Problems(), "rules.yaml", 3, "disable")
			if st := m.LoadStats(); st.Stale["acme"] != 1 || st.Healthy {
				t.Errorf("stale %v, healthy %v", st.Stale, st.Healthy)
			}
			if _, err := m.PromoteTenant("acme", "", "acme-trial"); err == nil {
				t.Error("a promotion kept the override of the locked rule")
			} else {
				wantLockError(t, err, "rules.yaml", 3, "disable")
			}
			if o := m.Tenant("acme").Overlay; o.Rules()[1].Mode != Shadow || len(m.Tenant("acme").Problems) == 0 {
				t.Errorf("acme-trial %v, problems %v", o.Rules()[1].Mode, m.Tenant("acme").Problems)
			}
			// The lock goes: the report goes with it.
			lock(sharedRules)
			if fail := m.TenantFailure("acme"); fail != nil {
				t.Errorf("still reported: %v", fail.Err)
			}
			if a := decideTenant(m, "acme", failingEnv); a != engine.ActionNone {
				t.Errorf("acme unlocked: %v, want its overlay's", a)
			}
			// Locked again, the tenant drops its override: reported no more.
			lock(lockedShared)
			if _, err := m.PutTenant("acme", "", src("rules.yaml", strings.Replace(acmeOverlay, "disable: [failures]\n", "", 1))); err != nil {
				t.Fatal(err)
			}
			if fail := m.TenantFailure("acme"); fail != nil || !m.LoadStats().Healthy {
				t.Errorf("after the fix: %v, healthy %v", fail, m.LoadStats().Healthy)
			}
			if how == "reload" {
				if _, err := m.Reload(TriggerSignal); err != nil {
					t.Errorf("reload after the fix: %v", err)
				}
			}
		})
	}
}

// TestDefaultRulesLocked: the built-in rules lock the operator's deny
// list and the credential-stuffing denies, and nothing else.
func TestDefaultRulesLocked(t *testing.T) {
	set, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var locked []string
	for _, r := range set.Rules() {
		if r.Locked {
			locked = append(locked, r.ID)
		}
	}
	want := "stuffing-address-burst,stuffing-address-day,stuffing-subnet-burst,stuffing-breached-passwords,ip-deny-list"
	if strings.Join(locked, ",") != want {
		t.Fatalf("locked %v, want %s", locked, want)
	}
	doc, err := os.ReadFile("../docs/tenants.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range locked {
		if !strings.Contains(string(doc), "`"+id+"`") {
			t.Errorf("docs/tenants.md does not name the locked built-in rule %s", id)
		}
	}
}
