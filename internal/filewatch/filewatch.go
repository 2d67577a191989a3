package filewatch

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options tune a Watcher. Zero values take the defaults.
type Options struct {
	// Poll is the interval of the fallback stat; default one minute,
	// negative disables polling.
	Poll time.Duration
	// Debounce is how long the directory must stay quiet after an event
	// before the files are checked, so that a file written in several
	// steps is read once, complete. Default 250 ms. Events that never stop
	// (a log written beside a watched file, in its folder or in another
	// watched one) delay the check by four Debounces at most.
	Debounce time.Duration
	// DisableNotify uses polling only.
	DisableNotify bool
	// Content makes a file's content part of its identity: it is read and
	// hashed on every check, so use it for small files only.
	Content bool
	// Filter chooses the files of a watched folder that count, by name;
	// default: those whose name does not start with a dot (temporary files
	// of editors and atomic writers).
	Filter func(name string) bool
	// Subfolders makes the names of a watched folder's folders (not their
	// files; not those whose name starts with a dot) part of its identity,
	// so that a folder added or removed in it is a change of it: the
	// rules' tenants folder, whose overlays are its folders.
	Subfolders bool
	// ReloadReverted loads again a file whose load failed when it is
	// found back to the version last loaded (a bad edit reverted), as a
	// folder always is: for owners whose failure state only a load
	// clears, and whose load is cheap (rule files). Without it, such a
	// file is only no longer failing (see the package comment).
	ReloadReverted bool
	// Reverted, without ReloadReverted, is told of a failing file found
	// back to the version last loaded, which is not loaded again: for an
	// owner that shows whether a file's last load failed (a gauge), which
	// what is on disk then no longer makes true.
	Reverted func(path string)
	// ReportGone calls changed for a loaded path that disappears (a file
	// deleted, a folder unmounted), whose load then fails: its owner
	// counts and shows the failure, since a restart would fail on the
	// path, and the path is retried with the backoff until it is back.
	// Without it a path that disappears is only logged, and its owner's
	// gauges keep saying that all is well until the next restart fails.
	// (A folder of a watched folder, with Subfolders, is that folder's
	// change either way.)
	ReportGone bool
	// RetryMax bounds the delay between two attempts at a version whose
	// load failed; default five minutes.
	RetryMax time.Duration
	Logger   *slog.Logger

	retryMin time.Duration // the first retry's delay; tests shorten it
}

// Watcher calls a function when one of its files changes identity.
type Watcher struct {
	opts    Options
	log     *slog.Logger
	changed func(path string) error
	files   []*file
	dirs    []string // the folders watched for events, sorted
	fsw     *fsnotify.Watcher
	// lost: a folder of dirs has no watch (removed, moved away, missing
	// at New): checked at every Debounce until it is watched again, so
	// that a folder removed and made again is seen at once, not at the
	// next poll. Set by New, then by run's goroutine alone.
	lost bool
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// Failed's paths, until run takes them; told wakes run.
	toldMu sync.Mutex
	told   []string
	wake   chan struct{}
}

type file struct {
	path string // as given, for the callback
	abs  string // cleaned absolute path, to match events
	dirs []string
	last identity // of the version loaded: at New, or the callback's last success

	// A load that failed, none having succeeded since: the version that
	// failed is retried, unchanged, at retryAt, and the path is checked at
	// every Debounce meanwhile. failed does not exist when the path was
	// found gone since: whatever comes back is then tried at once.
	failing  bool
	failed   identity
	failures int // in a row, for that version
	retryAt  time.Time

	// moved: since the path was last checked, an event created, removed
	// or renamed a folder it is in, or the path itself, a folder. A
	// failing path is then tried again at once: a folder moved away and
	// back, or swapped for another by two renames, may read as the same
	// files, and its failure may have been the move's.
	moved bool
	// unsure: loaded while it read as gone (see check).
	unsure bool
}

