package filetest

import (
	"testing"
	"time"
)

// Watch follows a file watch's reloads, for tests that must know one ran
// (a reload that reads nothing leaves no other trace). Hook is what the
// owner (breached.Live, the GeoIP and IP-list enrichers) calls as its
// watch's reload of a file starts (false) and ends (true).
type Watch struct{ started, ended chan struct{} }

// NewWatch returns a Watch whose Hook is ready to be given to an owner.
func NewWatch() *Watch {
	return &Watch{started: make(chan struct{}, 16), ended: make(chan struct{}, 16)}
}

// Hook records a reload starting or ending.
func (w *Watch) Hook(end bool) {
	if end {
		w.ended <- struct{}{}
	} else {
		w.started <- struct{}{}
	}
}

// Started waits for a reload to start.
func (w *Watch) Started(t testing.TB) { t.Helper(); Await(t, w.started, "the watch's reload") }

// Ended waits for a reload to end.
func (w *Watch) Ended(t testing.TB) { t.Helper(); Await(t, w.ended, "the end of the watch's reload") }

// Await waits for a value on ch, failing the test after a minute: a
// hang's guard, not a timing.
func Await[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("%s never happened", what)
	}
}
