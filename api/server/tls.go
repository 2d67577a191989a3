package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/riskgate/riskgate/internal/tlsfiles"
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

// certificate is a listener's key pair, re-read without a restart
// (tlsfiles.KeyPair: a pair that fails to load keeps the one in force),
// for certificates rotated in place by cert-manager and the like.
type certificate struct {
	*tlsfiles.KeyPair
	listener string // http or grpc, for metrics
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.Certificate(), nil
}

// httpProtocols are the protocols the HTTP listener speaks, and their
// ALPN names over TLS: HTTP/1.1 and HTTP/2, or HTTP/1.1 alone with
// GODEBUG=http2server=0 (net/http's switch, an escape hatch from an
// HTTP/2 defect). The listener is given them explicitly, so that what it
// serves is what every TLS configuration handed out per handshake
// (clientCAs) offers: net/http adjusts the ALPN of the configuration it
// is given, never of those.
func httpProtocols() (*http.Protocols, []string) {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	h2 := true
	for _, kv := range strings.Split(os.Getenv("GODEBUG"), ",") {
		if k, v, _ := strings.Cut(strings.TrimSpace(kv), "="); k == "http2server" {
			h2 = v != "0" // the last one wins
		}
	}
	if !h2 {
		return p, []string{"http/1.1"}
	}
	p.SetHTTP2(true)
	return p, []string{"h2", "http/1.1"}
}

// serverTLS builds the tls.Config of a listener that negotiates
// nextProtos (ALPN); nil when TLS is off. With a client CA file it also
// returns the file's clientCAs, re-read on SIGHUP: each handshake
// verifies client certificates against the CAs in force.
func serverTLS(t TLS, nextProtos []string) (*tls.Config, *certificate, *clientCAs, error) {
	if !t.Enabled() {
		if t.ClientCAFile != "" {
			return nil, nil, nil, errors.New("tls: a client CA needs a server certificate and key")
		}
		return nil, nil, nil, nil
	}
	if t.CertFile == "" || t.KeyFile == "" {
		return nil, nil, nil, errors.New("tls: give both the certificate and the key")
	}
	kp, err := tlsfiles.LoadKeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tls: %w", err)
	}
	c := &certificate{KeyPair: kp}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.get, NextProtos: nextProtos}
	if t.ClientCAFile == "" {
		if t.ClientAuth == "require" {
			return nil, nil, nil, errors.New("tls: client_auth require needs a client CA")
		}
		return cfg, c, nil, nil
	}
	switch t.ClientAuth {
	case "", "optional":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "require":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, nil, nil, fmt.Errorf("tls: client_auth %q: want optional or require", t.ClientAuth)
	}
	cas, err := tlsfiles.LoadCAs(t.ClientCAFile)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tls: client CA: %w", err)
	}
	cc := &clientCAs{cas: cas, base: cfg.Clone(), conns: newClientConns(cas.Pool)}
	cfg.GetConfigForClient = cc.configFor
	return cfg, c, cc, nil
}

// clientCAs hands each handshake a configuration whose ClientCAs are the
// CA file's pool in force, so that a CA added to the file on SIGHUP is
// accepted from the next handshake, and one removed is refused. A session
// resumed from a ticket is refused too when its client's chain is not
// rooted in the pool in force: crypto/tls checks a resumed session's
// chain against the ClientCAs of the configuration given here
// (TestClientCAReload).
//
// Its conns are the listener's open connections, those of clients the
// file no longer trusts closed after a reload (Server.CutUntrustedClients).
type clientCAs struct {
	cas   *tlsfiles.CAs
	base  *tls.Config // the listener's configuration, without GetConfigForClient
	cur   atomic.Pointer[poolConfig]
	conns clientConns
}

type poolConfig struct {
	pool *x509.CertPool
	cfg  *tls.Config
}

func (c *clientCAs) configFor(*tls.ClientHelloInfo) (*tls.Config, error) {
	pool := c.cas.Pool()
	if pc := c.cur.Load(); pc != nil && pc.pool == pool {
		return pc.cfg, nil
	}
	// The configuration returned replaces the listener's for the whole
	// handshake: ALPN included, hence nextProtos given to serverTLS. It
	// sets no session ticket keys, so the listener's (rotated by
	// crypto/tls) stay in use across reloads.
	cfg := c.base.Clone()
	cfg.ClientCAs = pool
	c.cur.Store(&poolConfig{pool, cfg})
	return cfg, nil
}
