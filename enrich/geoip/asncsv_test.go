package geoip

import (
	"bytes"
	"compress/gzip"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// asnCSV is the ip-location-db layout: headerless, start, end, AS number,
// organisation quoted when it holds a comma or a quote. The 215.0.0.0 row
// starts inside the one before it, as one row of the real package does.
const asnCSV = `1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."
2.26.200.0,2.26.215.255,201907,"LLC ""SPUTNIK"""
81.2.64.0,81.2.127.255,3215,Orange S.A.
214.95.0.0,215.0.255.255,749,United States Department of Defense (DoD)
215.0.0.0,215.1.3.255,721,DoD Network Information Center
2001:200::,2001:200:1b9:ffff:ffff:ffff:ffff:ffff,2500,WIDE Project
2a01:e00::,2a01:e3f:ffff:ffff:ffff:ffff:ffff:ffff,12322,Free SAS
`

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestASNCSV(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(asnCSV))
	w.Close()
	for _, name := range []string{"asn-ipv4.csv", "asn.data", "asn.csv.gz"} {
		t.Run(name, func(t *testing.T) {
			data := asnCSV
			if strings.HasSuffix(name, ".gz") {
				data = gz.String()
			}
			e := newEnricher(t, Options{ASN: []string{writeFile(t, name, data)}})
			for _, tt := range []struct {
				ip  string
				asn uint32
				org string
			}{
				{"1.0.0.1", 13335, "Cloudflare, Inc."},
				{"1.0.0.255", 13335, "Cloudflare, Inc."},
				{"1.0.1.0", 0, ""},
				{"2.26.210.7", 201907, `LLC "SPUTNIK"`},
				{"81.2.69.160", 3215, "Orange S.A."},
				{"214.200.0.1", 749, "United States Department of Defense (DoD)"},
				{"215.0.3.4", 721, "DoD Network Information Center"}, // the later, more specific row
				{"215.1.3.255", 721, "DoD Network Information Center"},
				{"215.1.4.0", 0, ""},
				{"2001:200:1b9::1", 2500, "WIDE Project"},
				{"2001:200:1ba::1", 0, ""},
				{"2a01:e0a:1:2::3", 12322, "Free SAS"},
				{"::ffff:81.2.69.160", 3215, "Orange S.A."},
				{"0.0.0.1", 0, ""},
			} {
				r, err := e.Lookup(netip.MustParseAddr(tt.ip))
				if err != nil || r.ASN != tt.asn || r.ASOrg != tt.org {
					t.Errorf("%s: AS%d %q (%v), want AS%d %q", tt.ip, r.ASN, r.ASOrg, err, tt.asn, tt.org)
				}
			}
			if dbs := e.Databases(); len(dbs) != 1 || dbs[0].DatabaseType != csvType || dbs[0].Role != RoleASN {
				t.Errorf("databases %+v", dbs)
			}
		})
	}
}

func TestASNCSVRefusesBadRows(t *testing.T) {
	good := "1.0.0.0,1.0.0.255,13335,Cloudflare\n"
	for _, tt := range []struct {
		name, data, want string
	}{
		{"bad start", good + "1.0.1.x,1.0.1.255,1,A\n", `:2: range start "1.0.1.x": not an IP address`},
		{"bad end", good + "1.0.1.0,nope,1,A\n", `:2: range end "nope": not an IP address`},
		{"mixed families", good + "1.0.1.0,2001::1,1,A\n", ":2: range 1.0.1.0 to 2001::1 mixes IPv4 and IPv6"},
		{"reversed", good + "1.0.2.0,1.0.1.0,1,A\n", ":2: range end 1.0.1.0 before its start 1.0.2.0"},
		{"bad AS number", good + "1.0.1.0,1.0.1.255,AS1,A\n", `:2: AS number "AS1"`},
		{"AS number too large", good + "1.0.1.0,1.0.1.255,4294967296,A\n", `:2: AS number "4294967296"`},
		{"too few fields", good + "1.0.1.0,1.0.1.255,1\n", ":2: wrong number of fields"},
		{"unterminated quote", good + "1.0.1.0,1.0.1.255,1,\"A\n", `:2: extraneous or missing " in quoted-field`},
		{"out of order", good + "0.9.0.0,0.9.0.255,1,A\n", ":2: range start 0.9.0.0 before the previous row's"},
		{"empty", "", "file is empty"},
		{"blank lines only", "\n\n", "holds no rows"},
		{"a header", "start,end,asn,org\n" + good, ""}, // not recognised as CSV by content: refused as an MMDB
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "asn.csv", tt.data)
			if tt.want == "" {
				p = writeFile(t, "asn.dat", tt.data)
			}
			_, err := New(Options{ASN: []string{p}})
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name %s and say %q", err, p, tt.want)
			}
		})
	}
	// A CSV is ASN data only.
	if _, err := New(Options{City: []string{writeFile(t, "asn.csv", good)}}); err == nil || !strings.Contains(err.Error(), "it is an ASN CSV file (ip-location-db's); want a city database") {
		t.Errorf("CSV as a city database: %v", err)
	}
}

