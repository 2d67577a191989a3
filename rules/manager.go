package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/filewatch"
)

// Origins of a ruleset.
const (
	OriginEmbedded = "embedded" // the rules built into the binary
	OriginFile     = "file"     // the rule files, or a put written to them
	OriginAPI      = "api"      // a put held in memory only
	OriginGiven    = "given"    // a set compiled by the caller (tools, tests)
)

// Triggers of a load, as metrics and logs name them.
const (
	TriggerStartup = "startup"
	TriggerFile    = "file"
	TriggerSignal  = "signal"
	TriggerAPI     = "api"
)

// Limits on a ruleset put through the API.
const (
	MaxFiles = 64
	// MaxNameLen bounds a rule file's name.
	MaxNameLen = 128
)

// ErrVersionMismatch is returned by Put when its if_version is not the
// version in force.
var ErrVersionMismatch = errors.New("rules: version in force differs")

// ErrInvalid is wrapped by errors about a put or validate request rather
// than about the rules in it (a bad file name, too many files).
var ErrInvalid = errors.New("rules: invalid request")

// ErrTenantsFolderUnavailable is a tenant's put refused while the tenants
// folder is missing, unreadable or emptied (a volume that failed to
// mount): a put then would leave that one overlay in the folder, and the
// next reload would remove every other tenant's. It passes when the
// folder is back.
var ErrTenantsFolderUnavailable = errors.New("rules: the tenants folder is missing or unreadable")

// Snapshot is the ruleset in force and where it came from. It is immutable.
type Snapshot struct {
	Set      *Set
	Sources  []Source
	Origin   string
	LoadedAt time.Time
	// PersistPath is the file or folder Put writes to; empty when a Put is
	// held in memory only.
	PersistPath string
	// Tenants are the tenants' overlays in force, each layered on Set;
	// nil or empty when no tenant has one.
	Tenants map[string]*TenantSnapshot
	// TenantFailures are the tenants whose overlay files the last reload
	// rejected: each keeps its overlay in Tenants (its last good one), if
	// it has one. Nil or empty when every overlay loaded.
	TenantFailures map[string]*TenantFailure
	// RemovedTests, in the snapshot a Put or Promote answers with (never
	// in the one in force), are the rule tests (*_test.yaml, by file
	// name) it removed because they named a rule file it removed.
	RemovedTests []string
}

// Options configure a Manager.
type Options struct {
	// Paths are the rule files and folders; none means the embedded
	// default ruleset.
	Paths []string
	// Set, instead of Paths, is a ruleset the caller compiled (rule tests,
	// tools); it cannot be reloaded.
	Set *Set
	// TenantsDir is the folder of the tenants' overlays, one folder per
	// tenant holding its *.yaml files (TenantsDir/acme/rules.yaml); a put
	// of a tenant's overlay is written there. Empty: overlays are put
	// through the API only, and held in memory.
	TenantsDir string
	// Debounce is how long file changes must settle before a reload;
	// editors write a file in several steps. Default 250ms.
	Debounce time.Duration
	// Poll is how often Watch also compares the files, for changes that
	// notifications miss; default one minute, negative never.
	Poll   time.Duration
	Logger *slog.Logger
	Now    func() time.Time
	// OnInstall, when set, is called with each shared ruleset put in
	// force (at start, by a reload, by a put or a promotion), under the
	// Manager's lock: it must not call the Manager. The node creates the
	// rules' match counters at 0 there, so that a rule's first match is
	// an increase.
	OnInstall func(*Set)
}

// Manager owns the ruleset in force, in the spirit of Prometheus'
// rules.Manager: it compiles each load once, keeps one pointer to what is
// in force (which the engine reads on every Score), reloads the rule files
// when they change (Watch) or when asked (Reload, on SIGHUP), and takes
// rulesets put through the admin API. A ruleset that does not compile is
// rejected whole and the one in force stays; every load, good or bad, is
// logged and counted (LoadStats).
//
// A ruleset put through the API is written to the rule file or folder the
// rules are loaded from before it is put in force, so that a reload or a
// restart keeps it rather than silently reverting it. Without rule files
// (the embedded defaults), or with several paths, there is no single place
// to write it: it is then held in memory only, and its Snapshot says so.
//
// A Manager is safe for concurrent use.
type Manager struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	mu     sync.Mutex // serialises loads, so a reload never reads a half-written put
	cur    atomic.Pointer[Snapshot]
	warned warnings // under mu
	// folderErr is the tenants folder's problem the last reload found
	// (tenantsFolderError), "" when it read; under mu.
	folderErr string
	// rejected: the last load of the shared rules (or put) was rejected,
	// none having succeeded since; under mu.
	rejected bool
	// filesRejected is rejected or folderErr, for readers that must not
	// wait on a load (FilesRejected).
	filesRejected atomic.Bool
	// beforeTenantRead, when set (tests), is called by readTenants before
	// it reads a tenant's folder of its listing; under mu.
	beforeTenantRead func(tenant string)
	// folderDevice, when set (tests), stands for the file system a
	// folder is on (folderDevice); under mu.
	folderDevice func(dir string) (uint64, bool)
	// tenantVolumes are the tenants whose folders were volumes of their
	// own when their rule files were last read or written, and the
	// devices of those volumes (noteVolume, movedFS); under mu.
	tenantVolumes map[string]uint64
	// watch is the watcher Watch runs (nil when none), which every
	// reload tells of the paths it found failing (tellWatch); under mu.
	watch *filewatch.Watcher
	// watched is the path whose watch callback the reload in progress is
	// ("" for any other reload); under mu.
	watched string
}

