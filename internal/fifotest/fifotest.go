//go:build unix

// Package fifotest makes named pipes (FIFOs) for the tests of code that
// must refuse one at a data or rule path rather than block opening it: a
// FIFO opened the plain way blocks until a writer comes, for ever.
package fifotest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bound is how long Returns waits before it takes a call as blocked.
const Bound = 10 * time.Second

// Make makes a FIFO at path through a hidden name renamed over it (as
// `mkfifo .f && mv .f city.mmdb` would, replacing a file there), or skips
// the test where the system cannot make one.
func Make(t testing.TB, path string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".fifotest")
	if err := syscall.Mkfifo(tmp, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Returns fails the test, instead of hanging it, when f has not returned
// within Bound.
func Returns(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(Bound):
		t.Fatalf("%s blocked (on a FIFO?)", what)
	}
}

// Refused runs open, which must return within Bound with an error that
// says "not a regular file" and names path.
func Refused(t testing.TB, what, path string, open func() error) {
	t.Helper()
	var err error
	Returns(t, what, func() { err = open() })
	if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), path) {
		t.Errorf("%s: %v, want not a regular file naming %s", what, err, path)
	}
}
