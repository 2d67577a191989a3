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
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
}

// Manager owns the ruleset in force, in the spirit of Prometheus'
// rules.Manager: it compiles each load once, keeps one pointer to what is
// in force (which the engine reads on every Score), reloads the rule files
// when they change (Watch) or when asked (Reload, on SIGHUP), and takes
// rulesets put through the admin API. A ruleset that does not compile is
// rejected whole and the one in force stays; every load, good or bad, is
// logged and counted in its metrics (Collector).
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
	// beforeTenantRead, when set (tests), is called by readTenants before
	// it reads a tenant's folder of its listing; under mu.
	beforeTenantRead func(tenant string)
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

// Collector returns the Manager's metrics: the version in force, the
// result and time of the last load, loads by trigger and result.
func (m *Manager) Collector() prometheus.Collector { return m.metrics.collector() }

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

func (m *Manager) reload(trigger string) reloadResult {
	defer m.warned.reloaded()
	var r reloadResult
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

// Watch reloads the rules whenever their files change, until ctx is done:
// the files, or the *.yaml files of the folders, each compared by content
// (internal/filewatch, with its polling fallback), so that an edit that
// keeps the file's size and time is seen and a touch reloads nothing.
// Without rule files Watch returns at once.
func (m *Manager) Watch(ctx context.Context) error {
	if len(m.opts.Paths) == 0 && m.opts.TenantsDir == "" {
		return nil
	}
	// ReloadReverted: a rejected edit reverted (a rule file given as a
	// file back to the content in force) is loaded again, as a folder
	// back to its loaded files is: only a load clears the rejection the
	// metrics, /readyz and the tenants' rules report, and a load of
	// rules is cheap.
	opts := filewatch.Options{
		Poll: m.opts.Poll, Debounce: m.opts.Debounce, Content: true, Filter: watchedFile, Logger: m.log,
		Subfolders: m.opts.TenantsDir != "", ReloadReverted: true,
	}
	regroup := make(chan struct{}, 1)
	signal := func() {
		select {
		case regroup <- struct{}{}:
		default:
		}
	}
	if parent := m.tenantsParent(); parent != "" {
		// A watcher of its own: it also watches the parent's parent
		// (which may be busy, /tmp, /srv), whose events would keep
		// putting off the rule files' debounced reloads.
		pw, err := filewatch.New([]string{parent}, func(string) error {
			// Only a trigger: the reload reports what it finds, and the
			// tenants folder's own path is tried again once it is back.
			_, _ = m.Reload(TriggerFile)
			signal()
			return nil
		}, opts)
		if err != nil {
			return fmt.Errorf("rules watch: %w", err)
		}
		defer pw.Close()
	}
	for {
		tenants := m.tenantWatchPaths()
		paths := append(slices.Clone(m.opts.Paths), tenants...)
		// A tenant's folder is watched from the moment it exists: the
		// tenants folder's identity includes its folders' names, and a
		// reload after which they differ starts the watch again over
		// them. (A folder added then was loaded by that reload, but its
		// later edits were never seen; a folder removed kept its overlay
		// until some other change.)
		w, err := filewatch.New(paths, func(path string) error {
			m.mu.Lock()
			err := m.reload(TriggerFile).errFor(m.opts.TenantsDir, path)
			m.mu.Unlock()
			signal()
			return err
		}, opts)
		if err != nil {
			return fmt.Errorf("rules watch: %w", err)
		}
		m.log.Info("watching rule files", "paths", paths, "debounce", m.opts.Debounce)
		// A change between the last load and this watch would be missed:
		// look once now (nothing changes when nothing did). Then compare
		// the tenants' folders with those watched, as after a watch's
		// reload: a tenants folder back between the listing above and
		// the watch's first look at it (moved back, remounted) is no
		// change to the watch, and its tenants' folders went unwatched,
		// their edits unseen, until a tenant's folder came or went.
		_, _ = m.Reload(TriggerFile)
		signal()
	wait:
		for {
			select {
			case <-ctx.Done():
				return w.Close()
			case <-regroup:
				if slices.Equal(m.tenantWatchPaths(), tenants) {
					continue
				}
				if err := w.Close(); err != nil {
					return fmt.Errorf("rules watch: %w", err)
				}
				break wait
			}
		}
	}
}

// watchedFile is a file whose change Watch reloads for: a rule file, or
// the tenants folder's NoOverlaysMarker (put in an emptied folder, it
// removes every overlay at once, not at the watch's next retry).
func watchedFile(name string) bool { return isRuleFile(name) || name == NoOverlaysMarker }

// tenantsParent is the folder the tenants folder is in, which Watch
// watches too (by a watcher of its own), unless it is a shared rules path already: the watch of a
// folder does not report the folder gone (filewatch keeps the version
// loaded), but its parent's identity counts its folders, so that a
// tenants folder moved away or unmounted is a change, and its reload
// reports every overlay in force stale rather than waiting for the next
// one to drop them.
func (m *Manager) tenantsParent() string {
	if m.opts.TenantsDir == "" {
		return ""
	}
	parent := filepath.Dir(filepath.Clean(m.opts.TenantsDir))
	if slices.ContainsFunc(m.opts.Paths, func(p string) bool { return filepath.Clean(p) == parent }) {
		return ""
	}
	return parent
}

// Validate compiles a candidate ruleset without using it. A ruleset that
// does not compile is a *RejectedError.
func (m *Manager) Validate(files []Source) (*Set, error) {
	srcs, names, err := m.named(files)
	if err != nil {
		return nil, err
	}
	set, err := Compile(srcs...)
	if err != nil {
		return nil, rejected(err, names)
	}
	return set, nil
}

// Put compiles files and, if they compile (and ifVersion, when set, is the
// version in force), writes them where the rules are loaded from and puts
// them in force: what is in force is then what is on disk. The ruleset in
// force changes only if everything succeeds. Rule tests (*_test.yaml) of
// the folder that named a rule file the put removes are removed with it,
// and the log says which.
func (m *Manager) Put(ifVersion string, files []Source) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.Snapshot(); ifVersion != "" && ifVersion != cur.Set.Version() {
		return nil, fmt.Errorf("%w: in force %s, expected %s", ErrVersionMismatch, cur.Set.Version(), ifVersion)
	}
	return m.put(files)
}

