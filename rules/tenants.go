package rules

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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

// tenantsRead is what a read of the tenants folder found: the overlays
// that compiled, layered on the shared set, and the tenants whose files
// were rejected, each with why.
type tenantsRead struct {
	overlays map[string]*TenantSnapshot
	failed   map[string]error
	// unreadable are the tenants of failed whose files could not be read
	// (rather than did not compile).
	unreadable map[string]bool
	// folders counts the tenants' folders found, with rule files or
	// not; marker says whether NoOverlaysMarker was found.
	folders int
	marker  bool
}

// NoOverlaysMarker is the file that, in a tenants folder holding no
// tenant's folder, says the folder is empty on purpose: a reload then
// removes every overlay in force. Without it, such a folder is taken for
// a volume that failed to mount (an empty mount point), and the overlays
// in force stay (see tenantsFolderError).
const NoOverlaysMarker = ".no-overlays"

// tenantsFolderError is the tenants folder itself found missing, not a
// folder, unreadable, or empty without NoOverlaysMarker by a reload while
// overlays are in force: nothing is known of any overlay, so every
// overlay in force stays and every tenant with one is reported stale.
type tenantsFolderError struct {
	err   error
	empty bool
}

func (e *tenantsFolderError) Error() string { return e.err.Error() }
func (e *tenantsFolderError) Unwrap() error { return e.err }

// public is the error without the server's paths, for a tenant's view.
func (e *tenantsFolderError) public() string {
	switch {
	case e.empty:
		return "the server's tenants folder holds no tenant's folder (a volume that failed to mount?); the overlay in force stays until the folder is back"
	case errors.Is(e.err, fs.ErrNotExist):
		return "the server's tenants folder is missing (a volume that failed to mount?); the overlay in force stays until the folder is back"
	case errors.Is(e.err, errTenantsFolderReplaced):
		return "the server's tenants folder was replaced while it was read (a volume unmounted or mounted?); the overlay in force stays until it is read whole"
	default:
		return "the server's tenants folder could not be read; the overlay in force stays until it can"
	}
}

// errTenantsFolderReplaced is the tenants folder found to be another
// folder than the one listed, by a read that missed a tenant's folder of
// the listing: a volume unmounted or mounted, or a folder swapped in, under
// the read.
var errTenantsFolderReplaced = errors.New("replaced by another folder while it was read")

