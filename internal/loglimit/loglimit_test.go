package loglimit

import (
	"fmt"
	"testing"
	"time"
)

// TestAllow: one line of a kind an interval, the next one told how many
// were left out; kinds apart; the kinds remembered bounded.
func TestAllow(t *testing.T) {
	l := New(10 * time.Second)
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		kind       string
		at         time.Duration
		suppressed int
		ok         bool
	}{
		{"a", 0, 0, true},
		{"a", time.Second, 0, false},
		{"b", time.Second, 0, true},
		{"a", 9 * time.Second, 0, false},
		{"a", 10 * time.Second, 2, true},
		{"a", 21 * time.Second, 0, true},
		{"b", 21 * time.Second, 0, true},
	}
	for i, s := range steps {
		n, ok := l.Allow(s.kind, t0.Add(s.at))
		if n != s.suppressed || ok != s.ok {
			t.Errorf("step %d (%s at %v): %d, %v; want %d, %v", i, s.kind, s.at, n, ok, s.suppressed, s.ok)
		}
	}
	for i := range 2 * maxKinds {
		l.Allow(fmt.Sprint("kind ", i), t0)
	}
	if n := len(l.last); n > maxKinds {
		t.Errorf("%d kinds remembered, at most %d", n, maxKinds)
	}
}
