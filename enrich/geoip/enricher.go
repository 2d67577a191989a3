package geoip

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/filesnap"
	"github.com/riskgate/riskgate/internal/filewatch"
)

// Options configure an Enricher. Each role takes several files, consulted
// in order: the first city or ASN database with a record for the address
// answers (DB-IP Lite ships IPv4 and IPv6 as two files); every anonymous-IP
// database is consulted and their flags combined.
type Options struct {
	City      []string
	ASN       []string
	Anonymous []string
	// CacheSize bounds the lookup cache (entries, one per address);
	// 0 means DefaultCacheSize, negative disables the cache.
	CacheSize int
	// DefaultAccuracyKM is the radius of coordinates that come without
	// one; 0 means DefaultAccuracyKM.
	DefaultAccuracyKM float64
	// Watch reloads a database when its file is replaced.
	Watch bool
	// Poll is the interval of the fallback stat when watching (default one
	// minute); Debounce how long a directory must be quiet before a
	// changed file is read (default 250 ms).
	Poll, Debounce time.Duration
	// SnapshotDir holds the private copies of the database files (see
	// internal/filesnap); empty: beside each file, else $TMPDIR, else RAM.
	SnapshotDir string
	// OnReload, when set, is told about every reload, failed or not, from
	// the watcher's goroutine: the metrics layer counts them.
	OnReload func(ReloadEvent)
	Logger   *slog.Logger

	// open opens one database; nil: openDatabase (tests replace it).
	open func(path string, role Role, snapshotDir string) (*database, error)
	// watching, when set, is called as the watch's reload of a file
	// starts (false) and ends (true): tests wait on it.
	watching func(end bool)
}

// DefaultCacheSize is the default number of cached addresses: about 20 MB.
const DefaultCacheSize = 100_000

// ReloadEvent describes one reload of a database file.
type ReloadEvent struct {
	Path         string
	Role         Role
	DatabaseType string    // of the new file, when it opened
	Built        time.Time // the new file's build time, when it opened
	Err          error     // nil: the new file is in use; else the old one stays
}

// Stats are the Enricher's counters since New.
type Stats struct {
	CacheEntries   int
	CacheHits      uint64
	CacheMisses    uint64
	LookupErrors   uint64
	Reloads        uint64
	ReloadFailures uint64
}

// Enricher answers engine enrichment from GeoIP databases: location from
// the city databases, autonomous system from the ASN databases, VPN, Tor,
// proxy and hosting flags from the anonymous-IP databases. It is safe for
// concurrent use; a cached lookup does not allocate.
type Enricher struct {
	opts    Options
	log     *slog.Logger
	city    []*slot
	asn     []*slot
	anon    []*slot
	byPath  map[string][]*slot
	gen     atomic.Uint64
	cache   *cache
	watcher *filewatch.Watcher

	lookupErrors   atomic.Uint64
	reloads        atomic.Uint64
	reloadFailures atomic.Uint64
	closeOnce      sync.Once

	// reloadMu serialises reloads: a SIGHUP's (Reload) and the watch's
	// ran side by side, and the last to finish was swapped in, though it
	// may have read the file before the other: the version the file no
	// longer holds stayed in use, and the watch never read the file again.
	reloadMu sync.Mutex
}

// slot holds the database currently in use for one configured file.
type slot struct {
	path    string
	role    Role
	cur     atomic.Pointer[database]
	failing atomic.Bool // the last reload failed, none succeeding since
}

// acquire returns the current database with a reference held, or nil
// after Close.
func (s *slot) acquire() *database {
	for {
		d := s.cur.Load()
		if d == nil || d.acquire() {
			return d
		}
		// Swapped and released between Load and acquire: load again.
	}
}