// New starts watching paths, files or folders. changed is called from the
// watcher's own goroutine, one call at a time, with the path as given,
// whenever a path's identity differs from the one it had when changed last
// succeeded on it (or at New); it returns whether the new version loaded.
// A version that failed is tried again, backing off (see the package
// comment). A path that disappears is not reported, unless
// Options.ReportGone: its reader keeps the version it has until a new one
// appears. Close stops the watcher.
func New(paths []string, changed func(path string) error, opts Options) (*Watcher, error) {
	if opts.Poll == 0 {
		opts.Poll = time.Minute
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 5 * time.Minute
	}
	if opts.retryMin <= 0 {
		opts.retryMin = time.Second
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 250 * time.Millisecond
	}
	if opts.Filter == nil {
		opts.Filter = func(name string) bool { return !strings.HasPrefix(name, ".") }
	}
	w := &Watcher{opts: opts, log: opts.Logger, changed: changed, stop: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1)}
	if w.log == nil {
		w.log = slog.Default()
	}
	dirs := map[string]bool{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("filewatch: %s: %w", p, err)
		}
		f := &file{path: p, abs: abs, dirs: []string{filepath.Dir(abs)}, last: w.statOf(p)}
		if f.last.dir {
			// Events in the folder change its files; events beside it may
			// replace the folder itself.
			f.dirs = append(f.dirs, abs)
		}
		w.files = append(w.files, f)
		for _, d := range f.dirs {
			dirs[d] = true
		}
	}
	w.dirs = slices.Sorted(maps.Keys(dirs))
	if !opts.DisableNotify && len(dirs) > 0 {
		fsw, err := fsnotify.NewWatcher()
		watched := 0
		if err == nil {
			// A folder that cannot be watched (unreadable, or gone since
			// it was listed) is left to polling alone; the others keep
			// their notifications. One such folder (a tenant's rules)
			// once left every folder to polling, and every edit waited
			// for the poll.
			for _, d := range w.dirs {
				if aerr := fsw.Add(d); aerr != nil {
					err = errors.Join(err, fmt.Errorf("%s: %w", d, aerr))
					continue
				}
				watched++
			}
		}
		switch {
		case watched == 0:
			// Not fatal: polling still reloads, only later.
			w.log.Warn("file change notifications unavailable; polling only", "err", err, "poll", opts.Poll)
			if fsw != nil {
				_ = fsw.Close()
			}
		case err != nil:
			w.log.Warn("file change notifications unavailable for some folders; polling those", "err", err, "poll", opts.Poll)
			w.fsw, w.lost = fsw, true
		default:
			w.fsw = fsw
		}
	}
	go w.run()
	return w, nil
}

// Failed tells the watcher that a load of path made outside its callback
// failed (see the package comment): unless it is failing already (it
// keeps its backoff), the path is then failing as if the callback had
// failed on the version there now: checked at every Debounce, tried again
// after the first delay of the backoff, at once if it changes or comes
// back, and, with ReloadReverted, loaded again once back to the version
// loaded. A path not watched (as given to New, or the same absolute path)
// is ignored. Failed does not wait for the watcher: it may be called
// from any goroutine, the callback's included, and after Close.
func (w *Watcher) Failed(path string) {
	w.toldMu.Lock()
	w.told = append(w.told, path)
	w.toldMu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // run has a wake-up pending, and will take this path with it
	}
}

// failedOutside marks failing the paths Failed was told of.
func (w *Watcher) failedOutside() {
	w.toldMu.Lock()
	told := w.told
	w.told = nil
	w.toldMu.Unlock()
	for _, p := range told {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		for _, f := range w.files {
			if f.abs != abs || f.failing {
				continue
			}
			// The version that failed is likely the one there now; one
			// reverted meanwhile is then loaded after the first delay,
			// rather than at once, and a change from now on is tried at
			// once.
			f.failing, f.failed, f.failures = true, w.statOf(f.path), 1
			f.retryAt = time.Now().Add(w.opts.retryMin)
			w.log.Debug("watched file failed to load outside the watch; retrying", "path", f.path, "retry_in", w.opts.retryMin)
		}
	}
}

