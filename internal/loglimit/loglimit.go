// Package loglimit keeps the log lines that others can cause at will (a
// library's complaints about connections: a client's failed TLS
// handshake, a Redis pool that cannot dial under load) from flooding the
// log: each kind of line is let through at most once per interval, and
// the next one says how many were left out meanwhile.
package loglimit

import (
	"sync"
	"time"
)

// maxKinds bounds the kinds remembered: the libraries' kinds are few, but
// a kind is derived from a line, and a line may carry what a client sent.
const maxKinds = 256

// Limiter decides, per kind of line, which lines are logged. It is safe
// for concurrent use.
type Limiter struct {
	every time.Duration

	mu   sync.Mutex
	last map[string]*state
}

type state struct {
	at         time.Time
	suppressed int
}

// New returns a Limiter letting one line of each kind through every
// interval.
func New(every time.Duration) *Limiter {
	return &Limiter{every: every, last: map[string]*state{}}
}

// Allow says whether a line of kind, at now, is logged, and if so how many
// of its kind were left out since the last that was.
func (l *Limiter) Allow(kind string, now time.Time) (suppressed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.last[kind]
	if st == nil {
		if len(l.last) >= maxKinds {
			clear(l.last)
		}
		st = &state{}
		l.last[kind] = st
	}
	if !st.at.IsZero() && now.Sub(st.at) < l.every {
		st.suppressed++
		return 0, false
	}
	suppressed = st.suppressed
	st.at, st.suppressed = now, 0
	return suppressed, true
}

// Age moves the last line of kind logged d into the past, as if that much
// time had gone by: for the tests of the Limiter's users.
func (l *Limiter) Age(kind string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.last[kind]; st != nil {
		st.at = st.at.Add(-d)
	}
}