// readTenants loads every overlay of the tenants folder, each on its own:
// each folder in it named like a tenant and holding rule files. A folder
// with a name no tenant can have, and a rule file directly in the folder,
// are warned of (once, until they change) and skipped. The error is the
// tenants folder's own (fs.ErrNotExist when it does not exist): then
// nothing is known of any overlay, and the read is empty.
//
// A tenant's folder of the listing that is gone when it is read was
// removed on purpose, and so is its overlay, if the tenants folder is
// still the folder listed. If it is not (moved away, unmounted, swapped
// for another under the read), that is the tenants folder's error: the
// tenants not yet read would otherwise lose their overlays, silently,
// while those read before kept theirs.
func (m *Manager) readTenants(shared *Set) (tenantsRead, error) {
	read := tenantsRead{overlays: map[string]*TenantSnapshot{}, failed: map[string]error{}, unreadable: map[string]bool{}}
	if m.opts.TenantsDir == "" {
		return read, nil
	}
	// Its identity before the listing: a folder swapped in between the two
	// is taken for a change under the read, never the other way round.
	listed, err := os.Stat(m.opts.TenantsDir)
	if err != nil {
		return read, fmt.Errorf("rules: tenants: %w", err)
	}
	if !listed.IsDir() {
		// Never opened: a FIFO would block the reload, holding m.mu.
		return read, fmt.Errorf("rules: tenants: %s: not a folder", m.opts.TenantsDir)
	}
	entries, err := os.ReadDir(m.opts.TenantsDir)
	if err != nil {
		return read, fmt.Errorf("rules: tenants: %w", err)
	}
	listedTenants := map[string]bool{}
	for _, e := range entries {
		if e.Name() == NoOverlaysMarker {
			read.marker = true
			continue
		}
		if tenant := e.Name(); e.Type()&fs.ModeSymlink != 0 && ValidTenant(tenant) && m.Snapshot().Tenants[tenant] != nil {
			if _, err := os.Stat(m.tenantDir(tenant)); errors.Is(err, fs.ErrNotExist) {
				read.folders++
				listedTenants[tenant] = true
				read.failed[tenant], read.unreadable[tenant] = fmt.Errorf("%s: %w", m.tenantDir(tenant), errTenantFolderDangling), true
				continue
			}
		}
		if StrayTenantFile(e) {
			path := filepath.Join(m.opts.TenantsDir, e.Name())
			m.warnOnce("stray\x00"+path, "skipping a rule file directly in the tenants folder: no tenant reads it (a tenant's overlay is <folder>/<tenant>/*.yaml)", "path", path)
			continue
		}
		if !TenantFolder(m.opts.TenantsDir, e) || e.Name()[0] == '.' {
			continue
		}
		tenant := e.Name()
		if !ValidTenant(tenant) {
			path := filepath.Join(m.opts.TenantsDir, tenant)
			m.warnOnce("name\x00"+path, "skipping a tenants folder entry that is no tenant name", "path", path)
			continue
		}
		read.folders++
		listedTenants[tenant] = true
		dir := m.tenantDir(tenant)
		if m.beforeTenantRead != nil {
			m.beforeTenantRead(tenant)
		}
		srcs, err := LoadFiles(dir)
		if err == nil {
			m.noteVolume(tenant, dir)
		}
		if err != nil {
			_, serr := os.Stat(dir)
			if serr != nil {
				// The tenant's folder is gone (or cannot be looked up):
				// the tenants folder must still be the one listed for
				// that to be the tenant's doing. Checked after the
				// tenant's folder, so that a folder moved away and back
				// in between would need two moves in that instant.
				if ferr := sameFolder(m.opts.TenantsDir, listed); ferr != nil {
					return tenantsRead{}, fmt.Errorf("rules: tenants: the folder went away while it was read (tenant %s's folder, listed, was gone): %w", tenant, ferr)
				}
			}
			if errors.Is(err, errNoRuleFiles) && serr == nil && m.movedFS(tenant, dir) {
				read.failed[tenant], read.unreadable[tenant] = fmt.Errorf("%s: %w", dir, errTenantFolderOtherFS), true
				continue
			}
			if errors.Is(err, errNoRuleFiles) || errors.Is(serr, os.ErrNotExist) {
				// No overlay: an empty folder, or one removed since
				// the folder was listed.
				m.log.Debug("tenant folder without rule files", "tenant", tenant, "err", err)
				delete(m.tenantVolumes, tenant)
				continue
			}
			// A file that could not be read (removed while the
			// folder was read, unreadable, too large): the tenant's
			// overlay failed to load, it was not removed.
			read.failed[tenant], read.unreadable[tenant] = err, true
			continue
		}
		o, err := CompileOverlay(tenant, srcs...)
		if err != nil {
			read.failed[tenant] = err
			continue
		}
		if errs := o.Locked(shared); errs != nil {
			// Rejected as files that do not compile are: a start
			// fails, a reload keeps the tenant's last good overlay.
			read.failed[tenant] = errs
			continue
		}
		read.overlays[tenant] = m.tenantSnapshot(shared, o, srcs, OriginFile)
	}
	for tenant := range m.tenantVolumes {
		if !listedTenants[tenant] {
			delete(m.tenantVolumes, tenant) // its folder removed
		}
	}
	return read, nil
}

// sameFolder returns nil if path is still the folder listed, else why not:
// its error (fs.ErrNotExist when it is gone), or errTenantsFolderReplaced.
func sameFolder(path string, listed os.FileInfo) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !os.SameFile(fi, listed) {
		return fmt.Errorf("%s: %w", path, errTenantsFolderReplaced)
	}
	return nil
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