// Close stops the watcher and waits for a reload in progress to finish.
func (w *Watcher) Close() error {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	if w.fsw != nil {
		return w.fsw.Close()
	}
	return nil
}

func (w *Watcher) run() {
	defer close(w.done)
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	var poll <-chan time.Time
	if w.opts.Poll > 0 {
		t := time.NewTicker(w.opts.Poll)
		defer t.Stop()
		poll = t.C
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	var pending time.Time // the first event since the last check; zero: none
	// While a load fails, its path is checked at every Debounce: what
	// brings it back (a volume mounted again, a folder moved back whose
	// watch fsnotify dropped) may raise no event.
	recheck := time.NewTimer(time.Hour)
	recheck.Stop()
	defer recheck.Stop()
	dirty := map[string]bool{} // directories with events since the last check
	for {
		select {
		case <-w.stop:
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			name := filepath.Clean(ev.Name)
			dirty[filepath.Dir(name)] = true
			if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				w.relocated(name)
			}
			now := time.Now()
			if pending.IsZero() {
				pending = now
			}
			debounce.Reset(max(min(w.opts.Debounce, pending.Add(maxDebounces*w.opts.Debounce).Sub(now)), 0))
			continue
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflow loses events; check everything now.
			w.log.Warn("file change notifications failed; checking all files", "err", err)
			w.check(nil)
		case <-debounce.C:
			pending = time.Time{}
			w.check(dirty)
			clear(dirty)
		case <-recheck.C:
			w.check(map[string]bool{})
		case <-w.wake:
			// Checked at the next Debounce (recheck, below), as a path
			// whose callback failed is.
			w.failedOutside()
		case <-poll:
			w.check(nil)
		}
		if w.lost || slices.ContainsFunc(w.files, func(f *file) bool { return f.failing || f.unsure }) {
			recheck.Reset(w.opts.Debounce)
		} else {
			recheck.Stop()
		}
	}
}

// maxDebounces bounds, in Debounces, how long events that keep coming
// delay a check: without it, a log written every 100 ms in a watched
// folder held every reload back until the next poll (a minute).
const maxDebounces = 4

// relocated marks the files that an event creating, removing or renaming
// name may have moved: name is a folder they are in, or the file itself
// when it is a watched folder. (A file replaced by a rename changes
// identity: it needs no mark.)
func (w *Watcher) relocated(name string) {
	for _, f := range w.files {
		if (name == f.abs && len(f.dirs) > 1) || strings.HasPrefix(f.abs, name+string(filepath.Separator)) {
			f.moved = true
		}
	}
}

// rearm watches again the folders that have no watch, once they exist:
// fsnotify drops the watch of a folder moved, removed or unmounted (a
// tenants folder moved away and back, a volume remounted), and one
// missing at New was never watched; without this their changes would
// wait for the poll. It returns the folders it watched again, whose
// events were missed.
func (w *Watcher) rearm() []string {
	if w.fsw == nil {
		return nil
	}
	watched := map[string]bool{}
	for _, d := range w.fsw.WatchList() {
		watched[d] = true
	}
	var armed []string
	w.lost = false
	for _, d := range w.dirs {
		if watched[d] {
			continue
		}
		if err := w.fsw.Add(d); err != nil {
			w.lost = true // not there (yet), or not watchable: tried again at the next check
			continue
		}
		w.log.Debug("watching a folder again", "path", d)
		armed = append(armed, d)
	}
	return armed
}

