package server

import (
	"bytes"
	"log"
	"log/slog"
	"time"

	"github.com/riskgate/riskgate/internal/loglimit"
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
	return newErrorLogOver(&errorLogWriter{log: l, limit: loglimit.New(errorLogEvery)})
}

// newErrorLogOver is a log.Logger writing through w, a line a Write.
func newErrorLogOver(w *errorLogWriter) *log.Logger { return log.New(w, "", 0) }

type errorLogWriter struct {
	log   *slog.Logger
	limit *loglimit.Limiter
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
	suppressed, ok := w.limit.Allow(errorLineKind(line), time.Now())
	switch {
	case !ok:
	case suppressed > 0:
		w.log.Warn(string(line), "suppressed", suppressed)
	default:
		w.log.Warn(string(line))
	}
	return len(p), nil
}
