package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/filewatch"
)

// TenantSnapshot is one tenant's overlay in force, the ruleset its logins
// are decided by (the shared set with the overlay on it), and where the
// overlay came from. It is immutable.
type TenantSnapshot struct {
	Overlay *Overlay
	// Set is the shared set with the overlay layered on it; its version
	// names both.
	Set     *Set
	Sources []Source
	// Origin is OriginFile (the tenant's folder, or a put written to it)
	// or OriginAPI (a put held in memory only).
	Origin string
	// PersistPath is the tenant's folder a put writes to; empty when a
	// put is held in memory only (no tenants folder configured).
	PersistPath string
	// Problems are what of the overlay does not fit the shared set in
	// force (a disabled rule it no longer has); they are logged, not
	// fatal.
	Problems ErrorList
}

var _ engine.TenantRules = (*Manager)(nil)

// ForTenant returns the ruleset a tenant's logins are decided by: its
// overlay layered on the shared set, or the shared set itself for a
// tenant without one. It is one atomic load and one map lookup, so that
// tenants without an overlay score as before.
func (m *Manager) ForTenant(tenant string) engine.Ruleset {
	s := m.cur.Load()
	if len(s.Tenants) == 0 {
		return s.Set // no overlays at all: no lookup
	}
	if t, ok := s.Tenants[tenant]; ok {
		return t.Set
	}
	return s.Set
}

// Tenant returns a tenant's overlay in force, or nil.
func (m *Manager) Tenant(tenant string) *TenantSnapshot { return m.cur.Load().Tenants[tenant] }

// TenantNames returns the tenants with an overlay, sorted.
func (m *Manager) TenantNames() []string {
	return slices.Sorted(maps.Keys(m.cur.Load().Tenants))
}

// tenantDir is the folder of a tenant's overlay files, or "" without a
// tenants folder.
func (m *Manager) tenantDir(tenant string) string {
	if m.opts.TenantsDir == "" {
		return ""
	}
	return filepath.Join(m.opts.TenantsDir, tenant)
}