// TestASNCSVReload replaces the CSV the way npm update does (a new file
// renamed over the old one) and expects the new ranges, then keeps them
// when a broken replacement arrives.
func TestASNCSVReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "asn-ipv4.csv")
	replace := func(data string) {
		t.Helper()
		tmp := filepath.Join(dir, ".tmp")
		if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	replace("81.2.64.0,81.2.127.255,3215,Orange S.A.\n")
	failed := make(chan error, 4)
	e := newEnricher(t, Options{ASN: []string{path}, Watch: true, Poll: -1, Debounce: 20 * time.Millisecond,
		OnReload: func(ev ReloadEvent) {
			if ev.Err != nil {
				failed <- ev.Err
			}
		}})
	asn := func() uint32 { r, _ := e.Lookup(netip.MustParseAddr("81.2.69.160")); return r.ASN }
	if asn() != 3215 {
		t.Fatal("initial file")
	}
	replace("81.2.64.0,81.2.127.255,64500,Example Networks\n")
	eventually(t, "the replaced CSV to be loaded", func() bool { return asn() == 64500 })
	replace("81.2.64.0,81.2.127.255,not-a-number,Broken\n")
	select {
	case err := <-failed:
		if !strings.Contains(err.Error(), "asn-ipv4.csv:1:") {
			t.Errorf("reload error %q does not name the file and line", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the broken replacement was never reported")
	}
	if asn() != 64500 {
		t.Error("a broken replacement replaced the loaded ranges")
	}
}

func FuzzASNCSV(f *testing.F) {
	f.Add([]byte(asnCSV))
	f.Add([]byte("1.0.0.0,1.0.0.255,1,\"a\"\"b\"\n1.0.0.0,1.0.0.9,2,c\n"))
	f.Add([]byte("::,::ffff,0,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := parseASNCSV(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever was accepted is sorted and disjoint, and each range's
		// start and end find it.
		for i, r := range tab.v4 {
			if r.end < r.start || i > 0 && tab.v4[i-1].end >= r.start {
				t.Fatalf("IPv4 ranges not sorted and disjoint at %d: %+v", i, tab.v4)
			}
			for _, v := range []uint32{r.start, r.end} {
				a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
				if asn, _, ok := tab.lookup(a); !ok || asn != r.asn {
					t.Fatalf("lookup %s: AS%d %v, want AS%d", a, asn, ok, r.asn)
				}
			}
		}
		for i, r := range tab.v6 {
			if less6(r.end, r.start) || i > 0 && !less6(tab.v6[i-1].end, r.start) {
				t.Fatalf("IPv6 ranges not sorted and disjoint at %d", i)
			}
		}
	})
}

// TestRealASNCSV loads the real @ip-location-db/asn package when
// RISKGATE_ASN_CSV_DIR names its folder (npm pack @ip-location-db/asn;
// the data is not committed) and reports load time and memory.
func TestRealASNCSV(t *testing.T) {
	dir := os.Getenv("RISKGATE_ASN_CSV_DIR")
	if dir == "" {
		t.Skip("RISKGATE_ASN_CSV_DIR not set")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	e := newEnricher(t, Options{ASN: []string{filepath.Join(dir, "asn-ipv4.csv"), filepath.Join(dir, "asn-ipv6.csv")}})
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("loaded asn-ipv4.csv and asn-ipv6.csv in %s, heap +%.1f MiB", took.Round(time.Millisecond), float64(after.HeapAlloc-before.HeapAlloc)/(1<<20))
	for ip, want := range map[string]uint32{"1.1.1.1": 13335, "8.8.8.8": 15169, "2001:4860:4860::8888": 15169, "2a00:1450:4001:800::200e": 15169} {
		if r, err := e.Lookup(netip.MustParseAddr(ip)); err != nil || r.ASN != want {
			t.Errorf("%s: AS%d (%v), want AS%d", ip, r.ASN, err, want)
		}
	}
	runtime.KeepAlive(e)
}
