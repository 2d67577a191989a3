package server

import (
	"context"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestLimitedConnectionsAreHandedOverBare: the connection limit hands its
// server the *net.TCPConn it accepted. Wrapped (as it was, to count the
// connection's close), grpc-go read it through a 32 KiB bufio.Reader held
// for the connection's life instead of its pooled non-blocking reader,
// and set no TCP_USER_TIMEOUT; net/http lost CloseWrite.
func TestLimitedConnectionsAreHandedOverBare(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitConns(inner, "http", 4, slog.New(slog.DiscardHandler))
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*net.TCPConn); !ok {
		t.Fatalf("the limited listener hands over a %T, want *net.TCPConn", c)
	}
}

// TestLimitedGRPCConnectionsKeepTheirUserTimeout: a connection the gRPC
// listener accepts under --max-connections gets the TCP_USER_TIMEOUT
// grpc-go sets on one it is handed bare (its keepalive Timeout, 20 s):
// data unacknowledged that long drops the connection, rather than some
// 15 minutes of retransmissions to a peer gone.
func TestLimitedGRPCConnectionsKeepTheirUserTimeout(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitConns(inner, "grpc", 4, slog.New(slog.DiscardHandler)).(*limitListener)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	defer srv.Stop()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	ln.mu.Lock()
	conns := append([]syscall.RawConn(nil), ln.conns...)
	ln.mu.Unlock()
	if len(conns) != 1 {
		t.Fatalf("the listener counts %d connections, want 1", len(conns))
	}
	var got int
	var gerr error
	if err := conns[0].Control(func(fd uintptr) {
		got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if got != 20000 {
		t.Errorf("TCP_USER_TIMEOUT %d ms, want grpc-go's 20000", got)
	}
}

// TestLimitSeesClosesBySweep: a connection its server closed gives its
// place back, seen by the next accept past the limit, and by the gauge.
func TestLimitSeesClosesBySweep(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitConns(inner, "http", 2, slog.New(slog.DiscardHandler)).(*limitListener)
	defer ln.Close()
	accept := func() (net.Conn, net.Conn) {
		t.Helper()
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return client, c
	}
	_, first := accept()
	accept()
	if got := ln.open(); got != 2 {
		t.Fatalf("open %d, want 2", got)
	}
	// Past the limit: refused, and its client reads the end.
	refusedClient, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer refusedClient.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	refusedClient.SetReadDeadline(time.Now().Add(10 * time.Second)) // a guard against a hang
	if n, err := refusedClient.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("a connection past the limit read %d, %v; want it closed", n, err)
	}
	if got := ln.refused.Load(); got != 1 {
		t.Errorf("refused %d, want 1", got)
	}
	first.Close()
	if got := ln.open(); got != 1 {
		t.Errorf("open %d after the server closed one, want 1", got)
	}
	// The Accept still waiting takes the next connection.
	next, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(10 * time.Second): // a guard against a hang
		t.Fatal("a connection within the limit was not handed over")
	}
}
