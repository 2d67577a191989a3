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
	return clientStateValid(t, name, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

// clientStateValid is clientState with a client certificate valid from nb
// to na.
func clientStateValid(t *testing.T, name string, nb, na time.Time) (tls.ConnectionState, *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: nb.Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature,
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
// chain the pool in force does not verify, waits for a handshake in
// progress rather than skipping it, leaves clients without a certificate
// and those whose certificate expired since their handshake, and does
// nothing twice for the same pool, nor for the pool loaded at start. A
// gRPC handshake that ends after a reload (it may have begun with the CAs
// before) is admitted only if the pool in force verifies it, sweep or
// not.
func TestClientConnsSweep(t *testing.T) {
	oldState, oldPool := clientState(t, "old")
	newState, newPool := clientState(t, "new")
	// A client of the new CA too, whose certificate expired an hour ago,
	// after its connection was opened.
	expiredState, _ := clientStateValid(t, "new, expired", time.Now().Add(-3*time.Hour), time.Now().Add(-time.Hour))
	expiredCA := expiredState.VerifiedChains[0][1]
	newPool.AddCert(expiredCA)
	inForce := oldPool
	c := newClientConns(func() *x509.CertPool { return inForce })
	var closed [5]atomic.Bool
	opened := time.Now()
	states := []func() tls.ConnectionState{
		func() tls.ConnectionState { return oldState },
		func() tls.ConnectionState { return newState },
		func() tls.ConnectionState { return tls.ConnectionState{HandshakeComplete: true} }, // no certificate
		func() tls.ConnectionState { time.Sleep(100 * time.Millisecond); return oldState }, // a handshake in progress
		func() tls.ConnectionState { return expiredState },
	}
	for i, st := range states {
		at := opened
		if i == 4 {
			at = opened.Add(-2 * time.Hour) // its certificate was valid then
		}
		c.add(i, openConn{state: st, close: func() error { closed[i].Store(true); return nil }, opened: at})
	}
	if n := c.cutUntrusted(); n != 0 {
		t.Fatalf("the pool loaded at start: closed %d", n)
	}
	if !c.admit("late old", openConn{state: func() tls.ConnectionState { return oldState }, opened: opened}) {
		t.Fatal("with the pool loaded at start, a handshake was refused")
	}
	c.remove("late old")

	inForce = newPool // the file re-read, no sweep yet
	if c.admit("late old", openConn{state: func() tls.ConnectionState { return oldState }, opened: opened}) {
		t.Error("a handshake of the CA taken out, ending after the reload, was admitted")
	}
	if !c.admit("late new", openConn{state: func() tls.ConnectionState { return newState }, opened: opened}) {
		t.Error("a handshake of the CA put in, ending before the sweep, was refused")
	}
	c.remove("late new")
	if n := c.cutUntrusted(); n != 2 {
		t.Errorf("closed %d, want 2", n)
	}
	for i, want := range []bool{true, false, false, true, false} {
		if closed[i].Load() != want {
			t.Errorf("connection %d closed %v, want %v", i, closed[i].Load(), want)
		}
	}
	closed[0].Store(false)
	if n := c.cutUntrusted(); n != 0 || closed[0].Load() {
		t.Errorf("the same pool again: closed %d", n)
	}

	// Back to the old CA: the new CA's client goes, the old CA's stays.
	c.remove(0)
	closed[3].Store(false)
	inForce = oldPool
	if n := c.cutUntrusted(); n != 2 || !closed[1].Load() || closed[3].Load() {
		t.Errorf("back to the old CA: closed %d, the new CA's %v, the old CA's %v", n, closed[1].Load(), closed[3].Load())
	}
}
