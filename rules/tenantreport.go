package rules

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Reporting: the tenants' rejected overlays (TenantFailure), the locks an
// overlay in force came to override, and the warnings a reload logs once
// rather than at every reload.

// TenantFailure is a tenant's overlay files rejected by the last reload
// (they do not compile, or could not be read). Each overlay is loaded on
// its own: the other tenants' overlays are put in force, and this tenant
// keeps the overlay it had in force, the last one that loaded, or, if it
// had none, is decided by the shared rules, until its files load again
// (a reload, a put of its overlay) or its folder is removed. It is
// immutable.
type TenantFailure struct {
	Tenant string
	// Err is why, naming the tenant's files by their paths: an ErrorList
	// (every problem, with file:line) for files that do not compile, else
	// the error reading them, or the tenants folder's own error when the
	// whole folder was rejected (missing, empty, unreadable).
	Err error
	// Since is when a reload first rejected the tenant's files since they
	// last loaded; a later reload that rejects them again (the same
	// problem or another) keeps it.
	Since time.Time
	dir   string // the tenant's folder, kept out of Problems
	// locked: Err is the overlay in force overriding a rule the shared
	// set came to lock (lockFailures), not a read of the tenant's files.
	locked bool
}

// Problems is Err as a list of problems for the tenant's view of its
// rules: files named by their base names, in the messages too, and the
// tenant's folder by its base name, the tenant's (a tenant's admin reads
// them, and needs no server paths). A read error is one problem without a
// line.
func (f *TenantFailure) Problems() ErrorList {
	var msgs *strings.Replacer
	if f.dir != "" {
		// A file of the folder, then the folder itself (a read error of
		// the folder names it alone: "open /srv/tenants/acme: ...").
		msgs = pathReplacer(f.dir+string(filepath.Separator), "", f.dir, filepath.Base(f.dir))
	}
	var folder *tenantsFolderError
	if errors.As(f.Err, &folder) {
		// The tenants folder's path is the server's: say what is wrong
		// without it.
		return ErrorList{{Err: errors.New(folder.public())}}
	}
	var list ErrorList
	if !errors.As(f.Err, &list) {
		return ErrorList{{Err: renamedErr(f.Err, msgs)}}
	}
	out := make(ErrorList, len(list))
	for i, e := range list {
		c := *e
		c.File = filepath.Base(e.File)
		c.Err = renamedErr(e.Err, msgs)
		out[i] = &c
	}
	return out
}

// TenantFailure returns the tenant's overlay files the last reload
// rejected, or nil when they loaded (or it has none).
func (m *Manager) TenantFailure(tenant string) *TenantFailure {
	return m.cur.Load().TenantFailures[tenant]
}

// lockFailures reports, as rejected (TenantFailure), each tenant whose
// overlay in force overrides a rule the shared set locks: the shared set
// came to lock it after the overlay loaded. The lock applies to the
// tenant at once (Compose); the report stays until the overlay no longer
// overrides it (fixed, or the rule unlocked), as a rejection of the
// tenant's files would: a tenant that kept bypassing a lock without a
// word is what locks are for. A failure of the tenant's files is kept as
// it is. It returns failures, or a changed copy.
func (m *Manager) lockFailures(shared *Set, tenants map[string]*TenantSnapshot, failures map[string]*TenantFailure) map[string]*TenantFailure {
	out, copied := failures, false
	change := func(name string, f *TenantFailure) {
		if !copied {
			out, copied = maps.Clone(failures), true
			if out == nil {
				out = map[string]*TenantFailure{}
			}
		}
		if f == nil {
			delete(out, name)
			return
		}
		out[name] = f
	}
	now := m.opts.Now()
	for _, name := range slices.Sorted(maps.Keys(tenants)) {
		prev := failures[name]
		if prev != nil && !prev.locked {
			continue // the tenant's files are rejected: that report stays
		}
		errs := tenants[name].Overlay.Locked(shared)
		switch {
		case errs == nil && prev != nil:
			m.log.Info("tenant rules no longer rejected: the overlay in force overrides no locked rule", "tenant", name)
			change(name, nil)
		case errs != nil && (prev == nil || prev.Err.Error() != errs.Error()):
			f := &TenantFailure{Tenant: name, Err: errs, Since: now, dir: m.tenantDir(name), locked: true}
			if prev != nil {
				f.Since = prev.Since
			}
			change(name, f)
		}
	}
	for name, f := range failures {
		if f.locked && tenants[name] == nil {
			change(name, nil) // its overlay is gone
		}
	}
	return out
}

// warnOnce logs a warning about the rule files the first time it is
// found, and again only once a reload has not found it: a problem that
// stays (a folder with a name no tenant can have, an overlay that
// disables a rule the shared set lacks) is not repeated at every reload,
// which any tenant's edit makes. key tells the problems apart. Called
// under m.mu, or before the Manager is shared.
func (m *Manager) warnOnce(key, msg string, args ...any) {
	m.logOnce(slog.LevelWarn, key, msg, args...)
}

// logOnce is warnOnce at another level.
func (m *Manager) logOnce(level slog.Level, key, msg string, args ...any) {
	if m.warned.now[key] {
		return
	}
	if m.warned.now == nil {
		m.warned.now = map[string]bool{}
	}
	m.warned.now[key] = true
	if !m.warned.seen[key] {
		m.log.Log(context.Background(), level, msg, args...)
	}
}

// warnings are warnOnce's: seen were found by the last reload, now since.
type warnings struct{ seen, now map[string]bool }

// reloaded ends a reload: what it did not find again is forgotten, and
// warned of when found again.
func (w *warnings) reloaded() { w.seen, w.now = w.now, nil }
