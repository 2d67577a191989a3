//go:build unix

package geoip

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
	"github.com/riskgate/riskgate/internal/fifotest"
)

// TestFIFORefused: a FIFO at a database path is refused at start and on
// reload, at once and naming the file; the loaded database stays, a good
// file later is loaded, and Close returns.
func TestFIFORefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.mmdb")
	fifotest.Make(t, fifo)
	fifotest.Returns(t, "New", func() {
		if _, err := New(Options{City: []string{fifo}, Logger: discard}); err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), fifo) {
			t.Errorf("New: %v, want not a regular file naming %s", err, fifo)
		}
	})

	path := filepath.Join(dir, "city.mmdb")
	if err := geoipgen.WriteCity(path, []geoipgen.City{geoipgen.Paris}); err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{City: []string{path}, Watch: true, Poll: 10 * time.Millisecond, Debounce: 10 * time.Millisecond, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	city := func() string { r, _ := e.Lookup(geoipgen.Paris.Addr()); return r.Location.City }
	fifotest.Make(t, path)
	eventually(t, "the FIFO to be refused", func() bool { return e.Stats().ReloadFailures >= 1 })
	fifotest.Returns(t, "Reload", func() {
		if err := e.Reload(); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("Reload: %v", err)
		}
	})
	if city() != "Paris" {
		t.Errorf("after the FIFO: %q, want the loaded Paris", city())
	}
	london := geoipgen.London
	london.Network = geoipgen.Paris.Network
	if err := geoipgen.WriteCity(path, []geoipgen.City{london}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the good file after the FIFO", func() bool { return city() == "London" })
	fifotest.Returns(t, "Close", e.Close)
}
