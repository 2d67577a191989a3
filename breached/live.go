package breached

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/internal/filesnap"
	"github.com/riskgate/riskgate/internal/filewatch"
	"github.com/riskgate/riskgate/internal/metricset"
)

// Live serves a filter file and reloads it when the file changes, keeping
// the old filter if the new file does not open or fails its checksums.
// Lookups never wait for a reload: the new file is copied and verified in
// the watcher's goroutine, then swapped in atomically.
type Live struct {
	path    string
	opt     LiveOptions
	log     *slog.Logger
	cur     atomic.Pointer[Filter]
	watcher *filewatch.Watcher

	reloads  atomic.Uint64
	refusals metricset.Refusals

	// mu serialises reloads: a SIGHUP's (Reload) and the watch's ran side
	// by side, and the last to finish was swapped in, though it may have
	// read the file before the other: the filter the file no longer holds
	// stayed in use, and the watch never read the file again.
	mu sync.Mutex
}

// LiveOptions configure OpenLive.
type LiveOptions struct {
	OpenOptions
	Logger *slog.Logger
	// Poll and Debounce tune the file watch (see internal/filewatch);
	// zero values take its defaults.
	Poll, Debounce time.Duration

	// open opens the file (nil: Open; tests replace it).
	open func(path string, opt OpenOptions) (*Filter, error)
	// watching, when set, is called as the watch's reload starts (false)
	// and ends (true): tests wait on it.
	watching func(end bool)
}

// retireAfter is how long a replaced filter stays mapped: a lookup takes
// nanoseconds, but it must never touch memory that was unmapped under it.
const retireAfter = time.Minute

// OpenLive opens path (see Open) and watches it for changes.
func OpenLive(path string, opt LiveOptions) (*Live, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.open == nil {
		opt.open = Open
	}
	f, err := opt.open(path, opt.OpenOptions)
	if err != nil {
		return nil, err
	}
	l := &Live{path: path, opt: opt, log: opt.Logger}
	l.cur.Store(f)
	l.watcher, err = filewatch.New([]string{path}, func(string) error { return l.reloadChanged() },
		filewatch.Options{Logger: l.log, Poll: opt.Poll, Debounce: opt.Debounce,
			Reverted: func(string) { l.refusals.Reverted() }, ReportGone: true})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("breached: watch %s: %w", path, err)
	}
	return l, nil
}

// reloadChanged is the watch's reload: the file changed since the watch
// last looked. A SIGHUP may have loaded that version already (sent just
// after an updater's rename, within the watch's debounce; or while the
// watch's poll had not come), and then the watch's reload read and
// verified it a second time (seconds for a large filter) and logged
// and counted a second reload of it. So a path whose stat is the version
// in use (same file, size and time: what the watch compares) is not
// read again, and nothing is logged, unless the last reload failed: a
// failing file is retried as the watch decides.
func (l *Live) reloadChanged() error {
	if l.opt.watching != nil {
		l.opt.watching(false)
		defer l.opt.watching(true)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.refusals.Failing() {
		if fi, err := os.Stat(l.path); err == nil && filesnap.SameVersion(l.cur.Load().file, fi) {
			return nil
		}
	}
	return l.reloadLocked()
}

func (l *Live) reload() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reloadLocked()
}

// reloadLocked reads the file and swaps it in; l.mu is held.
func (l *Live) reloadLocked() error {
	start := time.Now()
	f, err := l.opt.open(l.path, l.opt.OpenOptions)
	if l.refusals.Record(err) != nil {
		l.log.Error("breached-password filter reload failed; keeping the previous one", "path", l.path, "err", err)
		return err
	}
	old := l.cur.Swap(f)
	l.reloads.Add(1)
	info := f.Info()
	l.log.Info("breached-password filter reloaded", "path", l.path, "kind", info.Kind.String(), "entries", info.Entries,
		"snapshot", f.where, "took", time.Since(start).Round(time.Millisecond))
	time.AfterFunc(retireAfter, func() { old.Close() })
	return nil
}

// Reload rereads the file now (SIGHUP), changed or not: a file that does
// not open or verify keeps the current filter, is logged and counted, and
// is retried by the watch.
func (l *Live) Reload() error {
	err := l.reload()
	if err != nil {
		l.watcher.Failed(l.path)
	}
	return err
}

// ReloadFailing reports whether the last reload failed, none succeeding
// since.
func (l *Live) ReloadFailing() bool { return l.refusals.Failing() }

// Lookup checks a password's SHA-1 against the current filter.
func (l *Live) Lookup(sha1 [20]byte) Match { return l.cur.Load().Lookup(sha1) }

// Info describes the current filter.
func (l *Live) Info() Info { return l.cur.Load().Info() }

// Path is the watched file.
func (l *Live) Path() string { return l.path }

// Reloads reports successful and failed reloads since start.
func (l *Live) Reloads() (ok, failed uint64) { return l.reloads.Load(), l.refusals.Failures() }

// Close stops watching and releases the current filter.
func (l *Live) Close() error {
	err := l.watcher.Close()
	if cerr := l.cur.Load().Close(); err == nil {
		err = cerr
	}
	return err
}
