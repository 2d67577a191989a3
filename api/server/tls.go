package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// TLS configures one listener. Without CertFile and KeyFile it serves
// plain text.
type TLS struct {
	CertFile string `yaml:"cert"`
	KeyFile  string `yaml:"key"`
	// ClientCAFile enables client certificates: verified against these CAs.
	ClientCAFile string `yaml:"client_ca"`
	// ClientAuth is "optional" (default: a client may present a
	// certificate, and must then pass verification; token clients still
	// connect) or "require" (mutual TLS for every connection).
	ClientAuth string `yaml:"client_auth"`
}

// Enabled reports whether the listener uses TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// certificate is a key pair that can be reloaded (SIGHUP) without a
// restart, for certificates rotated in place by cert-manager and the like.
type certificate struct {
	certFile, keyFile string
	listener          string // http or grpc, for metrics
	cur               atomic.Pointer[tls.Certificate]
	failures          atomic.Uint64 // reloads refused, the previous pair kept
}

func (c *certificate) load() error {
	kp, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	c.cur.Store(&kp)
	return nil
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil }

// serverTLS builds the tls.Config of a listener; nil when TLS is off.
func serverTLS(t TLS) (*tls.Config, *certificate, error) {
	if !t.Enabled() {
		if t.ClientCAFile != "" {
			return nil, nil, errors.New("tls: a client CA needs a server certificate and key")
		}
		return nil, nil, nil
	}
	if t.CertFile == "" || t.KeyFile == "" {
		return nil, nil, errors.New("tls: give both the certificate and the key")
	}
	c := &certificate{certFile: t.CertFile, keyFile: t.KeyFile}
	if err := c.load(); err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.get}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("tls: client CA %s: no PEM certificates", t.ClientCAFile)
		}
		cfg.ClientCAs = pool
		switch t.ClientAuth {
		case "", "optional":
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		case "require":
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		default:
			return nil, nil, fmt.Errorf("tls: client_auth %q: want optional or require", t.ClientAuth)
		}
	} else if t.ClientAuth == "require" {
		return nil, nil, errors.New("tls: client_auth require needs a client CA")
	}
	return cfg, c, nil
}
