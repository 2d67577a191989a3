package tlsfiles

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// certPEM returns a self-signed certificate expiring at notAfter, and its
// key, as PEM.
func certPEM(t testing.TB, cn string, notAfter time.Time) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func write(t *testing.T, path string, data ...[]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(data, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

func day(n int) time.Time {
	return time.Now().Add(time.Duration(n) * 24 * time.Hour).Truncate(time.Second).UTC()
}

// trusts reports whether the pool in force verifies the self-signed
// certificate certPEM.
func trusts(t *testing.T, c *CAs, certPEM []byte) bool {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: c.Pool(), CurrentTime: cert.NotBefore.Add(time.Minute)})
	return err == nil
}

// TestCAsReload: a CA file re-read with other CAs puts them in force (a
// new pool); re-read unchanged it changes nothing (the same pool, so
// users keep what they built on it); a file that is missing, holds no
// certificate or ends in a block cut short keeps what was loaded, counted.
// The file is useful until its last certificate expires.
func TestCAsReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ca.pem")
	old, _ := certPEM(t, "old", day(20))
	expired, _ := certPEM(t, "expired", day(-700))
	gone, _ := certPEM(t, "gone", day(50))
	write(t, path, old, expired, gone)
	c, err := LoadCAs(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.UsefulUntil(); !got.Equal(day(50)) {
		t.Errorf("useful until %v, want %v (the last to expire)", got, day(50))
	}
	if !trusts(t, c, gone) {
		t.Fatal("a CA of the file is not trusted")
	}
	first := c.Pool()
	if changed, err := c.Reload(); changed || err != nil || c.Pool() != first {
		t.Errorf("unchanged file: changed %v, err %v, same pool %v", changed, err, c.Pool() == first)
	}

	next, _ := certPEM(t, "next", day(400))
	write(t, path, old, next)
	if changed, err := c.Reload(); !changed || err != nil {
		t.Fatalf("rotated file: changed %v, err %v", changed, err)
	}
	if c.Pool() == first || !c.UsefulUntil().Equal(day(400)) || !trusts(t, c, old) || !trusts(t, c, next) || trusts(t, c, gone) {
		t.Errorf("after the rotation: until %v, trusts old %v, next %v, the removed one %v", c.UsefulUntil(), trusts(t, c, old), trusts(t, c, next), trusts(t, c, gone))
	}
	inForce := c.Pool()

	for _, bad := range []struct {
		name string
		data []byte
		want string
	}{
		{"no certificate", []byte("not a certificate\n"), "no PEM certificates"},
		{"a key only", func() []byte { _, k := certPEM(t, "k", day(1)); return k }(), "no PEM certificates"},
		{"cut short", append(append([]byte{}, next...), old[:len(old)/2]...), "cut short"},
	} {
		write(t, path, bad.data)
		changed, err := c.Reload()
		if changed || err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: changed %v, err %v; want %q naming the file", bad.name, changed, err, bad.want)
		}
		if c.Pool() != inForce {
			t.Errorf("%s: the pool in force was replaced", bad.name)
		}
		if !c.Failing() {
			t.Errorf("%s: not failing", bad.name)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reload(); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
	if got := c.Failures(); got != 4 {
		t.Errorf("failures %d, want 4", got)
	}
	if _, err := LoadCAs(path); err == nil {
		t.Error("LoadCAs of a missing file succeeded")
	}
	// The file back as it was: nothing changes, but the failure is over.
	write(t, path, old, next)
	if changed, err := c.Reload(); changed || err != nil || c.Failing() {
		t.Errorf("the file restored: changed %v, err %v, failing %v", changed, err, c.Failing())
	}
}

// TestKeyPairReload: a key pair re-read after a rotation is in force; a
// new certificate read with the old key (the two files written one after
// the other) is refused and the old pair stays. The pair is useful until
// the first certificate of its chain expires.
func TestKeyPairReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	cert, key := certPEM(t, "client-1", day(30))
	inter, _ := certPEM(t, "intermediate", day(10))
	write(t, certFile, cert, inter)
	write(t, keyFile, key)
	k, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !k.UsefulUntil().Equal(day(10)) || k.Path() != certFile {
		t.Errorf("useful until %v, want %v (the chain's first to expire); path %s", k.UsefulUntil(), day(10), k.Path())
	}
	first := k.Certificate()
	if changed, err := k.Reload(); changed || err != nil {
		t.Errorf("unchanged: changed %v, err %v", changed, err)
	}

	cert2, key2 := certPEM(t, "client-2", day(90))
	write(t, certFile, cert2) // the key not yet written
	if changed, err := k.Reload(); changed || err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Errorf("new certificate, old key: changed %v, err %v", changed, err)
	}
	if !bytes.Equal(k.Certificate().Certificate[0], first.Certificate[0]) {
		t.Error("the refused pair replaced the one in force")
	}
	if !k.Failing() {
		t.Error("the refused pair: not failing")
	}
	write(t, keyFile, key2)
	if changed, err := k.Reload(); !changed || err != nil {
		t.Fatalf("rotated: changed %v, err %v", changed, err)
	}
	if k.Certificate().Leaf.Subject.CommonName != "client-2" || !k.UsefulUntil().Equal(day(90)) {
		t.Errorf("in force: %s until %v", k.Certificate().Leaf.Subject.CommonName, k.UsefulUntil())
	}
	if k.Failures() != 1 || k.Failing() {
		t.Errorf("failures %d, want 1; failing %v after the pair loaded", k.Failures(), k.Failing())
	}
}

// FuzzParseCertificates: any file either is refused as cut short, or
// gives the certificates x509.CertPool would take from it.
func FuzzParseCertificates(f *testing.F) {
	c, k := certPEM(f, "seed", day(1))
	f.Add(c)
	f.Add(append(append([]byte{}, c...), k...))
	f.Add(c[:len(c)/2])
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("text\n" + string(c) + "text"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := parseCertificates(data)
		if err != nil {
			if err != errCutShort {
				t.Fatalf("error %v", err)
			}
			return
		}
		if took := x509.NewCertPool().AppendCertsFromPEM(data); took != (len(certs) > 0) {
			t.Fatalf("%d certificates, the pool took some: %v", len(certs), took)
		}
	})
}
