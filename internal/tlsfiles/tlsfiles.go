// Package tlsfiles holds the TLS files a node reads besides its
// listeners' key pairs: the CA files that peers' certificates must chain
// to (client certificates, the Kafka brokers', the alert webhook's) and
// Kafka's client key pair. Each is loaded at start, where a bad file stops
// the node, and re-read on request (SIGHUP), where a bad file keeps what
// was loaded: a CA bundle or a client certificate rotated in place (by
// cert-manager, a Kubernetes secret volume, a cron job) is then used for
// the next handshakes without a restart.
//
// The users read the current value at each handshake: a listener through
// tls.Config.GetConfigForClient, a Kafka connection through its dial
// function, the webhook through a transport built for the pool in force.
// None of them turns off the standard library's verification.
package tlsfiles

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/internal/metricset"
)

// File is a TLS file in use, as the node reloads and reports it.
type File interface {
	// Path is the file's name as configured.
	Path() string
	// Paths are the files read: the file, or a certificate and its key.
	Paths() []string
	// Reload re-reads the file. changed reports whether what is in force
	// changed (a file rewritten with the same bytes changes nothing); on
	// error what was loaded stays in force and the failure is counted.
	Reload() (changed bool, err error)
	// UsefulUntil is when the file stops being of use: see CAs and KeyPair.
	UsefulUntil() time.Time
	// Failures counts the reloads refused.
	Failures() uint64
	// Failing reports whether the last reload was refused, none
	// succeeding since: what is on disk is then not what is in force.
	Failing() bool
}

// Use is a TLS file and what it is for, as the node reloads and reports
// it: http-client-ca, grpc-client-ca, kafka-ca, kafka-client-cert,
// webhook-ca, store-ca or store-client-cert.
type Use struct {
	Use  string
	File File
}

// errCutShort is a PEM block begun that does not decode: most often a
// file read while it was being written.
var errCutShort = errors.New("a PEM block does not decode: cut short (the file read while it was being written?) or not base64")

// CAs is a PEM file of CA certificates.
type CAs struct {
	path     string
	cur      atomic.Pointer[caSet]
	refusals metricset.Refusals
}

type caSet struct {
	pool     *x509.CertPool
	sum      [sha256.Size]byte // of the file's bytes
	notAfter time.Time         // the last certificate's NotAfter
}

// LoadCAs reads a CA file: a file that cannot be read, holds no
// certificate or ends in a block cut short is an error.
func LoadCAs(path string) (*CAs, error) {
	c := &CAs{path: path}
	s, err := readCAs(path)
	if err != nil {
		return nil, err
	}
	c.cur.Store(s)
	return c, nil
}

func readCAs(path string) (*caSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := parseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificates in it", path)
	}
	s := &caSet{pool: x509.NewCertPool(), sum: sha256.Sum256(data)}
	for _, c := range certs {
		s.pool.AddCert(c)
		// A file of CAs verifies until its last certificate expires: a
		// system bundle holds roots expired years ago, a rotation holds
		// the old CA beside the new one.
		if c.NotAfter.After(s.notAfter) {
			s.notAfter = c.NotAfter
		}
	}
	return s, nil
}

// parseCertificates returns the certificates of a PEM file. Blocks of
// other types and certificates the x509 package refuses are skipped, as
// x509.CertPool.AppendCertsFromPEM skips them; a block cut short is an
// error, since the rest of the file would be lost silently.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		b, rest := pem.Decode(data)
		if b == nil {
			if bytes.Contains(data, []byte("-----BEGIN")) {
				return nil, errCutShort
			}
			return out, nil
		}
		data = rest
		if b.Type != "CERTIFICATE" || len(b.Headers) != 0 {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

// Path implements File.
func (c *CAs) Path() string { return c.path }

// Paths implements File.
func (c *CAs) Paths() []string { return []string{c.path} }

// Failures implements File.
func (c *CAs) Failures() uint64 { return c.refusals.Failures() }

// Failing implements File.
func (c *CAs) Failing() bool { return c.refusals.Failing() }

// Pool is the pool in force. It is the same pointer until a reload
// changes the file, so a user may build what depends on it once per pool.
func (c *CAs) Pool() *x509.CertPool { return c.cur.Load().pool }

// UsefulUntil implements File: when the file's last certificate expires.
func (c *CAs) UsefulUntil() time.Time { return c.cur.Load().notAfter }

// Reload implements File.
func (c *CAs) Reload() (bool, error) {
	s, err := readCAs(c.path)
	if err := c.refusals.Record(err); err != nil {
		return false, err
	}
	if s.sum == c.cur.Load().sum {
		return false, nil
	}
	c.cur.Store(s)
	return true, nil
}

// Apply puts the contents in force of cas and cert, either of which may
// be nil, into c: a connection's configuration, made for it.
func Apply(c *tls.Config, cas *CAs, cert *KeyPair) {
	if cas != nil {
		c.RootCAs = cas.Pool()
	}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert.Certificate()}
	}
}

// KeyPair is a certificate (with its chain) and its private key: a
// client certificate, or a listener's own.
type KeyPair struct {
	certFile, keyFile string
	cur               atomic.Pointer[keyPair]
	refusals          metricset.Refusals
}

type keyPair struct {
	cert     tls.Certificate
	sum      [sha256.Size]byte // of the two files' bytes
	notAfter time.Time         // the earliest NotAfter of the chain
}

// LoadKeyPair reads a certificate file and its key.
func LoadKeyPair(certFile, keyFile string) (*KeyPair, error) {
	k := &KeyPair{certFile: certFile, keyFile: keyFile}
	p, err := readKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	k.cur.Store(p)
	return k, nil
}

func readKeyPair(certFile, keyFile string) (*keyPair, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	if _, err := parseCertificates(certPEM); err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	// A key pair rotated in place is two files written one after the
	// other: one read between the two writes pairs a new certificate with
	// the old key, which X509KeyPair refuses, so the old pair stays until
	// the next reload.
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", certFile, keyFile, err)
	}
	p := &keyPair{cert: cert}
	h := sha256.New()
	h.Write(certPEM)
	h.Write([]byte{0})
	h.Write(keyPEM)
	h.Sum(p.sum[:0])
	// The chain fails when its first certificate expires.
	for _, der := range cert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue
		}
		if p.notAfter.IsZero() || c.NotAfter.Before(p.notAfter) {
			p.notAfter = c.NotAfter
		}
	}
	return p, nil
}

// Path implements File: the certificate's file.
func (k *KeyPair) Path() string { return k.certFile }

// Paths implements File: the certificate's file and the key's.
func (k *KeyPair) Paths() []string { return []string{k.certFile, k.keyFile} }

// Failures implements File.
func (k *KeyPair) Failures() uint64 { return k.refusals.Failures() }

// Failing implements File.
func (k *KeyPair) Failing() bool { return k.refusals.Failing() }

// Certificate is the key pair in force.
func (k *KeyPair) Certificate() *tls.Certificate { return &k.cur.Load().cert }

// UsefulUntil implements File: when the first certificate of the chain
// expires.
func (k *KeyPair) UsefulUntil() time.Time { return k.cur.Load().notAfter }

// Reload implements File.
func (k *KeyPair) Reload() (bool, error) {
	p, err := readKeyPair(k.certFile, k.keyFile)
	if err := k.refusals.Record(err); err != nil {
		return false, err
	}
	if p.sum == k.cur.Load().sum {
		return false, nil
	}
	k.cur.Store(p)
	return true, nil
}
