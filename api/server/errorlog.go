package server

import (
	"bytes"
	"log"
	"log/slog"
	"sync"
	"time"
)

// errorLogEvery is how often, at most, a kind of net/http's own error
// lines is logged.
const errorLogEvery = 10 * time.Second

// newErrorLog is the log of net/http's own errors (http.Server.ErrorLog):
// a failed TLS handshake, a plain HTTP request to the TLS port, a
// connection the client reset. Every one of them is the client's doing and
// unauthenticated, one a connection: a port scanner, a load balancer's TCP
// check or anyone with a loop wrote a line each (5,000 lines in 0.3 s from
// one client), as fast as connections come. Each kind of line is logged
// at most once per errorLogEvery, with the number left out since.
func newErrorLog(l *slog.Logger) *log.Logger {
	return newErrorLogOver(&errorLogWriter{log: l, every: errorLogEvery, last: map[string]*errorLineState{}})
}

// newErrorLogOver is a log.Logger writing through w, a line a Write.
func newErrorLogOver(w *errorLogWriter) *log.Logger { return log.New(w, "", 0) }

type errorLineState struct {
	at         time.Time
	suppressed int
}

type errorLogWriter struct {
	log   *slog.Logger
	every time.Duration

	mu   sync.Mutex
	last map[string]*errorLineState
}

// errorLineKind is what lines of one kind share: the line up to its first
// digit, which is where net/http's lines put what differs between them
// (the client's address, a count, a duration): "http: TLS handshake error
// from ".
func errorLineKind(line []byte) string {
	if i := bytes.IndexAny(line, "0123456789"); i >= 0 {
		line = line[:i]
	}
	return string(line[:min(len(line), 120)])
}

func (w *errorLogWriter) Write(p []byte) (int, error) {
	line := bytes.TrimRight(p, "\n")
	kind, now := errorLineKind(line), time.Now()
	w.mu.Lock()
	st := w.last[kind]
	if st == nil {
		if len(w.last) >= 256 { // net/http's kinds are few; bound them anyway
			clear(w.last)
		}
		st = &errorLineState{}
		w.last[kind] = st
	}
	if !st.at.IsZero() && now.Sub(st.at) < w.every {
		st.suppressed++
		w.mu.Unlock()
		return len(p), nil
	}
	suppressed := st.suppressed
	st.at, st.suppressed = now, 0
	w.mu.Unlock()
	if suppressed > 0 {
		w.log.Warn(string(line), "suppressed", suppressed)
	} else {
		w.log.Warn(string(line))
	}
	return len(p), nil
}