// New opens every configured database, refusing any that is missing,
// corrupt or of the wrong kind, and starts watching them when asked.
func New(opts Options) (*Enricher, error) {
	if len(opts.City)+len(opts.ASN)+len(opts.Anonymous) == 0 {
		return nil, errors.New("geoip: no database configured")
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.DefaultAccuracyKM <= 0 {
		opts.DefaultAccuracyKM = DefaultAccuracyKM
	}
	e := &Enricher{opts: opts, log: opts.Logger, byPath: map[string][]*slot{}, cache: newCache(opts.CacheSize)}
	if e.log == nil {
		e.log = slog.Default()
	}
	var files []file
	for _, g := range []struct {
		list []string
		role Role
	}{{opts.City, RoleCity}, {opts.ASN, RoleASN}, {opts.Anonymous, RoleAnonymous}} {
		for _, p := range g.list {
			files = append(files, file{p, g.role})
		}
	}
	if e.opts.open == nil {
		e.opts.open = openDatabase
	}
	dbs, err := openAll(files, func(f file) (*database, error) { return e.open(f.path, f.role, opts.SnapshotDir) })
	if err != nil {
		return nil, err
	}
	var paths []string
	for i, f := range files {
		s := &slot{path: f.path, role: f.role}
		s.cur.Store(dbs[i])
		switch f.role {
		case RoleCity:
			e.city = append(e.city, s)
		case RoleASN:
			e.asn = append(e.asn, s)
		default:
			e.anon = append(e.anon, s)
		}
		if len(e.byPath[f.path]) == 0 {
			paths = append(paths, f.path)
		}
		e.byPath[f.path] = append(e.byPath[f.path], s)
		e.loaded(dbs[i])
	}
	if opts.Watch {
		e.watcher, err = filewatch.New(paths, e.reloadChanged, filewatch.Options{Poll: opts.Poll, Debounce: opts.Debounce, Logger: e.log,
			Reverted: e.reverted, ReportGone: true})
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("geoip: watch: %w", err)
		}
	}
	return e, nil
}

// open opens one database (Options.open, for tests; else openDatabase).
func (e *Enricher) open(path string, role Role, snapshotDir string) (*database, error) {
	return e.opts.open(path, role, snapshotDir)
}

// file is one configured database file and the role it serves.
type file struct {
	path string
	role Role
}

// openAll opens files side by side, as many at once as there are CPUs, and
// returns their databases in the same order. Opening a database verifies
// all of it (two seconds for DB-IP's 60 MB IPv4 city file), so a node
// given several (DB-IP's IPv4 and IPv6 files, an ASN and an anonymous-IP
// database) would otherwise wait for their sum before it serves. On
// failure every database opened is released and the error is the first
// failing file's in configuration order, as when they were opened one by
// one.
func openAll(files []file, open func(file) (*database, error)) ([]*database, error) {
	dbs := make([]*database, len(files))
	errs := make([]error, len(files))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			dbs[i], errs[i] = open(f)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			for _, d := range dbs {
				if d != nil {
					d.release()
				}
			}
			return nil, err
		}
	}
	return dbs, nil
}

// staleAfter is the age from which a database is reported as stale:
// MaxMind updates GeoLite2 twice a week and DB-IP Lite monthly.
const staleAfter = 45 * 24 * time.Hour

func (e *Enricher) loaded(d *database) {
	e.log.Info("geoip database loaded", "role", d.role.String(), "path", d.path, "type", d.typ, "built", d.built.UTC().Format(time.DateOnly), "snapshot", d.where)
	if age := time.Since(d.built); d.built.Unix() > 0 && age > staleAfter {
		e.log.Warn("geoip database is stale; is the updater (geoipupdate, npm update) running?", "path", d.path, "age_days", int(age.Hours()/24))
	}
}

// Close stops watching and releases the databases; lookups in flight
// finish first. After Close every address is unknown.
func (e *Enricher) Close() {
	e.closeOnce.Do(func() {
		if e.watcher != nil {
			_ = e.watcher.Close()
		}
		for _, group := range [][]*slot{e.city, e.asn, e.anon} {
			for _, s := range group {
				if d := s.cur.Swap(nil); d != nil {
					d.release()
				}
			}
		}
		e.gen.Add(1)
		if e.cache != nil {
			e.cache.purge()
		}
	})
}

// Enrich implements engine.Enricher.
func (e *Enricher) Enrich(addr netip.Addr, en *engine.Enrichment) error {
	var r Result
	err := e.lookup(addr, &r)
	r.apply(en)
	return err
}

// Lookup returns what the databases know about addr; the zero Result when
// nothing. An error means a database failed to decode its record (the
// other databases still answered).
func (e *Enricher) Lookup(addr netip.Addr) (Result, error) {
	var r Result
	err := e.lookup(addr, &r)
	return r, err
}

func (e *Enricher) lookup(addr netip.Addr, r *Result) error {
	if !addr.IsValid() {
		return nil
	}
	addr = addr.Unmap().WithZone("")
	gen := e.gen.Load()
	if e.cache != nil && e.cache.get(addr, gen, r) {
		return nil
	}
	var errs []error
	for _, group := range [][]*slot{e.city, e.asn, e.anon} {
		for _, s := range group {
			d := s.acquire()
			if d == nil {
				continue
			}
			found, err := d.lookup(addr, r, e.opts.DefaultAccuracyKM)
			d.release()
			if err != nil {
				errs = append(errs, fmt.Errorf("geoip: %s database %s: lookup %s: %w", s.role, s.path, addr, err))
				continue
			}
			// The first city or ASN database with a record answers; every
			// anonymous-IP database is consulted.
			if found && s.role != RoleAnonymous {
				break
			}
		}
	}
	if len(errs) > 0 {
		e.lookupErrors.Add(1)
		return errors.Join(errs...) // not cached: a reload may fix it
	}
	if e.cache != nil {
		e.cache.add(addr, gen, r)
	}
	return nil
}

