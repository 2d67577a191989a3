package geoip

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
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
	version := func(name string) {
		t.Helper()
		c := geoipgen.Paris
		c.City = name
		if err := geoipgen.WriteCity(path, []geoipgen.City{c}); err != nil { // a temporary file renamed
			t.Fatal(err)
		}
	}
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
	select {
	case <-read:
	case <-time.After(time.Minute): // a hang's guard, not a timing
		t.Fatal("Reload did not open the file")
	}
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