var _ engine.Rules = (*Manager)(nil)

// NewManager loads the rules (the files, the embedded default, or
// Options.Set) and returns a Manager for them. It fails if they do not
// compile.
func NewManager(opts Options) (*Manager, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = 250 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Manager{opts: opts, log: opts.Logger, metrics: newMetrics()}
	if m.log == nil {
		m.log = slog.Default()
	}
	if opts.Set != nil {
		if len(opts.Paths) > 0 {
			return nil, errors.New("rules: a manager loads either paths or a given set")
		}
		m.install(TriggerStartup, opts.Set, nil, OriginGiven)
		return m, m.startTenants()
	}
	srcs, origin, err := m.read()
	if err != nil {
		m.failed(TriggerStartup, err)
		return nil, err
	}
	var set *Set
	if origin == OriginEmbedded {
		set, err = Default() // compiled once per process, perhaps ahead
	} else {
		set, err = Compile(srcs...)
	}
	if err != nil {
		m.failed(TriggerStartup, err)
		return nil, fmt.Errorf("rules: %w", err)
	}
	m.install(TriggerStartup, set, srcs, origin)
	return m, m.startTenants()
}

// startTenants loads the tenants' overlays at startup; one that does not
// compile fails the start, as a shared rule file does: a start has no
// overlay in force to keep. (A tenant folder whose files cannot be read
// is skipped, as `rules check` warns of it; the tenant is reported as a
// reload's would be, and decided by the shared rules.)
func (m *Manager) startTenants() error {
	defer m.warned.reloaded()
	read, err := m.readTenants(m.Set())
	if errors.Is(err, fs.ErrNotExist) {
		// Nothing in force to keep: a start without the folder has no
		// overlays, as before it was created.
		m.warnOnce("nodir", "the tenants rules folder does not exist; no tenant overlays", "path", m.opts.TenantsDir)
		err = nil
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(read.failed)) {
		if !read.unreadable[name] {
			errs = append(errs, fmt.Errorf("tenant %s: %w", name, read.failed[name]))
		}
	}
	if err = errors.Join(append([]error{err}, errs...)...); err != nil {
		m.failed(TriggerStartup, err)
		return err
	}
	if len(read.overlays) > 0 || len(read.failed) > 0 {
		m.applyTenants(TriggerStartup, read)
	}
	return nil
}

// Current implements engine.Rules: the ruleset in force.
func (m *Manager) Current() engine.Ruleset { return m.cur.Load().Set }

// Set returns the ruleset in force.
func (m *Manager) Set() *Set { return m.cur.Load().Set }

// Snapshot returns the ruleset in force and where it came from.
func (m *Manager) Snapshot() *Snapshot { return m.cur.Load() }

// FilesRejected reports whether the last load of the shared rule files,
// or of the tenants folder, was rejected, none having succeeded since:
// the rules in force are not what the files say (a tenant's rejected
// overlay is Snapshot's TenantFailures).
func (m *Manager) FilesRejected() bool { return m.filesRejected.Load() }

// LoadStats returns what the Manager reports of its loads: the version
// in force, whether the rule files load, the time of the last load, loads
// by trigger and result, the tenants whose overlays were rejected.
func (m *Manager) LoadStats() LoadStats { return m.metrics.stats() }

// PersistPath returns where Put writes: the one rule file or folder, if the
// rules are loaded from exactly one.
func (m *Manager) PersistPath() string {
	if len(m.opts.Paths) == 1 {
		return m.opts.Paths[0]
	}
	return ""
}

