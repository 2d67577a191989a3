package geoip

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

// eventually polls cond until it holds or five seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// Generous: it bounds a hang, not a speed (a loaded CI machine runs
	// the watcher late, never wrongly).
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReloadOnRename replaces the city database the way geoipupdate does
// (write a temporary file, rename it over the old one) while lookups run,
// then replaces it with garbage, then with a good file again.
func TestReloadOnRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "GeoLite2-City.mmdb")
	addr := geoipgen.Paris.Addr()
	version := func(city geoipgen.City) {
		t.Helper()
		city.Network = geoipgen.Paris.Network
		if err := geoipgen.WriteCity(path, []geoipgen.City{city}); err != nil { // writes a temp file and renames
			t.Fatal(err)
		}
	}
	version(geoipgen.Paris)
	var mu sync.Mutex
	var events []ReloadEvent
	e := newEnricher(t, Options{City: []string{path}, Watch: true, Poll: -1, Debounce: 20 * time.Millisecond,
		OnReload: func(ev ReloadEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() }})
	city := func() string { r, _ := e.Lookup(addr); return r.Location.City }
	if city() != "Paris" {
		t.Fatal("initial database")
	}

	// Lookups keep running across the swaps: the old mapping must stay
	// valid until the last of them is done (run with -race).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			var en engine.Enrichment
			_ = e.Enrich(addr, &en)
			if !en.Location.Known {
				t.Error("lookup during reload found nothing")
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	version(geoipgen.London)
	eventually(t, "the renamed database to be loaded", func() bool { return city() == "London" })
	if st := e.Stats(); st.Reloads != 1 || st.ReloadFailures != 0 {
		t.Errorf("stats %+v", st)
	}

	// A bad replacement keeps the loaded database, and says so.
	tmp := filepath.Join(dir, ".tmp")
	if err := os.WriteFile(tmp, []byte("<html>503 Service Unavailable</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the failed reload to be counted and told", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return e.Stats().ReloadFailures == 1 && events[len(events)-1].Err != nil
	})
	if city() != "London" {
		t.Errorf("after a bad replacement: %q, want the old London", city())
	}
	if !failing(e, path) {
		t.Error("after a bad replacement: the database not reported failing")
	}
	mu.Lock()
	last := events[len(events)-1]
	mu.Unlock()
	if last.Err == nil || last.Path != path || last.Role != RoleCity {
		t.Errorf("reload event %+v", last)
	}

	version(geoipgen.Tokyo)
	// The event is sent after the swap: wait for it too.
	eventually(t, "recovery after a good replacement", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return city() == "Tokyo" && events[len(events)-1].Err == nil
	})
	mu.Lock()
	defer mu.Unlock()
	if last := events[len(events)-1]; last.Err != nil || last.DatabaseType != geoipgen.TypeCity || last.Built.IsZero() {
		t.Errorf("reload event %+v", last)
	}
	if failing(e, path) {
		t.Error("after a good replacement: still reported failing")
	}
}

// failing reports Database.ReloadFailing of the database at path.
func failing(e *Enricher, path string) bool {
	for _, d := range e.Databases() {
		if d.Path == path {
			return d.ReloadFailing
		}
	}
	return false
}

// TestReloadFailureReverted: a database replaced by garbage, then put
// back as it was (the same file: a bad download rolled back), is no
// longer reported failing, without being loaded again; a failed reload
// on SIGHUP of a file that did not change is retried by the watch.
func TestReloadFailureReverted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "GeoLite2-City.mmdb")
	city := geoipgen.London
	city.Network = geoipgen.Paris.Network
	if err := geoipgen.WriteCity(path, []geoipgen.City{city}); err != nil {
		t.Fatal(err)
	}
	snaps := filepath.Join(t.TempDir(), "snapshots")
	if err := os.Mkdir(snaps, 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnricher(t, Options{City: []string{path}, SnapshotDir: snaps, Watch: true, Poll: -1, Debounce: 20 * time.Millisecond})
	kept := filepath.Join(dir, ".kept")
	if err := os.Link(path, kept); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, ".garbage")
	if err := os.WriteFile(garbage, []byte("<html>503 Service Unavailable</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(garbage, path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the failed reload", func() bool { return failing(e, path) })
	if err := os.Rename(kept, path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the file put back no longer failing", func() bool { return !failing(e, path) })
	if st := e.Stats(); st.Reloads != 0 || st.ReloadFailures < 1 {
		t.Errorf("stats %+v: the file put back was loaded again", st)
	}

	// A SIGHUP that fails on a file the watch has as loaded (its snapshot
	// folder gone for a while), which changes nothing the watch sees: no
	// revert, the watch retries it, the failure stays reported while the
	// retries fail, and the retry once the folder is back clears it.
	if err := os.Remove(snaps); err != nil {
		t.Fatal(err)
	}
	before := e.Stats().ReloadFailures
	if err := e.Reload(); err == nil {
		t.Fatal("a database reloaded without its snapshot folder")
	}
	eventually(t, "a retry of the failed SIGHUP, failing too", func() bool { return e.Stats().ReloadFailures >= before+2 })
	if !failing(e, path) {
		t.Error("the failed SIGHUP no longer reported, the snapshot folder still missing")
	}
	if err := os.Mkdir(snaps, 0o755); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the watch's retry after the failed SIGHUP", func() bool { return !failing(e, path) })
}

// TestReloadWrongType: a replacement of the wrong kind (an ASN file renamed
// over the city database) is refused like a corrupt one.
func TestReloadWrongType(t *testing.T) {
	p := writeDefault(t)
	e := newEnricher(t, Options{City: []string{p.City}})
	if err := os.Rename(p.ASN, p.City); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err == nil {
		t.Fatal("ASN database accepted as the city database")
	}
	if r, _ := e.Lookup(geoipgen.Paris.Addr()); r.Location.City != "Paris" {
		t.Errorf("old database lost: %+v", r)
	}
	if st := e.Stats(); st.ReloadFailures != 1 || st.Reloads != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestDatabaseDeleted: a database deleted under a running node keeps
// answering from the version loaded, but is a reload that fails (its
// gauge 0, its alert after ten minutes): a restart would fail on it.
// Before, every gauge stayed 1 and the first sign was that restart. A new
// database written in its place is loaded and clears it.
func TestDatabaseDeleted(t *testing.T) {
	p := writeDefault(t)
	e := newEnricher(t, Options{City: []string{p.City}, Watch: true, Poll: -1, Debounce: 20 * time.Millisecond})
	if err := os.Remove(p.City); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted database reported failing", func() bool { return failing(e, p.City) })
	if r, _ := e.Lookup(geoipgen.Paris.Addr()); r.Location.City != "Paris" {
		t.Errorf("the loaded database lost with its file: %+v", r)
	}
	if st := e.Stats(); st.ReloadFailures < 1 || st.Reloads != 0 {
		t.Errorf("stats %+v: want the deletion counted as a failed reload", st)
	}
	if err := geoipgen.WriteCity(p.City, []geoipgen.City{geoipgen.London}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new database loaded", func() bool { return !failing(e, p.City) && e.Stats().Reloads == 1 })
}
