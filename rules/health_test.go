package rules

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/internal/syncbuf"
)

// TestReloadSuccessSaysHowTheFilesLoad: riskgate_rules_last_reload_success
// is 0 exactly while a rule file on disk is rejected, whatever happened
// last. A put through the API that does not compile changes nothing on
// disk or in force (its caller has the problems), so it must not page the
// operator through the gauge; and a part that loads (a tenant's put, the
// shared rules' put) must not hide another part still rejected. Before,
// the gauge was set by the last event: a rejected put set it to 0 until
// the next load, and a good put set it to 1 over broken files.
func TestReloadSuccessSaysHowTheFilesLoad(t *testing.T) {
	const badShared = "version: shared\nrules:\n" + badRule
	for _, c := range []struct {
		name string
		// steps run in order; after each the gauge must read want.
		steps []healthStep
		// mended: files were rejected, then loaded, and the log says so.
		mended bool
	}{
		{name: "a rejected put of the shared rules", steps: []healthStep{
			{"put bad shared rules", 1, func(h *healthRig) error { return h.putShared(badShared, false) }},
			{"reload the files", 1, func(h *healthRig) error { return h.reload(true) }},
		}},
		{name: "a rejected put of a tenant's overlay", steps: []healthStep{
			{"put a bad overlay", 1, func(h *healthRig) error { return h.putTenant("rules:\n"+badRule, false) }},
		}},
		{name: "a tenant's put over rejected shared files", mended: true, steps: []healthStep{
			{"break the shared file", 0, func(h *healthRig) error { h.write(h.shared, sharedRules+badRule); return h.reload(false) }},
			{"put a good overlay", 0, func(h *healthRig) error {
				return h.putTenant(strings.Replace(acmeOverlay, "acme-1", "acme-2", 1), true)
			}},
			{"mend the shared file", 1, func(h *healthRig) error { h.write(h.shared, sharedRules); return h.reload(true) }},
		}},
		{name: "a shared put over a rejected overlay", mended: true, steps: []healthStep{
			{"break acme's file", 0, func(h *healthRig) error { h.write(h.acme, acmeOverlay+badRule); return h.reload(false) }},
			{"put good shared rules", 0, func(h *healthRig) error {
				return h.putShared(strings.Replace(sharedRules, "version: shared", "version: shared-2", 1), true)
			}},
			{"mend acme's file", 1, func(h *healthRig) error { h.write(h.acme, acmeOverlay); return h.reload(true) }},
		}},
		{name: "a rejected put over rejected files", mended: true, steps: []healthStep{
			{"break the shared file", 0, func(h *healthRig) error { h.write(h.shared, sharedRules+badRule); return h.reload(false) }},
			{"put bad shared rules", 0, func(h *healthRig) error { return h.putShared(badShared, false) }},
			{"mend the shared file", 1, func(h *healthRig) error { h.write(h.shared, sharedRules); return h.reload(true) }},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHealthRig(t)
			if got := h.success(); got != 1 {
				t.Fatalf("at the start: success %v, want 1", got)
			}
			for _, s := range c.steps {
				if err := s.do(h); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				if got := h.success(); got != s.want {
					t.Fatalf("after %q: riskgate_rules_last_reload_success %v, want %v", s.name, got, s.want)
				}
			}
			// Only files rejected, then loaded, are "no longer rejected".
			if got := strings.Contains(h.log.String(), "no longer rejected"); got != c.mended {
				t.Errorf("the log says \"no longer rejected\": %v, want %v:\n%s", got, c.mended, h.log.String())
			}
		})
	}
}