// tenantsFolderFailed records the tenants folder itself rejected by a
// reload (err, a *tenantsFolderError): every overlay in force stays, and
// every tenant with one (or already rejected) is reported stale with
// err, since when its own rejection began if it was. It logs the problem
// at error level when it is new or changed, as applyTenants does a
// tenant's.
func (m *Manager) tenantsFolderFailed(trigger string, err error) {
	defer m.reportHealth()
	cur := m.Snapshot()
	now := m.opts.Now()
	failures := make(map[string]*TenantFailure, len(cur.Tenants)+len(cur.TenantFailures))
	for name := range cur.Tenants {
		failures[name] = &TenantFailure{Tenant: name, Err: err, Since: now, dir: m.tenantDir(name)}
	}
	for name, prev := range cur.TenantFailures {
		failures[name] = &TenantFailure{Tenant: name, Err: err, Since: prev.Since, dir: m.tenantDir(name)}
	}
	m.metrics.failed(trigger, now)
	tenants := slices.Sorted(maps.Keys(failures))
	if m.folderErr == err.Error() {
		level := slog.LevelDebug
		if trigger == TriggerSignal {
			level = slog.LevelWarn
		}
		m.log.Log(context.Background(), level, "tenants rules folder still rejected; every tenant's overlay in force stays", "trigger", trigger, "tenants", tenants, "err", err)
	} else {
		m.log.Error("tenants rules folder rejected; every tenant's overlay in force stays", "trigger", trigger, "path", m.opts.TenantsDir, "tenants", tenants, "err", err)
	}
	m.folderErr = err.Error()
	if sameFailures(cur.TenantFailures, failures) {
		return
	}
	next := *cur
	next.TenantFailures = failures
	m.cur.Store(&next)
	m.metrics.staleTenants(tenants)
}

// applyTenants puts in force what a read of the tenants folder found,
// each tenant on its own: the overlays that compiled, and, for a tenant
// whose files were rejected, the overlay it has in force (none if it has
// none), recording why. It logs a rejection when it is new or its problem
// changed, not at every reload that finds it again, and reports whether
// an overlay in force changed.
func (m *Manager) applyTenants(trigger string, read tenantsRead) bool {
	defer m.reportHealth()
	cur := m.Snapshot()
	now := m.opts.Now()
	tenants := read.overlays
	var failures map[string]*TenantFailure
	for _, name := range slices.Sorted(maps.Keys(read.failed)) {
		err := read.failed[name]
		kept := cur.Tenants[name]
		if kept != nil {
			tenants[name] = kept
		}
		f := &TenantFailure{Tenant: name, Err: err, Since: now, dir: m.tenantDir(name)}
		prev := cur.TenantFailures[name]
		if prev != nil {
			f.Since = prev.Since
		}
		if failures == nil {
			failures = map[string]*TenantFailure{}
		}
		failures[name] = f
		if prev != nil && prev.Err.Error() == err.Error() {
			// Any tenant's edit reloads every folder: say it again
			// when asked (SIGHUP), not at each of those.
			level := slog.LevelDebug
			if trigger == TriggerSignal {
				level = slog.LevelWarn
			}
			m.log.Log(context.Background(), level, "tenant rules still rejected; the tenant keeps the rules it had", "trigger", trigger, "tenant", name, "since", f.Since, "err", err)
			continue
		}
		if kept != nil {
			m.log.Error("tenant rules rejected; the tenant's last good overlay stays in force", "trigger", trigger, "tenant", name, "in_force", kept.Overlay.Version(), "err", err)
		} else {
			m.log.Error("tenant rules rejected; the tenant has no overlay in force and is decided by the shared rules", "trigger", trigger, "tenant", name, "err", err)
		}
	}
	for name := range cur.TenantFailures {
		switch _, still := failures[name]; {
		case still:
		case tenants[name] == nil:
			m.log.Info("tenant rules no longer rejected: the tenant's folder is gone or holds no rule files", "trigger", trigger, "tenant", name)
		default:
			m.log.Info("tenant rules no longer rejected", "trigger", trigger, "tenant", name, "version", tenants[name].Overlay.Version())
		}
	}
	if len(failures) > 0 {
		m.metrics.failed(trigger, now)
	}
	sameT, sameF := sameTenants(cur.Tenants, tenants), sameFailures(cur.TenantFailures, failures)
	if sameT && sameF {
		return false
	}
	next := *cur
	next.Tenants, next.TenantFailures = tenants, failures
	m.cur.Store(&next)
	if !sameF {
		m.metrics.staleTenants(slices.Sorted(maps.Keys(failures)))
	}
	if !sameT {
		m.log.Info("tenant rules in force", "trigger", trigger, "tenants", slices.Sorted(maps.Keys(tenants)))
	}
	return !sameT
}

func sameTenants(a, b map[string]*TenantSnapshot) bool {
	return maps.EqualFunc(a, b, func(x, y *TenantSnapshot) bool {
		return x.Set.Version() == y.Set.Version() && sameNames(x.Sources, y.Sources)
	})
}

func sameFailures(a, b map[string]*TenantFailure) bool {
	return maps.EqualFunc(a, b, func(x, y *TenantFailure) bool { return x.Err.Error() == y.Err.Error() })
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
