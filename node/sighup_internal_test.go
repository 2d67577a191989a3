package node

import (
	"context"
	"crypto/sha1"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/enrich/geoip"
	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
	"github.com/riskgate/riskgate/enrich/iplist"
)

// rewriteUnseen rewrites path in place with data of the same size and
// puts its modification time back: the file watcher, which compares
// inode, size and time, sees no change.
func rewriteUnseen(t *testing.T, path string, data []byte) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != fi.Size() {
		t.Fatalf("%s: the new version has %d bytes, the old %d: the watcher would see it", path, len(data), fi.Size())
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// buildFilter builds a breached-password filter of passwords and returns
// its bytes.
func buildFilter(t *testing.T, passwords string) []byte {
	t.Helper()
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(list, []byte(passwords), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "filter.rgbf")
	if _, err := breached.Build(context.Background(), out, []breached.Input{{Path: list, Format: breached.FormatPlain}}, breached.BuildOptions{FPR: 1e-6}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSIGHUPReloadsDataFiles: a SIGHUP (a value on Serve's reload
// channel) re-reads the GeoIP databases, the IP and Tor lists and the
// breached-password filter, here rewritten in a way the watcher does not
// notice (same inode, size and time; polling off).
func TestSIGHUPReloadsDataFiles(t *testing.T) {
	dir := t.TempDir()
	city := filepath.Join(dir, "city.mmdb")
	if err := geoipgen.WriteCity(city, []geoipgen.City{geoipgen.Paris}); err != nil {
		t.Fatal(err)
	}
	deny, tor := filepath.Join(dir, "deny.txt"), filepath.Join(dir, "tor.txt")
	for _, p := range []string{deny, tor} {
		if err := os.WriteFile(p, []byte("10.1.0.0/16\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	filter := filepath.Join(dir, "pwned.rgbf")
	if err := os.WriteFile(filter, buildFilter(t, "hunter2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{HTTP: HTTPConfig{Addr: "127.0.0.1:0"}}
	cfg.GeoIP = GeoIPConfig{City: []string{city}, IPLists: map[string]string{"deny": deny}, TorExits: tor, Poll: -1}
	cfg.Breached, cfg.NoBuiltinBreached = filter, true
	n, err := New(context.Background(), cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	geo, lists := n.enrichers[0].(*geoip.Enricher), n.enrichers[1].(*iplist.Enricher)
	breach := func(pw string) bool { h := sha1.Sum([]byte(pw)); found, _ := n.breach(&h); return found }
	addr := netip.MustParseAddr("10.2.0.1")

	hup := serveWithSIGHUP(t, n)

	rewriteUnseen(t, deny, []byte("10.2.0.0/16\n"))
	rewriteUnseen(t, tor, []byte("10.2.0.0/16\n"))
	rewriteUnseen(t, filter, buildFilter(t, "letmein\n"))
	time.Sleep(300 * time.Millisecond) // past the watcher's debounce: it looked, and saw nothing
	if l, isTor := lists.Lookup(addr); len(l) != 0 || isTor || !breach("hunter2") {
		t.Fatal("the watcher noticed the rewrite: the test proves nothing")
	}

	hup <- os.Interrupt // any value: what SIGHUP sends
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, isTor := lists.Lookup(addr)
		if len(l) == 1 && isTor && breach("letmein") && !breach("hunter2") && geo.Stats().Reloads == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP: lists %v, tor %v, letmein %v, hunter2 %v, geoip %+v", l, isTor, breach("letmein"), breach("hunter2"), geo.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serveWithSIGHUP serves n until the test ends, and returns the channel
// its SIGHUPs come on (any value: what SIGHUP sends).
func serveWithSIGHUP(t *testing.T, n *Node) chan<- os.Signal {
	t.Helper()
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, hup) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return hup
}

// sighupUntil sends a SIGHUP and waits until done reports true, failing
// with what says otherwise.
func sighupUntil(t *testing.T, hup chan<- os.Signal, done func() bool, what func() string) {
	t.Helper()
	hup <- os.Interrupt
	for deadline := time.Now().Add(30 * time.Second); !done(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP: %s", what())
		}
	}
}
