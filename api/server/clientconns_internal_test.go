package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync/atomic"
	"testing"
	"time"
)

// clientState is the TLS state of a connection whose client presented a
// certificate of a CA of its own, and a pool of that CA.
func clientState(t *testing.T, name string) (tls.ConnectionState, *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{leaf}, VerifiedChains: [][]*x509.Certificate{{leaf, ca}}}, pool
}

// TestClientConnsSweep: a sweep closes the connections whose client's
// chain the new pool does not verify, waits for a handshake in progress
// rather than skipping it, leaves clients without a certificate, and does
// nothing twice for the same pool; a gRPC handshake that ends after the
// sweep (it began with the CAs before) is admitted only if the swept pool
// verifies it.
func TestClientConnsSweep(t *testing.T) {
	oldState, oldPool := clientState(t, "old")
	newState, newPool := clientState(t, "new")
	var c clientConns
	if !c.admits(oldState, time.Now()) {
		t.Fatal("a handshake before any sweep refused")
	}
	var closed [4]atomic.Bool
	states := []func() tls.ConnectionState{
		func() tls.ConnectionState { return oldState },
		func() tls.ConnectionState { return newState },
		func() tls.ConnectionState { return tls.ConnectionState{HandshakeComplete: true} }, // no certificate
		func() tls.ConnectionState { time.Sleep(100 * time.Millisecond); return oldState }, // a handshake in progress
	}
	for i, st := range states {
		c.add(i, openConn{state: st, close: func() error { closed[i].Store(true); return nil }})
	}
	if n := c.cutUntrusted(newPool, time.Now()); n != 2 {
		t.Errorf("closed %d, want 2", n)
	}
	for i, want := range []bool{true, false, false, true} {
		if closed[i].Load() != want {
			t.Errorf("connection %d closed %v, want %v", i, closed[i].Load(), want)
		}
	}
	closed[0].Store(false)
	if n := c.cutUntrusted(newPool, time.Now()); n != 0 || closed[0].Load() {
		t.Errorf("the same pool again: closed %d", n)
	}
	if c.admits(oldState, time.Now()) || !c.admits(newState, time.Now()) || !c.admits(tls.ConnectionState{}, time.Now()) {
		t.Error("after the sweep: a late handshake of the old CA admitted, or the new CA's or an anonymous one refused")
	}
	// Back to the old CA: the new CA's client goes, the old CA's stays.
	c.remove(0)
	closed[3].Store(false)
	if n := c.cutUntrusted(oldPool, time.Now()); n != 1 || !closed[1].Load() || closed[3].Load() {
		t.Errorf("back to the old CA: closed %d, the new CA's %v, the old CA's %v", n, closed[1].Load(), closed[3].Load())
	}
}
