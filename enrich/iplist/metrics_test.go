package iplist

import (
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestListMetrics: each configured file has its entries and the
// modification time of the version in use, by kind, so that a list named
// like the Tor list is told apart. A new version moves that file's series
// alone; a reload of every file (SIGHUP) that finds them unchanged moves
// none, or a stopped updater would be hidden by every SIGHUP; a refused
// reload moves nothing but that file's last_reload_success, to 0, until a
// reload succeeds.
func TestListMetrics(t *testing.T) {
	dir := t.TempDir()
	corp := writeFile(t, dir, "corp.txt", "10.0.0.0/8\n192.0.2.0/24\n")
	tor := writeFile(t, dir, "tor.txt", "# exits\n198.51.100.1\n198.51.100.2\n198.51.100.3\n")
	asns := writeFile(t, dir, "asns.txt", "AS64500\n")
	written := map[string]time.Time{
		corp: time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC),
		tor:  time.Date(2026, 12, 1, 10, 0, 0, 250_000_000, time.UTC),
		asns: time.Date(2026, 3, 3, 3, 3, 3, 0, time.UTC),
	}
	touch := func(path string) {
		t.Helper()
		if err := os.Chtimes(path, written[path], written[path]); err != nil {
			t.Fatal(err)
		}
	}
	for p := range written {
		touch(p)
	}
	e := newLists(t, Options{Lists: map[string]string{"corp": corp, "tor": corp}, TorExits: tor, HostingASNs: asns})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collector())

	type series struct {
		entries  float64
		modified time.Time
		success  float64
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
				key := label(m, "kind") + " " + label(m, "list") + " " + label(m, "path")
				s := got[key]
				switch mf.GetName() {
				case "riskgate_iplist_entries":
					s.entries = m.GetGauge().GetValue()
				case "riskgate_iplist_file_modified_timestamp_seconds":
					s.modified = time.Unix(0, int64(m.GetGauge().GetValue()*1e9)).UTC()
				case "riskgate_iplist_last_reload_success":
					s.success = m.GetGauge().GetValue()
				default:
					continue
				}
				got[key] = s
			}
		}
		return got
	}
	// The gauge is a float64 of seconds: microseconds at best.
	near := func(a, b time.Time) bool { d := a.Sub(b); return d < time.Millisecond && d > -time.Millisecond }
	check := func(what string, want map[string]series) map[string]series {
		t.Helper()
		got := scrape()
		if len(got) != len(want) {
			t.Errorf("%s: series %v, want %v", what, got, want)
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || g.entries != w.entries || !near(g.modified, w.modified) || g.success != w.success {
				t.Errorf("%s: %s = %+v, want %+v", what, k, g, w)
			}
		}
		return got
	}
	want := map[string]series{
		"list corp " + corp:                 {2, written[corp], 1},
		"list tor " + corp:                  {2, written[corp], 1},
		"tor tor " + tor:                    {3, written[tor], 1},
		"hosting-asns hosting-asns " + asns: {1, written[asns], 1},
	}
	check("at start", want)

	if err := e.Reload(); err != nil { // SIGHUP: every file read again, none changed
		t.Fatal(err)
	}
	check("after a reload of unchanged files", want)

	writeFile(t, dir, "tor.txt", "198.51.100.9\n")
	written[tor] = time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC)
	touch(tor)
	if err := e.reload(tor); err != nil {
		t.Fatal(err)
	}
	want["tor tor "+tor] = series{1, written[tor], 1}
	check("after a new Tor list", want)

	writeFile(t, dir, "tor.txt", "198.51.100.9\nnot an address\n")
	if err := e.reload(tor); err == nil {
		t.Fatal("a bad tor list reloaded")
	}
	want["tor tor "+tor] = series{1, written[tor], 0}
	check("after a refused reload", want)

	writeFile(t, dir, "tor.txt", "198.51.100.9\n198.51.100.10\n")
	written[tor] = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	touch(tor)
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	want["tor tor "+tor] = series{2, written[tor], 1}
	check("after the list fixed", want)
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