// check compares files with their last identity and reports the changed
// ones: all of them when dirty is nil, else those in the dirty
// directories, those an event may have moved, and those whose load is
// failing.
func (w *Watcher) check(dirty map[string]bool) {
	for _, d := range w.rearm() {
		if dirty != nil {
			dirty[d] = true
		}
	}
	for _, f := range w.files {
		if dirty != nil && !f.failing && !f.moved && !f.unsure && !slices.ContainsFunc(f.dirs, func(d string) bool { return dirty[d] }) {
			continue
		}
		select {
		case <-w.stop:
			return
		default:
		}
		moved := f.moved
		f.moved, f.unsure = false, false
		cur := w.statOf(f.path)
		if !cur.exists && !w.reportsGone(f) {
			w.gone(f, cur)
			continue
		}
		if cur.same(f.last) && !(f.failing && (cur.dir || w.opts.ReloadReverted || f.failed.same(f.last))) {
			// Back to the loaded version: nothing to retry. Not so for a
			// folder whose load failed: its identity is its files', not
			// whether it was there or mounted when its load failed, and
			// only a load clears its owner's failure; nor for a file
			// whose owner asked for it (ReloadReverted), whose failure
			// state only a load clears too; nor for a file whose load
			// failed on the version loaded itself (told by Failed: a
			// SIGHUP that found it unreadable, or its snapshot folder
			// gone), which is no revert: it is retried.
			if f.failing {
				// Its owner logged the failure: say it is over.
				w.log.Info("watched file back to the version loaded; no longer retrying it", "path", f.path)
				if w.opts.Reverted != nil {
					w.opts.Reverted(f.path)
				}
			}
			f.failing = false
			continue
		}
		again := f.failing && cur.same(f.failed) && !moved
		if again && time.Now().Before(f.retryAt) {
			continue
		}
		err := w.changed(f.path)
		if err == nil {
			// Loaded, though it read as gone: it came back meanwhile, as
			// a version unknown (it may be rewritten again since).
			// Checked at the next Debounce, and loaded again if there.
			f.last, f.failing, f.failures, f.unsure = cur, false, 0, !cur.exists
			continue
		}
		// Not loaded: keep the loaded version's identity, so that this
		// one is tried again even if nothing about the file changes.
		if !again {
			f.failures = 0
		}
		f.failing, f.failed = true, cur
		f.failures++
		delay := w.opts.RetryMax
		if f.failures < 32 {
			delay = min(w.opts.retryMin<<(f.failures-1), w.opts.RetryMax)
		}
		f.retryAt = time.Now().Add(delay)
		w.log.Debug("watched file did not load; retrying", "path", f.path, "failures", f.failures, "retry_in", delay, "err", err)
		if after := w.statOf(f.path); !after.exists {
			// Gone while it was loaded (a folder moved away or unmounted
			// under the read), which is likely why it failed: whatever
			// comes back is tried at once, not after the backoff.
			if w.reportsGone(f) {
				f.failed = after // and retried while gone
			} else {
				w.gone(f, after)
			}
		}
	}
}

// reportsGone reports whether f, found gone, is reported to its owner
// (Options.ReportGone): a path that was there when last loaded, or whose
// load is failing, and not a folder of a watched folder.
func (w *Watcher) reportsGone(f *file) bool {
	// A failing path gone from the start (a watch started again over a
	// file its owner found deleted and told Failed of) is retried too.
	return w.opts.ReportGone && (f.last.exists || f.failing) && !w.inWatchedFolder(f)
}

// inWatchedFolder: f is a folder of a watched folder, with Subfolders,
// whose coming and going is that folder's change.
func (w *Watcher) inWatchedFolder(f *file) bool {
	return w.opts.Subfolders && len(f.dirs) > 1 && w.watchedFolder(filepath.Dir(f.abs))
}

// gone records f found gone (cur). Its reader keeps the version it has;
// a failing one stays failing, checked at every Debounce, and is tried
// at once when it is back.
func (w *Watcher) gone(f *file, cur identity) {
	if f.failing {
		f.failed = cur
	}
	if !f.last.exists {
		return // known gone, or never there
	}
	f.last = cur
	if w.inWatchedFolder(f) {
		// A folder of a watched folder: its removal is that folder's
		// change, which its callback was told of.
		w.log.Debug("watched folder removed from a watched folder", "path", f.path)
		return
	}
	w.log.Warn("watched file disappeared; keeping the loaded version", "path", f.path)
}
