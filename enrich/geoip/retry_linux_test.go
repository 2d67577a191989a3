package geoip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

// TestFailedReloadRetried: a replacement that fails for a reason cured
// outside the file (here its snapshot folder is missing until it is made
// again; a chmod is another) is loaded at a later poll, though the file's
// inode, size and time never change again.
func TestFailedReloadRetried(t *testing.T) {
	dir := t.TempDir()
	snaps := filepath.Join(dir, "snapshots")
	if err := os.Mkdir(snaps, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "city.mmdb")
	if err := geoipgen.WriteCity(path, []geoipgen.City{geoipgen.Paris}); err != nil {
		t.Fatal(err)
	}
	e := newEnricher(t, Options{City: []string{path}, SnapshotDir: snaps, Watch: true, Poll: 10 * time.Millisecond, Debounce: 10 * time.Millisecond})
	city := func() string { r, _ := e.Lookup(geoipgen.Paris.Addr()); return r.Location.City }

	if err := os.Remove(snaps); err != nil {
		t.Fatal(err)
	}
	london := geoipgen.London
	london.Network = geoipgen.Paris.Network
	if err := geoipgen.WriteCity(path, []geoipgen.City{london}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the failed reload", func() bool { return e.Stats().ReloadFailures >= 1 })
	if city() != "Paris" {
		t.Fatalf("after the failed reload: %q, want the loaded Paris", city())
	}
	if err := e.Reload(); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Reload: %v, want an error naming %s", err, path)
	}
	if err := os.Mkdir(snaps, 0o755); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the retry to load the same file", func() bool { return city() == "London" })
	if st := e.Stats(); st.Reloads != 1 {
		t.Errorf("stats %+v, want 1 reload", st)
	}
}
