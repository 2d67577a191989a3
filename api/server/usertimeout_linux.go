package server

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// setUserTimeout sets TCP_USER_TIMEOUT on c, a connection the gRPC
// listener accepted, as grpc-go does on one it is handed as a
// *net.TCPConn (its keepalive Timeout): data unacknowledged for d drops
// the connection, rather than ~15 minutes of retransmissions to a peer
// gone. The listener's connection limit wraps the connection (limitConn),
// and grpc-go, finding no *net.TCPConn, set nothing.
func setUserTimeout(c net.Conn, d time.Duration) {
	tc, ok := c.(*net.TCPConn)
	if !ok || d <= 0 {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d/time.Millisecond))
	})
}