// readTenants loads every overlay of the tenants folder: each folder in
// it named like a tenant and holding rule files. A folder with a name no
// tenant can have is logged and skipped.
func (m *Manager) readTenants(shared *Set) (map[string]*TenantSnapshot, error) {
	if m.opts.TenantsDir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(m.opts.TenantsDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			m.log.Warn("the tenants rules folder does not exist; no tenant overlays", "path", m.opts.TenantsDir)
			return nil, nil
		}
		return nil, fmt.Errorf("rules: tenants: %w", err)
	}
	out := map[string]*TenantSnapshot{}
	var errs []error
	for _, e := range entries {
		if StrayTenantFile(e) {
			m.log.Warn("skipping a rule file directly in the tenants folder: no tenant reads it (a tenant's overlay is <folder>/<tenant>/*.yaml)", "path", filepath.Join(m.opts.TenantsDir, e.Name()))
			continue
		}
		if !TenantFolder(m.opts.TenantsDir, e) || e.Name()[0] == '.' {
			continue
		}
		tenant := e.Name()
		if !ValidTenant(tenant) {
			m.log.Warn("skipping a tenants folder entry that is no tenant name", "path", filepath.Join(m.opts.TenantsDir, tenant))
			continue
		}
		dir := m.tenantDir(tenant)
		srcs, err := LoadFiles(dir)
		if err != nil {
			m.log.Debug("tenant folder without rule files", "tenant", tenant, "err", err)
			continue
		}
		o, err := CompileOverlay(tenant, srcs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", tenant, err))
			continue
		}
		out[tenant] = m.tenantSnapshot(shared, o, srcs, OriginFile)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// TenantFolder reports whether e, an entry of the tenants folder dir, is a
// folder or a symbolic link to one: a tenant's folder may be a link to a
// mounted volume or a release folder, as the watch takes it (filewatch),
// and PutTenant writes through it.
func TenantFolder(dir string, e fs.DirEntry) bool { return filewatch.IsFolder(dir, e) }

// StrayTenantFile reports whether an entry of a tenants folder is a rule
// file, which no tenant reads: overlays are the files of the tenants'
// folders in it. One there usually means that the folder given is a
// tenant's own (rules/tenants/acme for rules/tenants), where every
// overlay would otherwise be missed without a word.
func StrayTenantFile(e fs.DirEntry) bool {
	return !e.IsDir() && isRuleFile(e.Name())
}

// tenantSnapshot composes an overlay on shared and logs what does not fit.
func (m *Manager) tenantSnapshot(shared *Set, o *Overlay, srcs []Source, origin string) *TenantSnapshot {
	t := &TenantSnapshot{Overlay: o, Set: Compose(shared, o), Sources: srcs, Origin: origin, PersistPath: m.tenantDir(o.Tenant()), Problems: o.Check(shared)}
	for _, p := range t.Problems {
		m.log.Warn("tenant overlay does not fit the shared rules", "tenant", o.Tenant(), "problem", p.Error())
	}
	return t
}

// recompose layers every tenant's overlay on a new shared set.
func (m *Manager) recompose(shared *Set, tenants map[string]*TenantSnapshot) map[string]*TenantSnapshot {
	if len(tenants) == 0 {
		return tenants
	}
	out := make(map[string]*TenantSnapshot, len(tenants))
	for name, t := range tenants {
		out[name] = m.tenantSnapshot(shared, t.Overlay, t.Sources, t.Origin)
	}
	return out
}

// ValidateTenant compiles a candidate overlay for a tenant and layers it on
// the shared set in force, without using it. An overlay that does not
// compile, or disables a rule the shared set does not have, is a
// *RejectedError.
func (m *Manager) ValidateTenant(tenant string, files []Source) (*TenantSnapshot, error) {
	if !ValidTenant(tenant) {
		return nil, fmt.Errorf("%w: tenant %.80q: want 1-64 letters, digits, '-', '_' or '.'", ErrInvalid, tenant)
	}
	srcs, names, err := m.namedIn(m.tenantDir(tenant), "", files)
	if err != nil {
		return nil, err
	}
	shared := m.Set()
	o, err := CompileOverlay(tenant, srcs...)
	if err == nil {
		if errs := o.Check(shared); len(errs) > 0 {
			err = errs
		}
	}
	if err != nil {
		return nil, rejected(err, names)
	}
	return &TenantSnapshot{Overlay: o, Set: Compose(shared, o), Sources: srcs, Origin: OriginAPI}, nil
}

// PutTenant replaces a tenant's overlay (ifVersion, when set, must be the
// overlay's version in force, "" matching a tenant without one), by the
// same path as Put: compiled, checked against the shared set, written to
// the tenant's folder (rules/tenants/<tenant>/ when the tenants folder is
// rules/tenants), then put in force. Other tenants and the shared set are
// untouched.
func (m *Manager) PutTenant(tenant, ifVersion string, files []Source) (*TenantSnapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.Snapshot()
	if ifVersion != "" {
		have := ""
		if t := cur.Tenants[tenant]; t != nil {
			have = t.Overlay.Version()
		}
		if have != ifVersion {
			return nil, fmt.Errorf("%w: tenant %s: in force %q, expected %s", ErrVersionMismatch, tenant, have, ifVersion)
		}
	}
	cand, err := m.ValidateTenant(tenant, files)
	if err != nil {
		m.tenantFailed(tenant, err)
		return nil, err
	}
	origin := OriginAPI
	if dir := m.tenantDir(tenant); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("rules: tenant %s: %w", tenant, err)
		}
		removed, err := persist(dir, cand.Sources)
		if err != nil {
			m.log.Error("rules put: could not write the tenant's rule files; its overlay in force stays", "tenant", tenant, "path", dir, "err", err)
			return nil, err
		}
		for _, t := range removed {
			m.log.Warn("rules put: removed a rule test that named a removed rule file", "test", t)
		}
		origin = OriginFile
	}
	t := m.tenantSnapshot(cur.Set, cand.Overlay, cand.Sources, origin)
	next := *cur
	next.Tenants = maps.Clone(cur.Tenants)
	if next.Tenants == nil {
		next.Tenants = map[string]*TenantSnapshot{}
	}
	next.Tenants[tenant] = t
	m.cur.Store(&next)
	m.metrics.tenantLoaded(TriggerAPI, m.opts.Now())
	m.log.Info("tenant rules in force", "trigger", TriggerAPI, "tenant", tenant, "version", t.Set.Version(), "rules", len(t.Set.Rules()), "origin", origin)
	return t, nil
}

// tenantFailed records a tenant's overlay rejected: logged with the
// tenant and the overlay that stays, not as the shared ruleset's.
func (m *Manager) tenantFailed(tenant string, err error) {
	in := ""
	if t := m.Tenant(tenant); t != nil {
		in = t.Overlay.Version()
	}
	m.log.Error("tenant rules rejected; the tenant's overlay in force stays", "trigger", TriggerAPI, "tenant", tenant, "in_force", in, "err", err)
	m.metrics.failed(TriggerAPI, m.opts.Now())
}

// installTenants puts a new set of overlays in force beside the shared
// set in force, when they differ.
func (m *Manager) installTenants(trigger string, tenants map[string]*TenantSnapshot) bool {
	cur := m.Snapshot()
	if sameTenants(cur.Tenants, tenants) {
		return false
	}
	next := *cur
	next.Tenants = tenants
	m.cur.Store(&next)
	names := slices.Sorted(maps.Keys(tenants))
	m.log.Info("tenant rules in force", "trigger", trigger, "tenants", names)
	return true
}

func sameTenants(a, b map[string]*TenantSnapshot) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || x.Set.Version() != y.Set.Version() || !sameNames(x.Sources, y.Sources) {
			return false
		}
	}
	return true
}

// tenantWatchPaths are the folders Watch watches for overlays: the
// tenants folder and each tenant's folder in it.
func (m *Manager) tenantWatchPaths() []string {
	if m.opts.TenantsDir == "" {
		return nil
	}
	paths := []string{m.opts.TenantsDir}
	entries, _ := os.ReadDir(m.opts.TenantsDir)
	var dirs []string
	for _, e := range entries {
		if TenantFolder(m.opts.TenantsDir, e) && ValidTenant(e.Name()) {
			dirs = append(dirs, filepath.Join(m.opts.TenantsDir, e.Name()))
		}
	}
	sort.Strings(dirs)
	return append(paths, dirs...)
}
