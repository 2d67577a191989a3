//go:build unix

package iplist

import (
	"net/netip"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/riskgate/riskgate/internal/fifotest"
)

// TestFIFORefused: a FIFO as a list, Tor or ASN file is refused at once,
// naming it, at start and on reload, which keeps the loaded list.
func TestFIFORefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.txt")
	fifotest.Make(t, fifo)
	for _, opts := range []Options{{Lists: map[string]string{"deny": fifo}}, {TorExits: fifo}, {HostingASNs: fifo}} {
		opts.Logger = discard
		fifotest.Refused(t, "New", fifo, func() error { _, err := New(opts); return err })
	}

	deny := writeFile(t, dir, "deny.txt", "192.0.2.0/24\n")
	e := newLists(t, Options{Lists: map[string]string{"deny": deny}})
	if err := syscall.Rename(fifo, deny); err != nil {
		t.Fatal(err)
	}
	fifotest.Refused(t, "Reload", deny, e.Reload)
	if lists, _ := e.Lookup(netip.MustParseAddr("192.0.2.1")); len(lists) != 1 {
		t.Errorf("the loaded list was lost: %v", lists)
	}
}
