package iplist

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestEmptyFileOnReload: a reload that would empty a list (a failed
// download, `: > deny.txt`) is refused, keeps the loaded list and counts a
// failure, unless the new file says so with a comment; a list that was
// empty may stay so.
func TestEmptyFileOnReload(t *testing.T) {
	addr := netip.MustParseAddr("192.0.2.1")
	kinds := []struct {
		name  string
		opts  func(path string) Options
		first string
		has   func(e *Enricher) bool
	}{
		{"deny list", func(p string) Options { return Options{Lists: map[string]string{"deny": p}} }, "192.0.2.0/24\n",
			func(e *Enricher) bool { l, _ := e.Lookup(addr); return len(l) == 1 }},
		{"tor exits", func(p string) Options { return Options{TorExits: p} }, "192.0.2.1\n",
			func(e *Enricher) bool { _, tor := e.Lookup(addr); return tor }},
		{"hosting asns", func(p string) Options { return Options{HostingASNs: p, NoBuiltinHostingASNs: true} }, "AS64500\n",
			func(e *Enricher) bool { return e.HostingASN(64500) }},
	}
	for _, k := range kinds {
		for _, tc := range []struct {
			name, first, next string
			refused, has      bool
		}{
			{"empty file", k.first, "", true, true},
			{"blank lines", k.first, "\n  \n\t\n", true, true},
			{"only a comment", k.first, "# emptied on purpose, 2026-05-01\n", false, false},
			{"entries", k.first, k.first, false, true},
			{"empty before, empty now", "# none yet\n", "", false, false},
		} {
			t.Run(k.name+"/"+tc.name, func(t *testing.T) {
				path := writeFile(t, t.TempDir(), "list.txt", tc.first)
				e := newLists(t, k.opts(path))
				writeFile(t, "", path, tc.next)
				err := e.Reload()
				if tc.refused {
					if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), path) {
						t.Fatalf("Reload: %v, want ErrEmpty naming %s", err, path)
					}
					if st := e.Stats(); st.ReloadFailures != 1 || st.Reloads != 0 {
						t.Errorf("stats %+v", st)
					}
				} else if err != nil {
					t.Fatal(err)
				}
				if got := k.has(e); got != tc.has {
					t.Errorf("address listed after the reload: %v, want %v", got, tc.has)
				}
			})
		}
	}
}

// TestEmptyFileAtStart: with no list loaded yet, an empty file loads
// (with a warning): there is nothing to keep, and refusing it would keep
// the server down for a missing Tor download.
func TestEmptyFileAtStart(t *testing.T) {
	path := writeFile(t, t.TempDir(), "tor.txt", "")
	e := newLists(t, Options{TorExits: path})
	if _, tor := e.Lookup(netip.MustParseAddr("192.0.2.1")); tor {
		t.Fatal("an empty Tor list flagged an address")
	}
}
