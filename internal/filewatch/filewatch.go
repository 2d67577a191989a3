// Package filewatch tells when data files are replaced or rewritten, so that
// GeoIP databases and IP lists reload without a restart.
//
// Updaters such as geoipupdate write a temporary file and rename it over the
// old one, so watching the file itself would lose track of it after the
// first update: the watcher watches each file's directory with fsnotify and
// compares the file's identity (inode, size, modification time) on every
// event in that directory. Symbolic-link swaps (Kubernetes ConfigMaps)
// change no event for the file's own name, which is why any event in the
// directory triggers a check. A periodic stat catches what notifications
// miss (network file systems, exhausted inotify watches).
package filewatch

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	// steps is read once, complete. Default 250 ms.
	Debounce time.Duration
	// DisableNotify uses polling only.
	DisableNotify bool
	Logger        *slog.Logger
}

// Watcher calls a function when one of its files changes identity.
type Watcher struct {
	opts    Options
	log     *slog.Logger
	changed func(path string)
	files   []*file
	fsw     *fsnotify.Watcher
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type file struct {
	path string // as given, for the callback
	abs  string // cleaned absolute path, to match events
	dir  string
	last identity
}

// identity is what says "a different file" or "the same file, rewritten".
type identity struct {
	exists bool
	info   os.FileInfo
}

func statOf(path string) identity {
	fi, err := os.Stat(path)
	if err != nil {
		return identity{}
	}
	return identity{exists: true, info: fi}
}

func (a identity) same(b identity) bool {
	if a.exists != b.exists {
		return false
	}
	if !a.exists {
		return true
	}
	return os.SameFile(a.info, b.info) && a.info.Size() == b.info.Size() && a.info.ModTime().Equal(b.info.ModTime())
}

// New starts watching paths. changed is called from the watcher's own
// goroutine, one call at a time, with the path as given, whenever a file's
// identity differs from the one last seen (at New, or at the previous
// call). A file that disappears is not reported: its reader keeps the
// version it has until a new one appears. Close stops the watcher.
func New(paths []string, changed func(path string), opts Options) (*Watcher, error) {
	if opts.Poll == 0 {
		opts.Poll = time.Minute
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 250 * time.Millisecond
	}
	w := &Watcher{opts: opts, log: opts.Logger, changed: changed, stop: make(chan struct{}), done: make(chan struct{})}
	if w.log == nil {
		w.log = slog.Default()
	}
	dirs := map[string]bool{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("filewatch: %s: %w", p, err)
		}
		f := &file{path: p, abs: abs, dir: filepath.Dir(abs), last: statOf(p)}
		w.files = append(w.files, f)
		dirs[f.dir] = true
	}
	if !opts.DisableNotify && len(dirs) > 0 {
		fsw, err := fsnotify.NewWatcher()
		if err == nil {
			for d := range dirs {
				if aerr := fsw.Add(d); aerr != nil {
					err = errors.Join(err, aerr)
				}
			}
		}
		if err != nil {
			// Not fatal: polling still reloads, only later.
			w.log.Warn("file change notifications unavailable; polling only", "err", err, "poll", opts.Poll)
			if fsw != nil {
				_ = fsw.Close()
			}
		} else {
			w.fsw = fsw
		}
	}
	go w.run()
	return w, nil
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
			dirty[filepath.Dir(filepath.Clean(ev.Name))] = true
			debounce.Reset(w.opts.Debounce)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// An overflow loses events; check everything now.
			w.log.Warn("file change notifications failed; checking all files", "err", err)
			w.check(nil)
		case <-debounce.C:
			w.check(dirty)
			clear(dirty)
		case <-poll:
			w.check(nil)
		}
	}
}

// check compares the files in the dirty directories (all files when dirty
// is nil) with their last identity and reports the changed ones.
func (w *Watcher) check(dirty map[string]bool) {
	for _, f := range w.files {
		if dirty != nil && !dirty[f.dir] {
			continue
		}
		select {
		case <-w.stop:
			return
		default:
		}
		cur := statOf(f.path)
		if cur.same(f.last) {
			continue
		}
		f.last = cur
		if !cur.exists {
			w.log.Warn("watched file disappeared; keeping the loaded version", "path", f.path)
			continue
		}
		w.changed(f.path)
	}
}
