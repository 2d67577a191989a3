package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
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

// BenchmarkIdleGRPCConnectionMemory reports the heap an idle gRPC
// connection holds, the server's and its client's (both in this
// process), with the connection limit off and on: the limit used to wrap
// each connection, and grpc-go then held a 32 KiB read buffer for it.
//
//	go test ./api/server -run '^$' -bench IdleGRPCConnectionMemory -benchtime 3x
func BenchmarkIdleGRPCConnectionMemory(b *testing.B) {
	const conns = 200
	for _, tc := range []struct {
		name string
		max  int
	}{{"limit=off", -1}, {"limit=on", 4 * conns}} {
		b.Run(tc.name, func(b *testing.B) {
			ts := startServer(b, testOpts{maxConnections: tc.max})
			var perConn float64
			for range b.N {
				before := heapInUse()
				var open []*grpc.ClientConn
				for range conns {
					conn, err := grpc.NewClient(ts.addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
						b.Fatal(err)
					}
					open = append(open, conn)
				}
				perConn += float64(heapInUse()-before) / conns
				for _, c := range open {
					c.Close()
				}
			}
			b.ReportMetric(perConn/float64(b.N), "heap-B/conn")
		})
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}