// put is Put under m.mu, the version checked: the one path every change
// through the API takes (a put, a promotion).
func (m *Manager) put(files []Source) (*Snapshot, error) {
	srcs, names, err := m.named(files)
	if err != nil {
		return nil, err
	}
	set, err := Compile(srcs...)
	if err != nil {
		m.refused("", err)
		return nil, rejected(err, names)
	}
	origin := OriginAPI
	if p := m.PersistPath(); p != "" {
		removed, err := persist(p, srcs)
		if err != nil {
			m.log.Error("rules put: could not write the rule files", "path", p, "err", err)
			// Part of the files may be new: put in force what is on disk
			// now, so that memory and disk agree, if it compiles.
			if rerr := m.reload(TriggerAPI).err(); rerr != nil {
				m.log.Error("rules put: the rule files on disk do not compile; the ruleset in force stays", "path", p, "err", rerr)
			}
			return nil, err
		}
		for _, t := range removed {
			m.log.Warn("rules put: removed a rule test that named a removed rule file", "test", t)
		}
		origin = OriginFile
	}
	m.install(TriggerAPI, set, srcs, origin)
	return m.Snapshot(), nil
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
			// The overlays in force, kept ones too, on the new set.
			tenants, failures = m.recompose(set, cur.Tenants), cur.TenantFailures
		}
		m.cur.Store(&Snapshot{Set: set, Sources: srcs, Origin: origin, LoadedAt: now, PersistPath: m.PersistPath(), Tenants: tenants, TenantFailures: failures})
	}
	m.metrics.loaded(trigger, set.Version(), len(set.Rules()), changed, now)
	switch {
	case changed:
		m.log.Info("rules in force", "trigger", trigger, "version", set.Version(), "rules", len(set.Rules()), "origin", origin,
			"slowest", slowestRules{set, 3})
	case m.rejected:
		// A rejected edit reverted: the files are back to the set in
		// force, and the failure the log and the metrics reported is
		// over.
		m.log.Info("rules no longer rejected; the ruleset in force is unchanged", "trigger", trigger, "version", set.Version())
	default:
		m.log.Debug("rules unchanged", "trigger", trigger, "version", set.Version())
	}
	m.rejected = false
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
// on disk or in force changed, so the failure is not the files' and the
// success gauge keeps saying how they load. Logged at warning level, with
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

