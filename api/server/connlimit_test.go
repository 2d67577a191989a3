package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestMaxConnections: each API listener holds at most --max-connections
// connections open; one more is closed as soon as it is accepted (its
// client reads the end at once, rather than wait in the listen queue for
// its connect timeout), counted by listener, while the connections open
// are served as before; once one closes, a new one is served again. The
// metrics listener is not limited: a node's probes and scrapes still
// reach it.
func TestMaxConnections(t *testing.T) {
	const max = 3
	ts := startServer(t, testOpts{maxConnections: max, metricsApart: true})
	serve := map[string]func(t *testing.T){
		"http": func(t *testing.T) {
			resp, err := http.Get(ts.url("/v1/rules:validate"))
			if err != nil {
				t.Fatalf("a new connection once one closed: %v", err)
			}
			resp.Body.Close()
		},
		"grpc": func(t *testing.T) {
			conn := ts.grpcConn(t)
			if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatalf("a new connection once one closed: %v", err)
			}
			conn.Close()
		},
	}
	for _, tc := range []struct{ listener, addr string }{
		{"http", ts.addrs.HTTP},
		{"grpc", ts.addrs.GRPC},
	} {
		t.Run(tc.listener, func(t *testing.T) {
			open := func() float64 { return ts.metricValue(t, "riskgate_connections_open", "listener", tc.listener) }
			var held []net.Conn
			for range max {
				c, err := net.Dial("tcp", tc.addr)
				if err != nil {
					t.Fatal(err)
				}
				held = append(held, c)
				defer c.Close()
			}
			waitFor(t, "the listener to hold its connections", func() bool { return open() == max })
			before := ts.metricValue(t, "riskgate_connections_refused_total", "listener", tc.listener)
			for i := range 3 {
				c, err := net.Dial("tcp", tc.addr)
				if err != nil {
					t.Fatal(err)
				}
				// A guard against a hang, not a timing: the server closes
				// the connection at once, or the read fails here.
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, err := c.Read(make([]byte, 1))
				c.Close()
				if n != 0 || err == nil || !(err == io.EOF || isReset(err)) {
					t.Errorf("connection %d past the limit: read %d bytes, %v; want it closed by the server", max+i+1, n, err)
				}
			}
			if after := ts.metricValue(t, "riskgate_connections_refused_total", "listener", tc.listener); after != before+3 {
				t.Errorf("riskgate_connections_refused_total{listener=%q}: %v → %v, want 3 more", tc.listener, before, after)
			}
			if got := open(); got != max {
				t.Errorf("riskgate_connections_open{listener=%q} %v, want %d", tc.listener, got, max)
			}
			// The metrics listener answers whatever the API listeners hold.
			if resp, err := http.Get("http://" + ts.addrs.Metrics + "/readyz"); err != nil {
				t.Errorf("readiness on the metrics listener: %v", err)
			} else {
				resp.Body.Close()
			}
			held[0].Close()
			waitFor(t, "the listener to let a connection go", func() bool { return open() == max-1 })
			serve[tc.listener](t)
		})
	}
}

// isReset says whether err is the peer's reset of the connection.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
