package geoip

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
	"github.com/riskgate/riskgate/internal/filetest"
)

// TestReloadsDoNotOverlap: a SIGHUP's reload (Reload) that read the old
// file, and is slow to verify it, while the file is replaced and the
// watch loads the new one, does not swap the old version in last. The
// two loads ran side by side and the last to finish won: the node
// answered from the database the file no longer held, its reload logged
// and counted as a success, and the watch, having loaded the file as it
// stands, never read it again (a logrotate SIGHUP meeting a geoipupdate
// run, with a database of 100 MB that takes seconds to verify).
func TestReloadsDoNotOverlap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	version := func(name string) { t.Helper(); writeParisAs(t, path, name) }
	version("Old")
	var hold atomic.Bool
	read, release := make(chan struct{}), make(chan struct{})
	open := func(path string, role Role, dir string) (*database, error) {
		d, err := openDatabase(path, role, dir)
		if hold.CompareAndSwap(true, false) {
			close(read) // the old version is read; its verification "takes long"
			<-release
		}
		return d, err
	}
	e := newEnricher(t, Options{City: []string{path}, Watch: true, Poll: -1, Debounce: 10 * time.Millisecond, open: open})
	city := func() string { r, _ := e.Lookup(geoipgen.Paris.Addr()); return r.Location.City }

	hold.Store(true)
	sighup := make(chan error)
	go func() { sighup <- e.Reload() }()
	filetest.Await(t, read, "the SIGHUP's open")
	version("New")
	// Unserialised, the watch loads the new version now; serialised, it
	// waits for the SIGHUP's load. Either way, give it a moment.
	deadline := time.Now().Add(2 * time.Second)
	for city() != "New" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if err := <-sighup; err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new version in use", func() bool { return city() == "New" })
}

// TestWatchSkipsVersionLoaded: a SIGHUP that loads a version of the file
// the watch has not handled yet (here the file is replaced while the
// SIGHUP's reload waits to open it, and the watch's reload queues behind
// it) is not read a second time by the watch: same file, size and time
// as the database in use. The watch read and verified it again, emptied
// the cache, and logged and counted a second reload.
func TestWatchSkipsVersionLoaded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	version := func(name string) { t.Helper(); writeParisAs(t, path, name) }
	version("Old")
	var opens atomic.Int32
	var hold atomic.Bool
	opening, release := make(chan struct{}), make(chan struct{})
	open := func(path string, role Role, dir string) (*database, error) {
		opens.Add(1)
		if hold.CompareAndSwap(true, false) {
			close(opening) // the SIGHUP holds the reload lock
			<-release
		}
		return openDatabase(path, role, dir)
	}
	watch := filetest.NewWatch()
	e := newEnricher(t, Options{City: []string{path}, Watch: true, Poll: -1, Debounce: 10 * time.Millisecond, open: open, watching: watch.Hook})
	city := func() string { r, _ := e.Lookup(geoipgen.Paris.Addr()); return r.Location.City }

	hold.Store(true)
	sighup := make(chan error)
	go func() { sighup <- e.Reload() }()
	filetest.Await(t, opening, "the SIGHUP's open")
	version("New")
	watch.Started(t)
	close(release) // the SIGHUP opens the new file, then the watch's reload runs
	if err := <-sighup; err != nil {
		t.Fatal(err)
	}
	watch.Ended(t)
	if city() != "New" {
		t.Fatalf("city %q, want New", city())
	}
	if st := e.Stats(); opens.Load() != 2 || st.Reloads != 1 || st.ReloadFailures != 0 {
		t.Errorf("%d opens, stats %+v: want 2 opens (start, SIGHUP) and 1 reload", opens.Load(), st)
	}
}

// writeParisAs writes a city database at path (a temporary file renamed)
// whose one city, Paris's network, is called name: a version of the file.
func writeParisAs(t *testing.T, path, name string) {
	t.Helper()
	c := geoipgen.Paris
	c.City = name
	if err := geoipgen.WriteCity(path, []geoipgen.City{c}); err != nil {
		t.Fatal(err)
	}
}
