//go:build unix

package geoip

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
)

// mkfifo makes a FIFO at path, through a hidden name renamed over it (as
// `mkfifo .f && mv .f city.mmdb`), or skips the test where it cannot.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".f")
	if err := syscall.Mkfifo(tmp, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// returns fails the test, instead of hanging it, when f blocks.
func returns(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked on the FIFO", what)
	}
}

// TestFIFORefused: a FIFO at a database path is refused at start and on
// reload, at once and naming the file; the loaded database stays, a good
// file later is loaded, and Close returns.
func TestFIFORefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.mmdb")
	mkfifo(t, fifo)
	returns(t, "New", func() {
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
	mkfifo(t, path)
	eventually(t, "the FIFO to be refused", func() bool { return e.Stats().ReloadFailures >= 1 })
	returns(t, "Reload", func() {
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
	returns(t, "Close", e.Close)
}
