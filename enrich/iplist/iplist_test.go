package iplist

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/filetest"
	"github.com/riskgate/riskgate/internal/syncbuf"
)

var discard = slog.New(slog.DiscardHandler)

func writeFile(t testing.TB, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func newLists(t testing.TB, opts Options) *Enricher {
	t.Helper()
	opts.Logger = discard
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func TestLists(t *testing.T) {
	dir := t.TempDir()
	e := newLists(t, Options{
		Lists: map[string]string{
			"corp_vpn": writeFile(t, dir, "corp.txt", "# corporate VPN egress\n203.0.113.0/24\n2001:db8:1::/48\n\n"),
			"deny":     writeFile(t, dir, "deny.txt", "198.51.100.0/24\n203.0.113.128/25 # the bad half\n"),
			"office":   writeFile(t, dir, "office.txt", "203.0.113.200\n"),
			"world":    writeFile(t, dir, "world.txt", "0.0.0.0/0\n"),
		},
		TorExits: writeFile(t, dir, "tor.txt", "185.220.101.3\n2001:db8:dead::1\n"),
	})
	tests := []struct {
		ip    string
		lists []string
		tor   bool
	}{
		{"203.0.113.5", []string{"corp_vpn", "world"}, false},
		{"203.0.113.130", []string{"corp_vpn", "deny", "world"}, false},           // nested in two lists
		{"203.0.113.200", []string{"corp_vpn", "deny", "office", "world"}, false}, // three levels
		{"198.51.100.1", []string{"deny", "world"}, false},
		{"8.8.8.8", []string{"world"}, false},
		{"185.220.101.3", []string{"world"}, true},
		{"::ffff:185.220.101.3", []string{"world"}, true},
		{"2001:db8:1:2::3", []string{"corp_vpn"}, false},
		{"2001:db8:dead::1", nil, true},
		{"2001:db8:2::1", nil, false},
	}
	for _, tt := range tests {
		lists, tor := e.Lookup(netip.MustParseAddr(tt.ip))
		if !slices.Equal(lists, tt.lists) || tor != tt.tor {
			t.Errorf("%s: lists %v tor %v, want %v %v", tt.ip, lists, tor, tt.lists, tt.tor)
		}
		var en engine.Enrichment
		if err := e.Enrich(netip.MustParseAddr(tt.ip), &en); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(en.Network.Lists, tt.lists) || en.Network.Tor != tt.tor || !en.Network.AnonymousKnown {
			t.Errorf("%s: enrichment %+v", tt.ip, en.Network)
		}
	}
	// Addresses with the same lists share one slice.
	a, _ := e.Lookup(netip.MustParseAddr("203.0.113.5"))
	b, _ := e.Lookup(netip.MustParseAddr("203.0.113.77"))
	if &a[0] != &b[0] {
		t.Error("list names are not shared")
	}
	if st := e.Stats(); st.Prefixes != 8 {
		t.Errorf("stats %+v", st)
	}
	if got := e.Names(); !slices.Equal(got, []string{"corp_vpn", "deny", "office", "world"}) {
		t.Errorf("names %v", got)
	}
}

func TestHostingASNs(t *testing.T) {
	dir := t.TempDir()
	e := newLists(t, Options{HostingASNs: writeFile(t, dir, "asns.txt", "AS64500 # our test cloud\n64501\n")})
	for asn, want := range map[uint32]bool{16509: true, 14061: true, 24940: true, 64500: true, 64501: true, 3215: false, 0: false} {
		var en engine.Enrichment
		en.Network.ASN = asn
		_ = e.Enrich(netip.MustParseAddr("192.0.2.1"), &en)
		if en.Network.HostingASN != want || e.HostingASN(asn) != want {
			t.Errorf("AS%d: hosting %v, want %v", asn, en.Network.HostingASN, want)
		}
		if en.Network.AnonymousKnown {
			t.Error("no Tor list, yet anonymity is known")
		}
	}
	only := newLists(t, Options{HostingASNs: writeFile(t, dir, "asns.txt", "64500\n"), NoBuiltinHostingASNs: true})
	if only.HostingASN(16509) || !only.HostingASN(64500) {
		t.Error("NoBuiltinHostingASNs")
	}
	seen := map[uint32]bool{}
	for _, n := range BuiltinHostingASNs() {
		if n == 0 || seen[n] {
			t.Errorf("built-in hosting ASN %d zero or repeated", n)
		}
		seen[n] = true
	}
}

// TestBadLineQuotedShort: a bad line is quoted in the error up to a cap
// with its length, and a binary file (here 300 bytes of a compressed
// stream before the first '\n') is said to look binary, file:line kept,
// whichever list it is given as: each such error once quoted every byte,
// escaped, about 1,000 characters of them.
func TestBadLineQuotedShort(t *testing.T) {
	dir := t.TempDir()
	bin := make([]byte, 300)
	for i := range bin {
		bin[i] = byte(0x80 + i*37%128) // no '\n', no text
	}
	bin[7] = 0
	binary := writeFile(t, dir, "deny.txt.gz", "\x1f\x8b"+string(bin)+"\n10.0.0.0/8\n")
	longText := writeFile(t, dir, "long.txt", "10.0.0.0/8\n"+strings.Repeat("not-an-address-", 20)+"\n")
	tests := []struct {
		name   string
		opts   Options
		want   []string
		binary bool
	}{
		{"binary list", Options{Lists: map[string]string{"deny": binary}}, []string{binary + ":1: the file looks binary", "…(302 bytes)"}, true},
		{"binary tor list", Options{TorExits: binary}, []string{"iplist: tor list: " + binary + ":1: the file looks binary", "…(302 bytes)"}, true},
		{"binary ASN list", Options{HostingASNs: binary}, []string{binary + ":1: the file looks binary", "not an AS number: ", "…(302 bytes)"}, true},
		{"long text line", Options{Lists: map[string]string{"deny": longText}}, []string{longText + `:2: not an IP address or CIDR prefix: "not-an-address-not-an-address-not-an-address-not-an-address-"…(300 bytes)`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Logger = discard
			_, err := New(tt.opts)
			if err == nil {
				t.Fatal("loaded")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q: want %q", msg, w)
				}
			}
			if strings.Contains(msg, "looks binary") != tt.binary {
				t.Errorf("error %q: says looks binary %v, want %v", msg, !tt.binary, tt.binary)
			}
			// The path, the reason and an excerpt of 60 characters
			// fit in 320; the whole line escaped took 1,000.
			if len(msg) > 320 {
				t.Errorf("error of %d characters: %q", len(msg), msg)
			}
		})
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.txt", "10.0.0.0/8\n\n# fine so far\n10.0.0.300\n")
	long := writeFile(t, dir, "long.txt", "10.0.0.0/8\n"+strings.Repeat("#", 5000)+"\n")
	badASN := writeFile(t, dir, "asns.txt", "16509\nAS-AMAZON\n")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"bad line", Options{Lists: map[string]string{"corp": bad}}, bad + ":4: not an IP address"},
		{"long line", Options{Lists: map[string]string{"corp": long}}, long + ":2: line longer than"},
		{"bad tor line", Options{TorExits: bad}, "iplist: tor list: " + bad + ":4:"},
		{"bad ASN line", Options{HostingASNs: badASN}, badASN + `:2: not an AS number: "AS-AMAZON"`},
		{"missing", Options{Lists: map[string]string{"corp": filepath.Join(dir, "nope")}}, "no such file"},
		{"bad name", Options{Lists: map[string]string{"Corp VPN": bad}}, `list name "Corp VPN"`},
	}
	for _, tt := range tests {
		tt.opts.Logger = discard
		if _, err := New(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	many := map[string]string{}
	for i := range 64 {
		many[fmt.Sprintf("l%d", i)] = bad
	}
	if _, err := New(Options{Lists: many, Logger: discard}); err == nil || !strings.Contains(err.Error(), "at most 63") {
		t.Errorf("64 lists: %v", err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "corp.txt", "10.0.0.0/8\n")
	var mu sync.Mutex
	var events []ReloadEvent
	e := newLists(t, Options{Lists: map[string]string{"corp": path}, Watch: true, Poll: -1, Debounce: 20 * time.Millisecond,
		OnReload: func(ev ReloadEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() }})
	in := func(ip string) bool { l, _ := e.Lookup(netip.MustParseAddr(ip)); return slices.Contains(l, "corp") }
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	replace := func(data string) {
		tmp := writeFile(t, dir, ".corp.tmp", data)
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	replace("172.16.0.0/12\n")
	wait("the new list", func() bool { return in("172.16.1.1") && !in("10.1.1.1") })
	replace("172.16.0.0/12\nnot-an-address\n")
	wait("the failure", func() bool { return e.Stats().ReloadFailures == 1 })
	if !in("172.16.1.1") {
		t.Error("bad replacement lost the loaded list")
	}
	replace("192.168.0.0/16\n")
	wait("recovery", func() bool { return in("192.168.1.1") })
	if st := e.Stats(); st.Reloads != 2 || st.ReloadFailures != 1 || st.Prefixes != 1 {
		t.Errorf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 3 || events[1].Err == nil || events[2].Entries != 1 || events[2].Name != "corp" {
		t.Errorf("events %+v", events)
	}
}

func TestEnrichDoesNotAllocate(t *testing.T) {
	dir := t.TempDir()
	e := newLists(t, Options{Lists: map[string]string{"corp": writeFile(t, dir, "c.txt", "10.0.0.0/8\n2001:db8::/32\n")},
		TorExits: writeFile(t, dir, "t.txt", "192.0.2.1\n")})
	v4, v6 := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::1")
	var en engine.Enrichment
	en.Network.ASN = 16509
	if n := testing.AllocsPerRun(1000, func() { _ = e.Enrich(v4, &en); _ = e.Enrich(v6, &en) }); n != 0 {
		t.Errorf("Enrich allocates %.1f times", n)
	}
}

// TestReloadOneOfNested replaces one of two nested lists: the other keeps
// its prefixes, including one that is also in the replaced list.
func TestReloadOneOfNested(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.txt", "10.0.0.0/8\n10.1.0.0/16\n")
	b := writeFile(t, dir, "b.txt", "10.1.0.0/16\n")
	tor := writeFile(t, dir, "tor.txt", "10.1.2.3\n")
	e := newLists(t, Options{Lists: map[string]string{"a": a, "b": b}, TorExits: tor})
	check := func(ip string, want []string, wantTor bool) {
		t.Helper()
		got, gotTor := e.Lookup(netip.MustParseAddr(ip))
		if !slices.Equal(got, want) || gotTor != wantTor {
			t.Errorf("%s: %v %v, want %v %v", ip, got, gotTor, want, wantTor)
		}
	}
	check("10.1.2.3", []string{"a", "b"}, true)
	check("10.2.0.1", []string{"a"}, false)
	writeFile(t, dir, "a.txt", "192.168.0.0/16\n")
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	check("10.1.2.3", []string{"b"}, true)
	check("10.1.9.9", []string{"b"}, false)
	check("10.2.0.1", nil, false)
	check("192.168.1.1", []string{"a"}, false)
	if st := e.Stats(); st.Prefixes != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestReloadFailureReverted: a list replaced by a bad one, then put back
// as it was (the same file), is no longer reported failing, without being
// read again.
func TestReloadFailureReverted(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "corp.txt", "10.0.0.0/8\n")
	e := newLists(t, Options{Lists: map[string]string{"corp": path}, Watch: true, Poll: -1, Debounce: 20 * time.Millisecond})
	failing := func() bool { return e.Stats().Lists[0].ReloadFailing }
	kept := filepath.Join(dir, ".kept")
	if err := os.Link(path, kept); err != nil {
		t.Fatal(err)
	}
	bad := writeFile(t, dir, ".bad", "not-an-address\n")
	if err := os.Rename(bad, path); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); !failing(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the failed reload")
		}
	}
	if err := os.Rename(kept, path); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); failing(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the file put back to be no longer failing")
		}
	}
	if st := e.Stats(); st.Reloads != 0 || st.ReloadFailures < 1 {
		t.Errorf("stats %+v: the file put back was read again", st)
	}
}

// TestListDeleted: a list deleted under a running node keeps matching as
// loaded, but is a reload that fails (its gauge 0): a restart would fail
// on it. A new list in its place is loaded and clears it.
func TestListDeleted(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "corp.txt", "10.0.0.0/8\n")
	e := newLists(t, Options{Lists: map[string]string{"corp": path}, Watch: true, Poll: -1, Debounce: 20 * time.Millisecond})
	failing := func() bool { return e.Stats().Lists[0].ReloadFailing }
	in := func(ip string) bool { l, _ := e.Lookup(netip.MustParseAddr(ip)); return slices.Contains(l, "corp") }
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); !failing(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the deleted list to be reported failing")
		}
	}
	if !in("10.1.2.3") {
		t.Error("the loaded list lost with its file")
	}
	if err := os.Rename(writeFile(t, dir, ".corp.tmp", "172.16.0.0/12\n"), path); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); failing() || !in("172.16.1.1"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the new list")
		}
	}
}

