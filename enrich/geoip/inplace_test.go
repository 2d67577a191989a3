package geoip

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

// TestSurvivesInPlaceRewrites truncates and rewrites the city and ASN
// databases in place (`: > City.mmdb`, `cp new.mmdb City.mmdb`) while
// uncached lookups run. Before private snapshots the first lookup after
// the truncation died of SIGBUS in maxminddb. The loaded databases must
// keep answering until a valid file is written, which is then picked up.
func TestSurvivesInPlaceRewrites(t *testing.T) {
	p := writeDefault(t)
	next := filepath.Join(t.TempDir(), "next.mmdb")
	lutetia := geoipgen.Paris
	lutetia.City = "Lutetia"
	if err := geoipgen.WriteCity(next, append([]geoipgen.City{lutetia}, geoipgen.London)); err != nil {
		t.Fatal(err)
	}
	nextCity, err := os.ReadFile(next)
	if err != nil {
		t.Fatal(err)
	}
	oldCity, err := os.ReadFile(p.City)
	if err != nil {
		t.Fatal(err)
	}
	oldASN, err := os.ReadFile(p.ASN)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnricher(t, Options{City: []string{p.City}, ASN: []string{p.ASN}, CacheSize: -1, Watch: true, Poll: 50 * time.Millisecond, Debounce: 20 * time.Millisecond})

	addr := geoipgen.Paris.Addr()
	var replaced atomic.Bool // a valid new file is being written: its answer is fine too
	var lookups, wrong atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := e.Lookup(addr)
				city := r.Location.City
				if err != nil || r.ASN != 3215 || city != "Paris" && !(replaced.Load() && city == "Lutetia") {
					wrong.Add(1)
				}
				lookups.Add(1)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	steps := []struct {
		name   string
		mutate func() error
	}{
		{"city truncated", func() error { return os.Truncate(p.City, 0) }},
		{"ASN truncated", func() error { return os.Truncate(p.ASN, 0) }},
		{"city half rewritten", func() error { return os.WriteFile(p.City, oldCity[:len(oldCity)/2], 0o644) }},
		{"ASN overwritten with zeros", func() error { return os.WriteFile(p.ASN, make([]byte, len(oldASN)), 0o644) }},
		{"city replaced by an HTML error page", func() error { return os.WriteFile(p.City, []byte("<html>502</html>"), 0o644) }},
	}
	for i, st := range steps {
		if err := st.mutate(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the refused reload after "+st.name, func() bool { return e.Stats().ReloadFailures >= uint64(i+1) })
		before := lookups.Load()
		eventually(t, "lookups after "+st.name, func() bool { return lookups.Load() > before+50 })
	}
	if n := wrong.Load(); n != 0 {
		t.Fatalf("%d lookups did not answer with the loaded databases while their files were damaged", n)
	}
	// No damaged file was ever loaded. (Counted here, not at the end: the
	// valid file below may load twice. The watcher can see it half written
	// (truncated, not yet filled), call for a reload that then reads it
	// complete, and later see the complete file as another change.)
	if st := e.Stats(); st.Reloads != 0 || st.LookupErrors != 0 {
		t.Fatalf("stats %+v: a damaged database was loaded, or a lookup failed", st)
	}
	// A valid database copied over the file in place is picked up.
	replaced.Store(true)
	if err := os.WriteFile(p.City, nextCity, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the in-place replacement", func() bool { r, _ := e.Lookup(addr); return r.Location.City == "Lutetia" })
	if st := e.Stats(); st.Reloads < 1 || st.LookupErrors != 0 {
		t.Errorf("stats %+v: want the reload counted, no lookup error", st)
	}
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d wrong answers", n)
	}
	t.Logf("%d lookups during the rewrites", lookups.Load())
}