// reportHealth sets riskgate_rules_last_reload_success from what is
// rejected now, not from the last event: 1 only while the shared files,
// the tenants folder and every tenant's overlay load, so that a tenant's
// edit that loads does not hide the shared files' rejection, nor the
// shared files' reload a tenant's. Under mu.
func (m *Manager) reportHealth() {
	ok := !m.rejected && m.folderErr == ""
	if cur := m.Snapshot(); cur != nil && len(cur.TenantFailures) > 0 {
		ok = false
	}
	m.metrics.health(ok)
}

var namePattern = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$`)

// named checks the names of files put through the API and gives them the
// paths they will have on disk. names maps each path to the file's
// position in the request and the name the caller knows it by, for
// messages.
func (m *Manager) named(files []Source) (srcs []Source, names map[string]requestFile, err error) {
	dir, single := "", ""
	if p := m.PersistPath(); p != "" {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			dir = p
		} else {
			single = p
		}
	}
	return m.namedIn(dir, single, files)
}

// namedIn is named for files to be written to the folder dir or the one
// file single (neither: held in memory).
func (m *Manager) namedIn(dir, single string, files []Source) (srcs []Source, names map[string]requestFile, err error) {
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%w: no rule files", ErrInvalid)
	}
	if len(files) > MaxFiles {
		return nil, nil, fmt.Errorf("%w: %d files, at most %d", ErrInvalid, len(files), MaxFiles)
	}
	if single != "" && len(files) != 1 {
		return nil, nil, fmt.Errorf("%w: the rules are loaded from the file %s: put exactly one file", ErrInvalid, single)
	}
	out := make([]Source, len(files))
	names = make(map[string]requestFile, len(files))
	for i, f := range files {
		name := f.Name
		if name == "" && len(files) == 1 {
			name = "rules.yaml"
		}
		if len(name) > MaxNameLen || !namePattern().MatchString(name) || IsTestFile(name) {
			return nil, nil, fmt.Errorf("%w: files[%d].name %.140q: want a file name like rules.yaml (letters, digits, '.', '_', '-'; not *_test.yaml)", ErrInvalid, i, name)
		}
		if len(f.Data) > MaxFileSize {
			return nil, nil, fmt.Errorf("%w: files[%d] %s: larger than %d bytes", ErrInvalid, i, name, MaxFileSize)
		}
		path := name
		switch {
		case single != "":
			path = single
		case dir != "":
			path = filepath.Join(dir, name)
		}
		if _, dup := names[path]; dup {
			return nil, nil, fmt.Errorf("%w: files[%d].name %q given twice", ErrInvalid, i, f.Name)
		}
		names[path] = requestFile{index: i, name: name}
		out[i] = Source{Name: path, Data: f.Data}
	}
	if dir != "" {
		// LoadFiles reads a folder in name order; match it.
		slices.SortFunc(out, func(a, b Source) int { return strings.Compare(a.Name, b.Name) })
	}
	return out, names, nil
}

// requestFile is a file of a put or validate request.
type requestFile struct {
	index int
	name  string
}

// Problem is one problem of a rejected ruleset, with its file named as the
// request named it.
type Problem struct {
	*Error
	// Index is the file's position in the request; -1 when the problem is
	// not in one of its files.
	Index int
}

// RejectedError is a candidate ruleset that does not compile.
type RejectedError struct {
	Problems []Problem
}

// Error lists the problems, files named as the request named them.
func (e *RejectedError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error.Error()
	}
	return strings.Join(msgs, "\n")
}

// rejected turns a compile error into the request's problems: each Error
// with its file renamed from the path it was compiled under to the name
// the request gave it, in its message too (which may name another of the
// request's files: "first defined at a.yaml:2"), so that no server path
// reaches the caller.
func rejected(err error, names map[string]requestFile) error {
	var list ErrorList
	if !errors.As(err, &list) {
		return err
	}
	pairs := make([]string, 0, 2*len(names))
	for path, f := range names {
		pairs = append(pairs, path, f.name)
	}
	msgs := pathReplacer(pairs...)
	r := &RejectedError{}
	for _, e := range list {
		renamed := *e
		renamed.Err = renamedErr(e.Err, msgs)
		p := Problem{Error: &renamed, Index: -1}
		if f, ok := names[e.File]; ok {
			renamed.File, p.Index = f.name, f.index
		}
		r.Problems = append(r.Problems, p)
	}
	return r
}