// TestRejectedPutIsCountedAndLogged: the rejected put is still counted
// (trigger api, result rejected: not failure, which is rule files that do
// not load) and logged as a warning with its problem; a put refused for a
// bad file name is a bad request, and not counted.
func TestRejectedPutIsCountedAndLogged(t *testing.T) {
	h := newHealthRig(t)
	if err := h.putShared("version: shared\nrules:\n"+badRule, false); err != nil {
		t.Fatal(err)
	}
	if err := h.putTenant("rules:\n"+badRule, false); err != nil {
		t.Fatal(err)
	}
	// A bad file name is a bad request, not rules rejected, for a
	// tenant's put as for a shared one: not counted.
	if _, err := h.m.PutTenant("acme", "", src("../rules.yaml", acmeOverlay)); err == nil {
		t.Fatal("a tenant's put of ../rules.yaml was taken")
	}
	if _, err := h.m.Put("", src("../default.yaml", sharedRules)); err == nil {
		t.Fatal("a put of ../default.yaml was taken")
	}
	if got := float64(h.m.LoadStats().Loads[LoadKey{TriggerAPI, "rejected"}]); got != 2 {
		t.Errorf("riskgate_rules_reloads_total{trigger=api,result=rejected} %v, want 2 (the rules that did not compile)", got)
	}
	if got := float64(h.m.LoadStats().Loads[LoadKey{TriggerAPI, "failure"}]); got != 0 {
		t.Errorf("riskgate_rules_reloads_total{trigger=api,result=failure} %v, want 0 (a put refused is no reload failure)", got)
	}
	log := h.log.String()
	for _, want := range []string{
		`level=WARN msg="rules put rejected; the ruleset in force stays" trigger=api err=`,
		`level=WARN msg="tenant rules put rejected; the tenant's overlay in force stays" trigger=api tenant=acme in_force=tenant:acme@acme-1@`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "level=ERROR") {
		t.Errorf("a rejected put logged an error, as a file that does not load does:\n%s", log)
	}
}

type healthStep struct {
	name string
	want float64
	do   func(*healthRig) error
}

// healthRig is a Manager on a shared rules folder and a tenants folder
// with acme's overlay, reloaded by hand (no watch), and its log.
type healthRig struct {
	t            *testing.T
	m            *Manager
	shared, acme string
	log          syncbuf.Buffer
}