// read loads the sources the manager is configured with.
func (m *Manager) read() ([]Source, string, error) {
	if len(m.opts.Paths) == 0 {
		return []Source{DefaultSource()}, OriginEmbedded, nil
	}
	srcs, err := LoadFiles(m.opts.Paths...)
	if err != nil {
		return nil, "", err
	}
	return srcs, OriginFile, nil
}

// Reload reads and compiles the rule files again: the shared rules, then
// each tenant's overlay on its own. A ruleset with the same content as the
// one in force changes nothing (changed false); one that does not compile
// is rejected, the error returned, and the one in force stays: the shared
// set in force when the shared files are rejected (the overlays are still
// loaded, on it), and a tenant's overlay in force (none if it had none)
// when that tenant's files are rejected, while the other tenants' overlays
// are put in force (see TenantFailure). The error names every rejected
// part; changed says whether anything was put in force.
func (m *Manager) Reload(trigger string) (changed bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.reload(trigger)
	return r.changed, r.err()
}

// reloadResult is what a reload put in force and what it rejected, by
// part: the shared files, the tenants folder, each tenant's folder.
type reloadResult struct {
	changed bool
	shared  error
	folder  error
	tenants map[string]error
}

// err is every part's error, the tenants in name order.
func (r reloadResult) err() error {
	errs := []error{r.shared, r.folder}
	for _, name := range slices.Sorted(maps.Keys(r.tenants)) {
		errs = append(errs, fmt.Errorf("tenant %s: %w", name, r.tenants[name]))
	}
	return errors.Join(errs...)
}

// errFor is the error of the watched path a reload was for: a tenant's
// folder's own, the tenants folder's, or the shared files'. The watch
// tries a path again while it fails; a tenant whose files are rejected
// must not make the watch of another tenant's folder, which loaded, try
// again too.
func (r reloadResult) errFor(tenantsDir, path string) error {
	if tenantsDir != "" {
		tenantsDir, path = filepath.Clean(tenantsDir), filepath.Clean(path)
	}
	switch {
	case tenantsDir == "":
	case path == tenantsDir:
		return r.folder
	case filepath.Dir(path) == tenantsDir:
		if r.folder != nil {
			return r.folder
		}
		if err := r.tenants[filepath.Base(path)]; err != nil {
			return fmt.Errorf("tenant %s: %w", filepath.Base(path), err)
		}
		return nil
	}
	return r.shared
}

func (m *Manager) reload(trigger string) (r reloadResult) {
	defer m.warned.reloaded()
	defer func() { m.tellWatch(r) }()
	r.changed, r.shared = m.reloadShared(trigger)
	if m.opts.TenantsDir == "" {
		return r
	}
	// The tenants' folders, each on its own, on the shared set in force
	// (the one that stays if the shared files were rejected: an overlay
	// compiles without it, so one tenant's edit need not wait for a fix
	// of the shared files).
	read, err := m.readTenants(m.Set())
	inForce := len(m.Snapshot().Tenants) > 0
	switch {
	case err == nil && read.folders == 0 && !read.marker && inForce:
		// An empty mount point looks like this: a volume that failed
		// to mount, or a remount in progress. Dropping every overlay
		// would loosen every tenant that tightened its rules without
		// anyone deciding so; the marker says it is on purpose.
		err = fmt.Errorf("rules: tenants: %s holds no tenant's folder while %d overlay(s) are in force (a volume that failed to mount?); to remove every overlay on purpose, leave a file named %s in it", m.opts.TenantsDir, len(m.Snapshot().Tenants), NoOverlaysMarker)
		err = &tenantsFolderError{err: err, empty: true}
	case errors.Is(err, fs.ErrNotExist) && !inForce:
		// Nothing in force to keep, as at a start without the folder.
		m.warnOnce("nodir", "the tenants rules folder does not exist; no tenant overlays", "path", m.opts.TenantsDir)
		err = nil
	case err != nil:
		err = &tenantsFolderError{err: err}
	}
	if err != nil {
		// The tenants folder itself could not be read: nothing is
		// known of any overlay, and every one in force stays.
		m.tenantsFolderFailed(trigger, err)
		r.folder = err
		return r
	}
	if m.folderErr != "" {
		m.log.Info("the tenants rules folder is readable again", "trigger", trigger, "path", m.opts.TenantsDir)
		m.folderErr = ""
	}
	r.tenants = read.failed
	if m.applyTenants(trigger, read) {
		r.changed = true
	}
	return r
}

