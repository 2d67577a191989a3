package rules

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/riskgate/riskgate/engine"
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

// tenantSnapshot composes an overlay on shared and logs what does not fit:
// an override of a locked rule (which Compose leaves out) at error level.
func (m *Manager) tenantSnapshot(shared *Set, o *Overlay, srcs []Source, origin string) *TenantSnapshot {
	locked := o.Locked(shared)
	t := &TenantSnapshot{Overlay: o, Set: Compose(shared, o), Sources: srcs, Origin: origin, PersistPath: m.tenantDir(o.Tenant()), Problems: append(locked, o.Check(shared)...)}
	for i, p := range t.Problems {
		if i < len(locked) {
			m.logOnce(slog.LevelError, "problem\x00"+o.Tenant()+"\x00"+p.Error(), "tenant overlay overrides a locked shared rule; the locked rule applies to the tenant", "tenant", o.Tenant(), "rule", p.Rule, "problem", p.Error())
			continue
		}
		m.warnOnce("problem\x00"+o.Tenant()+"\x00"+p.Error(), "tenant overlay does not fit the shared rules", "tenant", o.Tenant(), "problem", p.Error())
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
// compile, disables a rule the shared set does not have, or overrides a
// rule it locks, is a *RejectedError.
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
		if errs := append(o.Locked(shared), o.Check(shared)...); len(errs) > 0 {
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
	if m.folderErr != "" {
		// The put would create the tenants folder (or write to an empty
		// mount point) with this overlay alone, and the next reload
		// would remove every other tenant's.
		return nil, fmt.Errorf("%w: tenant %s: every overlay in force stays until it is back, and a put waits for it", ErrTenantsFolderUnavailable, tenant)
	}
	cand, err := m.ValidateTenant(tenant, files)
	if err != nil {
		// Counted as a shared put is: only rules that do not compile
		// (a bad tenant or file name is a bad request, not a load).
		if _, ok := errors.AsType[*RejectedError](err); ok {
			m.refused(tenant, err)
		}
		return nil, err
	}
	origin := OriginAPI
	if dir := m.tenantDir(tenant); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("rules: tenant %s: %w", tenant, err)
		}
		removed, err := persist(dir, cand.Sources)
		if err != nil {
			m.log.Error("rules put: could not write the tenant's rule files", "tenant", tenant, "path", dir, "err", err)
			// Part of the files may be new, as after a shared put's
			// failed write: load what is on disk now, so that the
			// overlay in force, the tenant's failure and the success
			// gauge follow it (a mix of new and old files that does not
			// compile is rejected like an edit that does not).
			if rerr := m.reload(TriggerAPI).err(); rerr != nil {
				m.log.Error("rules put: the rule files on disk do not load; what was in force stays", "tenant", tenant, "path", dir, "err", rerr)
			}
			return nil, err
		}
		for _, t := range removed {
			m.log.Warn("rules put: removed a rule test that named a removed rule file", "test", t)
		}
		m.noteVolume(tenant, dir)
		origin = OriginFile
	}
	t := m.tenantSnapshot(cur.Set, cand.Overlay, cand.Sources, origin)
	next := *cur
	next.Tenants = maps.Clone(cur.Tenants)
	if next.Tenants == nil {
		next.Tenants = map[string]*TenantSnapshot{}
	}
	next.Tenants[tenant] = t
	if _, ok := cur.TenantFailures[tenant]; ok {
		// The put replaced the rejected files on disk with these.
		next.TenantFailures = maps.Clone(cur.TenantFailures)
		delete(next.TenantFailures, tenant)
		m.metrics.staleTenants(slices.Sorted(maps.Keys(next.TenantFailures)))
	}
	m.cur.Store(&next)
	m.metrics.tenantLoaded(TriggerAPI, m.opts.Now())
	m.reportHealth()
	m.log.Info("tenant rules in force", "trigger", TriggerAPI, "tenant", tenant, "version", t.Set.Version(), "rules", len(t.Set.Rules()), "origin", origin)
	return t, nil
}