// TestHostBitsWarned: a prefix with host bits set is read as its network,
// as documented, and the load warns naming the file, the first such line
// and how many: "81.2.69.1/2", a typo for /24, lists a quarter of the IPv4
// space, and nothing said so. A list without one warns of nothing.
func TestHostBitsWarned(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, data string
		want       []string // in the warning; none: no warning
	}{
		{"typo.txt", "# office\n81.2.69.1/2\n10.0.0.0/8\n192.0.2.7/24 # gateway\n", []string{
			"lines=2", `typo.txt:2: 81.2.69.1/2 read as 64.0.0.0/2`}},
		{"clean.txt", "81.2.69.0/24\n192.0.2.7\n2001:db8::/32\n", nil},
	} {
		var logs syncbuf.Buffer
		e, err := New(Options{Lists: map[string]string{"deny": writeFile(t, dir, tc.name, tc.data)}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
		if got, _ := e.Lookup(netip.MustParseAddr("64.1.2.3")); tc.want != nil && !slices.Contains(got, "deny") {
			t.Errorf("%s: 64.1.2.3 not in the list read as 64.0.0.0/2: %v", tc.name, got)
		}
		out := logs.String()
		warned := strings.Contains(out, "prefixes with host bits set")
		switch {
		case tc.want == nil && warned:
			t.Errorf("%s: warned of host bits:\n%s", tc.name, out)
		case tc.want != nil && !warned:
			t.Errorf("%s: no warning:\n%s", tc.name, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the warning lacks %q:\n%s", tc.name, w, out)
			}
		}
	}
}

// TestWatchSkipsVersionLoaded: a version of a list that a SIGHUP read
// before the watch saw it is not read again when the watch does. Here
// the list is a symbolic link into another folder, whose file is
// replaced there: the watch's notifications (for the link's folder) miss
// it, a SIGHUP reads it, and a later event in the link's folder makes the
// watch look. It read the list a second time, and logged and counted a
// second reload.
func TestWatchSkipsVersionLoaded(t *testing.T) {
	dir := t.TempDir()
	real, conf := filepath.Join(dir, "real"), filepath.Join(dir, "conf")
	for _, d := range []string{real, conf} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := writeFile(t, real, "deny.txt", "10.1.0.0/16\n")
	link := filepath.Join(conf, "deny.txt")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	watch := filetest.NewWatch()
	e := newLists(t, Options{Lists: map[string]string{"deny": link}, Watch: true, Poll: -1, Debounce: 10 * time.Millisecond, watching: watch.Hook})
	listed := func(a string) bool { l, _ := e.Lookup(netip.MustParseAddr(a)); return len(l) == 1 }

	tmp := writeFile(t, real, ".deny.txt.tmp", "10.2.0.0/16\n")
	if err := os.Rename(tmp, target); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(); err != nil { // SIGHUP
		t.Fatal(err)
	}
	if !listed("10.2.0.1") || listed("10.1.0.1") || e.Stats().Reloads != 1 {
		t.Fatalf("after SIGHUP: stats %+v", e.Stats())
	}
	writeFile(t, conf, "unrelated.txt", "x\n") // an event where the watch looks
	watch.Started(t)
	watch.Ended(t)
	if st := e.Stats(); st.Reloads != 1 || st.ReloadFailures != 0 {
		t.Errorf("stats %+v: want the SIGHUP's reload alone", st)
	}
}
