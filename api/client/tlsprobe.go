package client

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tlsHint is what a plain-text call to a server that speaks TLS says,
// rather than gRPC's "error reading server preface: EOF".
const tlsHint = "the server speaks TLS; set Options.TLS"

// Bounds of a probe: how long its handshake may take, and how often a
// failing client probes again (an operator may turn TLS on later).
const (
	probeTimeout = 2 * time.Second
	probeEvery   = 30 * time.Second
)

// tlsProbe finds out, when a plain-text connection failed as one to a TLS
// server does (closed before the server's preface), whether the server
// speaks TLS. Only a failing call probes; the answer is shared.
type tlsProbe struct {
	addr string
	tls  atomic.Bool

	mu   sync.Mutex
	last time.Time
	done chan struct{} // closed when the last probe ended
}

// newTLSProbe returns a probe of the target's address, or nil when the
// target names none that can be dialled as it is (a resolver other than
// dns or passthrough, a host without a port).
func newTLSProbe(target string) *tlsProbe {
	if i := strings.Index(target, "://"); i >= 0 {
		if s := target[:i]; s != "dns" && s != "passthrough" {
			return nil
		}
		rest := target[i+3:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return nil
		}
		target = rest[j+1:]
	}
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil
	}
	return &tlsProbe{addr: target}
}

// speaksTLS reports whether the server speaks TLS, waiting for a probe
// within ctx: a probe that ends after ctx still answers later calls.
func (p *tlsProbe) speaksTLS(ctx context.Context) bool {
	if p == nil {
		return false
	}
	if p.tls.Load() {
		return true
	}
	p.mu.Lock()
	if p.done == nil || time.Since(p.last) >= probeEvery {
		p.last = time.Now()
		done := make(chan struct{})
		p.done = done
		go func() {
			defer close(done)
			if handshakes(p.addr) {
				p.tls.Store(true)
			}
		}()
	}
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return p.tls.Load()
}

// handshakes reports whether a TLS handshake with addr gets a TLS answer.
// Nothing is sent over it: whom it reached does not matter, only that the
// server speaks TLS, so the certificate is not verified.
func handshakes(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}} //nolint:gosec // a protocol probe; no data is sent
	c, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		return true
	}
	var alert tls.AlertError
	return errors.As(err, &alert) // a TLS server refusing this handshake
}

// hintTLS rewrites the error of a plain-text call that a TLS server
// closed before its preface, when the server turns out to speak TLS.
func (t *grpcTransport) hintTLS(ctx context.Context, e *Error) {
	if e.Cause != CauseUnavailable || !strings.Contains(e.Msg, "error reading server preface") {
		return
	}
	if t.probe.speaksTLS(ctx) {
		e.Msg = tlsHint + " (" + e.Msg + ")"
	}
}
