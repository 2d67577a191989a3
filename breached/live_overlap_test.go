package breached

import (
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/filetest"
)

// TestLiveReloadsDoNotOverlap: a SIGHUP's reload (Reload) that read the
// old filter, and is slow to verify it, while the file is replaced and
// the watch loads the new one, does not swap the old filter in last. The
// two loads ran side by side and the last to finish won: the node
// checked passwords against the filter the file no longer held, its
// reload logged and counted as a success, and the watch, having loaded
// the file as it stands, never read it again (a filter of gigabytes
// takes tens of seconds to copy and verify, a wide window for a
// logrotate SIGHUP meeting a rebuild).
func TestLiveReloadsDoNotOverlap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "breached.rgbf")
	buildPlain(t, path, "hunter2")
	var hold atomic.Bool
	read, release := make(chan struct{}), make(chan struct{})
	open := func(path string, opt OpenOptions) (*Filter, error) {
		f, err := Open(path, opt)
		if hold.CompareAndSwap(true, false) {
			close(read) // the old filter is read; its verification "takes long"
			<-release
		}
		return f, err
	}
	l, err := OpenLive(path, LiveOptions{Logger: slog.New(slog.DiscardHandler), Poll: -1, Debounce: 10 * time.Millisecond, open: open})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	hold.Store(true)
	sighup := make(chan error)
	go func() { sighup <- l.Reload() }()
	filetest.Await(t, read, "the SIGHUP's open")
	buildPlain(t, path, "Winter2026!")
	// Unserialised, the watch loads the new filter now; serialised, it
	// waits for the SIGHUP's load. Either way, give it a moment.
	deadline := time.Now().Add(2 * time.Second)
	for !l.Lookup(sha("Winter2026!")).Found && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if err := <-sighup; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new filter in use", func() bool {
		return l.Lookup(sha("Winter2026!")).Found && !l.Lookup(sha("hunter2")).Found
	})
}

// TestLiveWatchSkipsVersionLoaded: a SIGHUP that loads a version of the
// file the watch has not handled yet (here the file is replaced while the
// SIGHUP's reload waits to open it, and the watch's reload queues behind
// it) is not read a second time by the watch: same file, size and time
// as the filter in use. The watch read and verified it again (seconds
// for a large filter), and logged and counted a second reload.
func TestLiveWatchSkipsVersionLoaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "breached.rgbf")
	buildPlain(t, path, "hunter2")
	var opens atomic.Int32
	var hold atomic.Bool
	opening, release := make(chan struct{}), make(chan struct{})
	open := func(path string, opt OpenOptions) (*Filter, error) {
		opens.Add(1)
		if hold.CompareAndSwap(true, false) {
			close(opening) // the SIGHUP holds the reload lock
			<-release
		}
		return Open(path, opt)
	}
	watch := filetest.NewWatch()
	l, err := OpenLive(path, LiveOptions{Logger: slog.New(slog.DiscardHandler), Poll: -1, Debounce: 10 * time.Millisecond, open: open, watching: watch.Hook})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	hold.Store(true)
	sighup := make(chan error)
	go func() { sighup <- l.Reload() }()
	filetest.Await(t, opening, "the SIGHUP's open")
	buildPlain(t, path, "Winter2026!")
	watch.Started(t)
	close(release) // the SIGHUP opens the new file, then the watch's reload runs
	if err := <-sighup; err != nil {
		t.Fatal(err)
	}
	watch.Ended(t)
	if !l.Lookup(sha("Winter2026!")).Found || l.Lookup(sha("hunter2")).Found {
		t.Fatal("the new filter is not in use")
	}
	if ok, failed := l.Reloads(); opens.Load() != 2 || ok != 1 || failed != 0 {
		t.Errorf("%d opens, %d reloads, %d failed: want 2 (start, SIGHUP), 1 and 0", opens.Load(), ok, failed)
	}
}