// Reload reopens every configured file now and returns the failures; the
// databases that fail keep their loaded version, and the watch retries
// them.
func (e *Enricher) Reload() error {
	var errs []error
	for p := range e.byPath {
		if err := e.reload(p); err != nil {
			errs = append(errs, err)
			if e.watcher != nil {
				e.watcher.Failed(p)
			}
		}
	}
	return errors.Join(errs...)
}

// reverted clears the failure of a file found back to the version in use.
func (e *Enricher) reverted(path string) {
	for _, s := range e.byPath[path] {
		s.failing.Store(false)
	}
}

// reloadChanged is the watch's reload: path changed since the watch last
// looked. A SIGHUP may have loaded that version already (sent just after
// geoipupdate's rename, within the watch's debounce; or while the poll
// had not come), and the watch then read and verified it a second time
// (seconds for a large database), emptied the lookup cache again, and
// logged and counted a second reload. So a path whose stat is the version
// every one of its databases has loaded (same file, size and time: what
// the watch compares) is not read again, and nothing is logged, unless
// one of them is failing: those are retried as the watch decides.
func (e *Enricher) reloadChanged(path string) error {
	if e.opts.watching != nil {
		e.opts.watching(false)
		defer e.opts.watching(true)
	}
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	if e.inUse(path) {
		return nil
	}
	return e.reloadLocked(path)
}

// inUse reports whether every database of path is the version of the
// file there now, none failing. e.reloadMu is held.
func (e *Enricher) inUse(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	for _, s := range e.byPath[path] {
		if d := s.cur.Load(); d == nil || s.failing.Load() || !filesnap.SameVersion(d.file, fi) {
			return false
		}
	}
	return true
}

func (e *Enricher) reload(path string) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	return e.reloadLocked(path)
}

// reloadLocked reopens path's databases; e.reloadMu is held.
func (e *Enricher) reloadLocked(path string) error {
	var errs []error
	for _, s := range e.byPath[path] {
		start := time.Now()
		d, err := e.open(path, s.role, e.opts.SnapshotDir)
		ev := ReloadEvent{Path: path, Role: s.role, Err: err}
		s.failing.Store(err != nil)
		if err != nil {
			e.reloadFailures.Add(1)
			e.log.Error("geoip database reload failed; keeping the loaded version", "role", s.role.String(), "path", path, "err", err)
			errs = append(errs, err)
		} else {
			ev.DatabaseType, ev.Built = d.typ, d.built
			// Counted before the swap, so that whoever sees the new
			// database sees the reload counted.
			e.reloads.Add(1)
			old := s.cur.Swap(d)
			if old == nil { // closed meanwhile
				e.reloads.Add(^uint64(0))
				s.cur.Store(nil)
				d.release()
				continue
			}
			old.release()
			e.gen.Add(1)
			if e.cache != nil {
				e.cache.purge()
			}
			e.loaded(d)
			e.log.Info("geoip database reloaded", "role", s.role.String(), "path", path, "took", time.Since(start).Round(time.Millisecond))
		}
		if e.opts.OnReload != nil {
			e.opts.OnReload(ev)
		}
	}
	return errors.Join(errs...)
}

// Stats returns the counters.
func (e *Enricher) Stats() Stats {
	st := Stats{LookupErrors: e.lookupErrors.Load(), Reloads: e.reloads.Load(), ReloadFailures: e.reloadFailures.Load()}
	if e.cache != nil {
		st.CacheEntries, st.CacheHits, st.CacheMisses = e.cache.stats()
	}
	return st
}

// Database describes a loaded database file.
type Database struct {
	Path         string
	Role         Role
	DatabaseType string
	Built        time.Time
	IPv4Only     bool
	// ReloadFailing: the file's last reload failed, none succeeding
	// since; the database listed is the one loaded before.
	ReloadFailing bool
}

// Databases lists the files in use, in order, for status pages.
func (e *Enricher) Databases() []Database {
	var out []Database
	for _, group := range [][]*slot{e.city, e.asn, e.anon} {
		for _, s := range group {
			if d := s.acquire(); d != nil {
				out = append(out, Database{Path: s.path, Role: s.role, DatabaseType: d.typ, Built: d.built, IPv4Only: d.ipv4Only, ReloadFailing: s.failing.Load()})
				d.release()
			}
		}
	}
	return out
}