func newHealthRig(t *testing.T) *healthRig {
	root := t.TempDir()
	h := &healthRig{t: t, shared: filepath.Join(root, "rules"), acme: filepath.Join(root, "tenants", "acme")}
	for _, d := range []string{h.shared, h.acme} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.write(h.shared, sharedRules)
	h.write(h.acme, acmeOverlay)
	var err error
	h.m, err = NewManager(Options{Paths: []string{h.shared}, TenantsDir: filepath.Dir(h.acme),
		Logger: slog.New(slog.NewTextHandler(&h.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *healthRig) success() float64 { return successGauge(h.m) }

// write replaces the folder's one rule file.
func (h *healthRig) write(dir, data string) {
	name := "default.yaml"
	if dir == h.acme {
		name = "rules.yaml"
	}
	put(h.t, dir, name, data)
}

// reload reloads as SIGHUP does; ok says whether it should load.
func (h *healthRig) reload(ok bool) error {
	_, err := h.m.Reload(TriggerSignal)
	return expect("reload", err, ok)
}

func (h *healthRig) putShared(data string, ok bool) error {
	_, err := h.m.Put("", src("default.yaml", data))
	return expect("put", err, ok)
}

func (h *healthRig) putTenant(data string, ok bool) error {
	_, err := h.m.PutTenant("acme", "", src("rules.yaml", data))
	return expect("tenant put", err, ok)
}

func expect(what string, err error, ok bool) error {
	switch {
	case ok && err != nil:
		return err
	case !ok && err == nil:
		return errors.New(what + " succeeded, want it rejected")
	}
	return nil
}

// TestPutThatLeavesFilesRejected: a put that does not leave loadable
// files on disk must not set riskgate_rules_last_reload_success to 1 (nor
// leave it 1): the gauge says whether the rule files load, and a restart
// or the next reload reads the files, not the put. A shared put held in
// memory (several paths: nowhere to write it) over a rejected file set it
// to 1 though the file was untouched; a tenant's put whose write failed
// midway (one file replaced, the next not, the old ones still there)
// left the tenant's folder on disk unloadable, reported by nothing until
// the next reload, where a shared put reloads what is on disk.
func TestPutThatLeavesFilesRejected(t *testing.T) {
	const ruleX = "  - id: x\n    description: d\n    when: device.new\n    score: 5\n"
	const ruleY = "rules:\n  - id: y\n    description: d\n    when: device.new\n    score: 5\n"
	for _, c := range []struct {
		name string
		// setup makes the files and the manager; put puts, and must fail
		// or not (putOK).
		setup  func(t *testing.T, root string) *Manager
		put    func(m *Manager) error
		putOK  bool
		tenant string // whose failure must be reported after the put
	}{
		{name: "a shared put held in memory over a rejected file", putOK: true,
			setup: func(t *testing.T, root string) *Manager {
				put(t, root, "a.yaml", sharedRules)
				put(t, root, "b.yaml", "rules:\n"+ruleX)
				m := healthManager(t, Options{Paths: []string{filepath.Join(root, "a.yaml"), filepath.Join(root, "b.yaml")}})
				put(t, root, "b.yaml", "rules:\n"+badRule)
				if _, err := m.Reload(TriggerSignal); err == nil {
					t.Fatal("the broken file loaded")
				}
				return m
			},
			put: func(m *Manager) error { _, err := m.Put("", src("a.yaml", sharedRules+ruleX)); return err }},
		{name: "a shared put whose write fails midway",
			setup: func(t *testing.T, root string) *Manager {
				put(t, root, "old.yaml", "rules:\n"+ruleX)
				put(t, root, "shared.yaml", sharedRules)
				mkdir(t, filepath.Join(root, "b.yaml")) // a folder the put cannot replace
				return healthManager(t, Options{Paths: []string{root}})
			},
			// a.yaml (rule x, moved from old.yaml) is written, b.yaml is
			// not, old.yaml stays: x twice.
			put: func(m *Manager) error {
				_, err := m.Put("", []Source{{Name: "a.yaml", Data: []byte(sharedRules + ruleX)}, {Name: "b.yaml", Data: []byte(ruleY)}})
				return err
			}},
		{name: "a tenant's put whose write fails midway", tenant: "acme",
			setup: func(t *testing.T, root string) *Manager {
				shared, acme := filepath.Join(root, "rules"), filepath.Join(root, "tenants", "acme")
				mkdir(t, shared)
				mkdir(t, filepath.Join(acme, "b.yaml"))
				put(t, shared, "rules.yaml", sharedRules)
				put(t, acme, "old.yaml", acmeOverlay)
				return healthManager(t, Options{Paths: []string{shared}, TenantsDir: filepath.Dir(acme)})
			},
			put: func(m *Manager) error {
				_, err := m.PutTenant("acme", "", []Source{{Name: "a.yaml", Data: []byte(acmeOverlay)}, {Name: "b.yaml", Data: []byte(ruleY)}})
				return err
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.setup(t, t.TempDir())
			if err := c.put(m); (err == nil) != c.putOK {
				t.Fatalf("put: %v", err)
			}
			if got := successGauge(m); got != 0 {
				t.Errorf("after the put: riskgate_rules_last_reload_success %v, want 0: the files on disk do not load", got)
			}
			if c.tenant != "" && m.TenantFailure(c.tenant) == nil {
				t.Errorf("%s's files on disk do not load, and no failure is reported", c.tenant)
			}
			if _, err := m.Reload(TriggerSignal); err == nil {
				t.Error("a reload loads the files: the test's files are wrong")
			}
		})
	}
}

func healthManager(t *testing.T, opts Options) *Manager {
	t.Helper()
	opts.Logger = slog.New(slog.DiscardHandler)
	m, err := NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}
