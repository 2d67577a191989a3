package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"
)

// clientConns are a listener's open TLS connections, so that those of
// clients whose certificate no longer chains to the CAs in force can be
// closed once the client CA file is re-read: a CA taken out of the file
// (compromised, retired) would otherwise keep its clients' connections
// for as long as they are kept alive, which an HTTP client that calls
// often makes forever.
type clientConns struct {
	mu    sync.Mutex
	conns map[any]openConn
	// swept is the pool the connections were last checked against.
	swept *x509.CertPool
}

// openConn is one connection: its TLS state once the handshake is done,
// and how to close it.
type openConn struct {
	state func() tls.ConnectionState
	close func() error
}

func (c *clientConns) add(key any, oc openConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conns == nil {
		c.conns = map[any]openConn{}
	}
	c.conns[key] = oc
}

func (c *clientConns) remove(key any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.conns, key)
}

// trackHTTP is the HTTP server's ConnState hook.
func (c *clientConns) trackHTTP(conn net.Conn, state http.ConnState) {
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return
	}
	switch state {
	case http.StateNew:
		// ConnectionState waits for a handshake in progress.
		c.add(tc, openConn{state: tc.ConnectionState, close: tc.Close})
	case http.StateClosed, http.StateHijacked:
		c.remove(tc)
	}
}

// cutUntrusted closes the connections of clients that presented a
// certificate that pool does not verify, unless they were checked against
// pool already, and returns how many it closed. A handshake in progress
// is waited for: it may have begun with the CAs before.
func (c *clientConns) cutUntrusted(pool *x509.CertPool, now time.Time) int {
	c.mu.Lock()
	if c.swept == pool {
		c.mu.Unlock()
		return 0
	}
	c.swept = pool
	open := make([]openConn, 0, len(c.conns))
	for _, oc := range c.conns {
		open = append(open, oc)
	}
	c.mu.Unlock()
	// Each on its own: a handshake is bounded by the listener's timeout,
	// but many at once must not add up.
	var cut atomic.Int64
	var wg sync.WaitGroup
	for _, oc := range open {
		wg.Go(func() {
			if st := oc.state(); len(st.PeerCertificates) > 0 && !verifies(pool, st.VerifiedChains, now) {
				_ = oc.close()
				cut.Add(1)
			}
		})
	}
	wg.Wait()
	return int(cut.Load())
}

// admits reports whether a connection whose handshake just ended may be
// kept: one verified against the CAs before the last sweep (its handshake
// began before the file was re-read) must pass the pool swept with.
func (c *clientConns) admits(st tls.ConnectionState, now time.Time) bool {
	c.mu.Lock()
	pool := c.swept
	c.mu.Unlock()
	return pool == nil || len(st.PeerCertificates) == 0 || verifies(pool, st.VerifiedChains, now)
}

// verifies reports whether one of a connection's verified chains still
// verifies against pool, as crypto/tls checks a resumed session's.
func verifies(pool *x509.CertPool, chains [][]*x509.Certificate, now time.Time) bool {
	for _, chain := range chains {
		if len(chain) == 0 {
			continue
		}
		opts := x509.VerifyOptions{Roots: pool, CurrentTime: now, Intermediates: x509.NewCertPool(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		for _, c := range chain[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := chain[0].Verify(opts); err == nil {
			return true
		}
	}
	return false
}

// trackingCreds are gRPC's TLS credentials with each connection noted in
// conns until it closes.
type trackingCreds struct {
	credentials.TransportCredentials
	conns *clientConns
}

func (t trackingCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := t.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		return conn, info, err
	}
	var st tls.ConnectionState
	if ti, ok := info.(credentials.TLSInfo); ok {
		st = ti.State
	}
	if !t.conns.admits(st, time.Now()) {
		conn.Close()
		return nil, nil, errors.New("server: the client's certificate no longer chains to a CA of the client CA file")
	}
	tc := &trackedConn{Conn: conn}
	tc.onClose = func() { t.conns.remove(tc) }
	t.conns.add(tc, openConn{state: func() tls.ConnectionState { return st }, close: tc.Close})
	if sc, ok := conn.(syscall.Conn); ok {
		// gRPC reads the socket's options through it (channelz).
		return trackedSyscallConn{tc, sc}, info, nil
	}
	return tc, info, nil
}

func (t trackingCreds) Clone() credentials.TransportCredentials {
	return trackingCreds{t.TransportCredentials.Clone(), t.conns}
}

// trackedConn leaves conns when closed, by gRPC or by cutUntrusted.
type trackedConn struct {
	net.Conn
	once    sync.Once
	onClose func()
}

func (c *trackedConn) Close() error {
	c.once.Do(c.onClose)
	return c.Conn.Close()
}

type trackedSyscallConn struct {
	*trackedConn
	sc syscall.Conn
}

func (c trackedSyscallConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }
