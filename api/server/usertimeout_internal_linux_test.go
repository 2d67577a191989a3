package server

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLimitedGRPCConnectionsKeepTheirUserTimeout: a connection the gRPC
// listener accepts under --max-connections has the TCP_USER_TIMEOUT
// grpc-go gives one it is handed bare; the wrapper that counts it hid it
// from grpc-go, which set none.
func TestLimitedGRPCConnectionsKeepTheirUserTimeout(t *testing.T) {
	for _, tc := range []struct {
		name        string
		userTimeout time.Duration
		want        int // milliseconds
	}{
		{"grpc", grpcUserTimeout, 20000},
		{"http", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := limitConns(inner, tc.name, 4, tc.userTimeout, slog.New(slog.DiscardHandler))
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
			raw, err := c.(*limitConn).Conn.(*net.TCPConn).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var got int
			var gerr error
			if err := raw.Control(func(fd uintptr) {
				got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
			}); err != nil || gerr != nil {
				t.Fatal(err, gerr)
			}
			if got != tc.want {
				t.Errorf("TCP_USER_TIMEOUT %d ms, want %d", got, tc.want)
			}
		})
	}
}
