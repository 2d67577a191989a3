package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/internal/loglimit"
	"github.com/riskgate/riskgate/internal/syncbuf"
	"github.com/riskgate/riskgate/internal/tlstest"
)

// TestServerErrorLogIsRateLimited: net/http's own error lines, one a
// connection that fails before any request (a plain HTTP request to the
// TLS port, a client that closes before its handshake), are logged once
// per kind every errorLogEvery, with the number left out since, so that
// anyone who can open connections cannot flood the log. Each was logged:
// 5,000 connections in 0.3 s wrote 5,000 lines.
func TestServerErrorLogIsRateLimited(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(net.Conn)
		want string
	}{
		{"plain HTTP to the TLS port", func(c net.Conn) {
			_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			_, _ = io.ReadAll(c)
		}, "http: TLS handshake error from 127.0.0.1:"},
		{"closed before the handshake", func(net.Conn) {}, "http: TLS handshake error from 127.0.0.1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncbuf.Buffer
			log := slog.New(slog.NewTextHandler(&out, nil))
			srv := newHTTPServer(http.NotFoundHandler(), &tls.Config{Certificates: []tls.Certificate{tlstest.SelfSigned(t)}}, log)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.ServeTLS(ln, "", "") }()
			const conns = 200
			for range conns {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				tc.send(c)
				_ = c.Close()
			}
			// The server logs after the client closed: wait until the
			// connections are handled, as the count of lines would be
			// without the limit.
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(out.String(), tc.want) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond)
			if err := srv.Close(); err != nil {
				t.Fatal(err)
			}
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if !strings.Contains(lines[0], tc.want) || !strings.Contains(lines[0], "level=WARN") {
				t.Fatalf("first line %q, want a warning with %q", lines[0], tc.want)
			}
			if len(lines) > 1 {
				t.Fatalf("%d connections: %d lines, want one per kind every %v:\n%s", conns, len(lines), errorLogEvery, strings.Join(lines[:min(5, len(lines))], "\n"))
			}
		})
	}
}

// TestErrorLogSaysWhatItLeftOut: once the interval has passed, the next
// line of a kind is logged with the number of lines of that kind left out
// since the last; other kinds are counted apart.
func TestErrorLogSaysWhatItLeftOut(t *testing.T) {
	var out bytes.Buffer
	w := &errorLogWriter{log: slog.New(slog.NewTextHandler(&out, nil)), limit: loglimit.New(time.Hour)}
	l := newErrorLogOver(w)
	for i := range 5 {
		l.Printf("http: TLS handshake error from 192.0.2.%d:4431: EOF", i)
	}
	l.Printf("http: Accept error: too many open files; retrying in 5ms")
	w.limit.Age("http: TLS handshake error from ", 2*time.Hour)
	l.Printf("http: TLS handshake error from 192.0.2.9:4431: EOF")
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		`msg="http: TLS handshake error from 192.0.2.0:4431: EOF"`,
		`msg="http: Accept error: too many open files; retrying in 5ms"`,
		`msg="http: TLS handshake error from 192.0.2.9:4431: EOF" suppressed=4`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), out.String())
	}
	for i := range want {
		if !strings.HasSuffix(got[i], want[i]) {
			t.Errorf("line %d: %s\nwant it to end with %s", i, got[i], want[i])
		}
	}
}
