package breached

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/internal/filewatch"
)

// Live serves a filter file and reloads it when the file is replaced (a new
// build renamed over it), keeping the old filter if the new file is bad.
// Lookups never wait for a reload.
type Live struct {
	path    string
	log     *slog.Logger
	cur     atomic.Pointer[Filter]
	watcher *filewatch.Watcher

	reloads, failures atomic.Uint64
}

// retireAfter is how long a replaced filter stays mapped: a lookup takes
// nanoseconds, but it must never touch memory that was unmapped under it.
const retireAfter = time.Minute

// OpenLive opens path and watches it for replacement.
func OpenLive(path string, log *slog.Logger) (*Live, error) {
	if log == nil {
		log = slog.Default()
	}
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	l := &Live{path: path, log: log}
	l.cur.Store(f)
	l.watcher, err = filewatch.New([]string{path}, func(string) { l.reload() }, filewatch.Options{Logger: log})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("breached: watch %s: %w", path, err)
	}
	return l, nil
}

func (l *Live) reload() {
	f, err := Open(l.path)
	if err != nil {
		l.failures.Add(1)
		l.log.Error("breached-password filter reload failed; keeping the previous one", "path", l.path, "err", err)
		return
	}
	old := l.cur.Swap(f)
	l.reloads.Add(1)
	info := f.Info()
	l.log.Info("breached-password filter reloaded", "path", l.path, "kind", info.Kind, "entries", info.Entries)
	time.AfterFunc(retireAfter, func() { old.Close() })
}

// Lookup checks a password's SHA-1 against the current filter.
func (l *Live) Lookup(sha1 [20]byte) Match { return l.cur.Load().Lookup(sha1) }

// Info describes the current filter.
func (l *Live) Info() Info { return l.cur.Load().Info() }

// Reloads reports successful and failed reloads since start.
func (l *Live) Reloads() (ok, failed uint64) { return l.reloads.Load(), l.failures.Load() }

// Close stops watching and unmaps the current filter.
func (l *Live) Close() error {
	err := l.watcher.Close()
	if cerr := l.cur.Load().Close(); err == nil {
		err = cerr
	}
	return err
}