func (m *Manager) reloadShared(trigger string) (bool, error) {
	if len(m.opts.Paths) == 0 {
		// Nothing on disk to reload; keep what the API may have put.
		cur := m.Snapshot()
		m.metrics.loaded(trigger, cur.Set.Version(), len(cur.Set.Rules()), false, m.opts.Now())
		return false, nil
	}
	srcs, origin, err := m.read()
	if err == nil {
		var set *Set
		if set, err = Compile(srcs...); err == nil {
			return m.install(trigger, set, srcs, origin), nil
		}
	}
	m.failed(trigger, err)
	return false, err
}

// install puts set in force unless the ruleset in force has the same
// content (the same version, from files of the same names).
func (m *Manager) install(trigger string, set *Set, srcs []Source, origin string) bool {
	now := m.opts.Now()
	cur := m.Snapshot()
	changed := cur == nil || cur.Set.Version() != set.Version() || !sameNames(cur.Sources, srcs)
	if changed {
		var tenants map[string]*TenantSnapshot
		var failures map[string]*TenantFailure
		if cur != nil {
			// The overlays in force, kept ones too, on the new set; those
			// that override a rule it now locks are reported rejected.
			tenants = m.recompose(set, cur.Tenants)
			failures = m.lockFailures(set, tenants, cur.TenantFailures)
		}
		m.cur.Store(&Snapshot{Set: set, Sources: srcs, Origin: origin, LoadedAt: now, PersistPath: m.PersistPath(), Tenants: tenants, TenantFailures: failures})
		if cur != nil && !sameFailures(cur.TenantFailures, failures) {
			m.metrics.staleTenants(slices.Sorted(maps.Keys(failures)))
		}
		if m.opts.OnInstall != nil {
			m.opts.OnInstall(set)
		}
	}
	m.metrics.loaded(trigger, set.Version(), len(set.Rules()), changed, now)
	switch {
	case changed:
		m.log.Info("rules in force", "trigger", trigger, "version", set.Version(), "rules", len(set.Rules()), "origin", origin,
			"slowest", slowestRules{set, 3})
	case m.rejected && origin != OriginAPI:
		// A rejected edit reverted: the files are back to the set in
		// force, and the failure the log and the metrics reported is
		// over.
		m.log.Info("rules no longer rejected; the ruleset in force is unchanged", "trigger", trigger, "version", set.Version())
	default:
		m.log.Debug("rules unchanged", "trigger", trigger, "version", set.Version())
	}
	if origin != OriginAPI {
		// A put held in memory (several paths: nowhere to write it)
		// changed no file: a rule file rejected is still rejected, as a
		// restart or the next reload would find.
		m.rejected = false
	}
	m.reportHealth()
	return changed
}

func sameNames(a, b []Source) bool {
	return slices.EqualFunc(a, b, func(x, y Source) bool { return x.Name == y.Name })
}

func (m *Manager) failed(trigger string, err error) {
	in := ""
	if cur := m.Snapshot(); cur != nil {
		in = cur.Set.Version()
	}
	if in == "" {
		// At startup, with none in force yet: nothing stays (the
		// process exits, or the caller reports it).
		m.log.Error("rules rejected; no ruleset is in force", "trigger", trigger, "err", err)
	} else {
		m.log.Error("rules rejected; the ruleset in force stays", "trigger", trigger, "in_force", in, "err", err)
	}
	m.metrics.failed(trigger, m.opts.Now())
	m.rejected = true
	m.reportHealth()
}

// refused records a put through the API rejected (tenant "" for the
// shared rules): the caller is answered with the problems, and nothing
// on disk or in force changed, so the failure is not the files': it is
// counted as rejected, not as a failure, and the success gauge keeps
// saying how they load. Logged at warning level, with
// the problem, for whoever audits the puts.
func (m *Manager) refused(tenant string, err error) {
	m.metrics.refused()
	if tenant == "" {
		m.log.Warn("rules put rejected; the ruleset in force stays", "trigger", TriggerAPI, "err", err)
		return
	}
	in := ""
	if t := m.Tenant(tenant); t != nil {
		in = t.Overlay.Version()
	}
	m.log.Warn("tenant rules put rejected; the tenant's overlay in force stays", "trigger", TriggerAPI, "tenant", tenant, "in_force", in, "err", err)
}

// reportHealth sets LoadStats.Healthy (riskgate_rules_last_reload_success)
// from what is rejected now, not from the last event: true only while the
// shared files, the tenants folder and every tenant's overlay load, so that
// a tenant's edit that loads does not hide the shared files' rejection, nor the
// shared files' reload a tenant's. Under mu.
func (m *Manager) reportHealth() {
	ok := !m.rejected && m.folderErr == ""
	m.filesRejected.Store(!ok)
	if cur := m.Snapshot(); cur != nil && len(cur.TenantFailures) > 0 {
		ok = false
	}
	m.metrics.health(ok)
}
