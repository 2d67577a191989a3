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

	"github.com/riskgate/riskgate/internal/filewatch"
)

// Loading the tenants folder: reading every tenant's overlay, each on its
// own, and putting in force what a read found.

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
