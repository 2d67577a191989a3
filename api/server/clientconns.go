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
	// pool is the client CA file's pool in force; initial, the one
	// loaded at start.
	pool    func() *x509.CertPool
	initial *x509.CertPool

	mu    sync.Mutex
	conns map[any]openConn
	// swept is the pool the connections were last checked against
	// (initial until a sweep).
	swept *x509.CertPool
}

func newClientConns(pool func() *x509.CertPool) clientConns {
	p := pool()
	return clientConns{pool: pool, initial: p, swept: p}
}

// openConn is one connection: its TLS state once the handshake is done,
// how to close it, and when it was opened: a sweep checks whom the
// client's certificate chains to then, not whether it has expired since.
type openConn struct {
	state  func() tls.ConnectionState
	close  func() error
	opened time.Time
}

func (c *clientConns) add(key any, oc openConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(key, oc)
}

func (c *clientConns) addLocked(key any, oc openConn) {
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

// trackHTTP is the HTTP server's ConnState hook. A connection is noted
// before its handshake, so that a sweep waits for a handshake begun with
// the CAs before.
func (c *clientConns) trackHTTP(conn net.Conn, state http.ConnState) {
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return
	}
	switch state {
	case http.StateNew:
		c.add(tc, openConn{state: tc.ConnectionState, close: tc.Close, opened: time.Now()})
	case http.StateClosed, http.StateHijacked:
		c.remove(tc)
	}
}

// admit notes a gRPC connection whose handshake just ended, unless its
// client's certificate does not chain to the CAs in force: its handshake
// may have begun with those before a reload, and a sweep may have passed
// meanwhile. The check and the note are one step for a sweep.
func (c *clientConns) admit(key any, oc openConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pool := c.pool(); pool != c.initial {
		if st := oc.state(); len(st.PeerCertificates) > 0 && !verifies(pool, st.VerifiedChains, oc.opened) {
			return false
		}
	}
	c.addLocked(key, oc)
	return true
}

// cutUntrusted closes the connections of clients that presented a
// certificate that the pool in force does not verify, unless they were
// checked against it already, and returns how many it closed. A handshake
// in progress is waited for (it may have begun with the CAs before), each
// on its own: a listener bounds its handshakes' time, but many at once
// must not add up.
func (c *clientConns) cutUntrusted() int {
	c.mu.Lock()
	pool := c.pool()
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
	var cut atomic.Int64
	var wg sync.WaitGroup
	for _, oc := range open {
		wg.Go(func() {
			if st := oc.state(); len(st.PeerCertificates) > 0 && !verifies(pool, st.VerifiedChains, oc.opened) {
				_ = oc.close()
				cut.Add(1)
			}
		})
	}
	wg.Wait()
	return int(cut.Load())
}

// verifies reports whether one of a connection's verified chains
// verifies against pool at time at, as crypto/tls checks a resumed
// session's.
func verifies(pool *x509.CertPool, chains [][]*x509.Certificate, at time.Time) bool {
	for _, chain := range chains {
		if len(chain) == 0 {
			continue
		}
		opts := x509.VerifyOptions{Roots: pool, CurrentTime: at, Intermediates: x509.NewCertPool(),
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
	tc := &trackedConn{Conn: conn}
	tc.onClose = func() { t.conns.remove(tc) }
	if !t.conns.admit(tc, openConn{state: func() tls.ConnectionState { return st }, close: tc.Close, opened: time.Now()}) {
		conn.Close()
		return nil, nil, errors.New("server: the client's certificate no longer chains to a CA of the client CA file")
	}
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
