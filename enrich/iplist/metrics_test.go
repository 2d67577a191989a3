package iplist

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestListMetrics: each configured file has its entries and the time its
// version in use was read; a reload moves that file's time and count
// alone, and a refused reload moves neither.
func TestListMetrics(t *testing.T) {
	dir := t.TempDir()
	corp := writeFile(t, dir, "corp.txt", "10.0.0.0/8\n192.0.2.0/24\n")
	tor := writeFile(t, dir, "tor.txt", "# exits\n198.51.100.1\n198.51.100.2\n198.51.100.3\n")
	asns := writeFile(t, dir, "asns.txt", "AS64500\n")
	start := time.Now()
	e := newLists(t, Options{Lists: map[string]string{"corp": corp}, TorExits: tor, HostingASNs: asns})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collector())

	type series struct {
		entries float64
		loaded  time.Time
	}
	scrape := func() map[string]series {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]series{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				key := label(m, "list") + " " + label(m, "path")
				s := got[key]
				switch mf.GetName() {
				case "riskgate_iplist_entries":
					s.entries = m.GetGauge().GetValue()
				case "riskgate_iplist_last_load_timestamp_seconds":
					s.loaded = time.Unix(0, int64(m.GetGauge().GetValue()*1e9))
				default:
					continue
				}
				got[key] = s
			}
		}
		return got
	}
	first := scrape()
	wantEntries := map[string]float64{"corp " + corp: 2, "tor " + tor: 3, "hosting-asns " + asns: 1}
	if len(first) != len(wantEntries) {
		t.Fatalf("series %v, want one a file of %v", first, wantEntries)
	}
	for k, n := range wantEntries {
		s := first[k]
		if s.entries != n {
			t.Errorf("%s: %v entries, want %v", k, s.entries, n)
		}
		// The gauge has microseconds at best (a float64 of seconds).
		if s.loaded.Before(start.Add(-time.Millisecond)) || s.loaded.After(time.Now()) {
			t.Errorf("%s: loaded at %v, not between %v and now", k, s.loaded, start)
		}
	}

	writeFile(t, dir, "tor.txt", "198.51.100.9\n")
	reloaded := time.Now()
	if err := e.reload(tor); err != nil {
		t.Fatal(err)
	}
	second := scrape()
	if s := second["tor "+tor]; s.entries != 1 || s.loaded.Before(reloaded.Add(-time.Millisecond)) {
		t.Errorf("tor after its reload: %+v, want 1 entry read after %v", s, reloaded)
	}
	if s := second["corp "+corp]; s != first["corp "+corp] {
		t.Errorf("corp moved with tor's reload: %+v, was %+v", s, first["corp "+corp])
	}

	writeFile(t, dir, "tor.txt", "198.51.100.9\nnot an address\n")
	if err := e.reload(tor); err == nil {
		t.Fatal("a bad tor list reloaded")
	}
	if s := scrape()["tor "+tor]; s != second["tor "+tor] {
		t.Errorf("a refused reload moved tor's series: %+v, was %+v", s, second["tor "+tor])
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
