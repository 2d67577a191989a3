//go:build unix

package iplist

import (
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFIFORefused: a FIFO as a list, Tor or ASN file is refused at once,
// naming it, at start and on reload, which keeps the loaded list.
func TestFIFORefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.txt")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	within := func(what, fifo string, f func() error) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- f() }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), fifo) {
				t.Errorf("%s: %v, want not a regular file naming %s", what, err, fifo)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s blocked on the FIFO", what)
		}
	}
	for _, opts := range []Options{{Lists: map[string]string{"deny": fifo}}, {TorExits: fifo}, {HostingASNs: fifo}} {
		opts.Logger = discard
		within("New", fifo, func() error { _, err := New(opts); return err })
	}

	deny := writeFile(t, dir, "deny.txt", "192.0.2.0/24\n")
	e := newLists(t, Options{Lists: map[string]string{"deny": deny}})
	if err := syscall.Rename(fifo, deny); err != nil {
		t.Fatal(err)
	}
	within("Reload", deny, e.Reload)
	if lists, _ := e.Lookup(netip.MustParseAddr("192.0.2.1")); len(lists) != 1 {
		t.Errorf("the loaded list was lost: %v", lists)
	}
}
