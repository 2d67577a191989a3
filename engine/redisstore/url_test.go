package redisstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/tlsfiles"
)

func TestURLForms(t *testing.T) {
	cases := []struct {
		url, kind string
		check     func(t *testing.T, c *clientConfig)
	}{
		{"redis://127.0.0.1:6390/2", "single", func(t *testing.T, c *clientConfig) {
			o := c.single
			if o.Addr != "127.0.0.1:6390" || o.DB != 2 || o.TLSConfig != nil || o.Network != "tcp" {
				t.Errorf("options %+v", o)
			}
			if !o.ContextTimeoutEnabled || o.MaxRetries != -1 || o.ReadTimeout != time.Second || o.DialTimeout != 2*time.Second {
				t.Errorf("defaults not applied: cte %v retries %d read %v dial %v", o.ContextTimeoutEnabled, o.MaxRetries, o.ReadTimeout, o.DialTimeout)
			}
		}},
		{"rediss://app:s3cret@cache.example:6380?max_retries=2&read_timeout=3s", "single", func(t *testing.T, c *clientConfig) {
			o := c.single
			if o.TLSConfig == nil || o.TLSConfig.ServerName != "cache.example" || o.Username != "app" || o.Password != "s3cret" {
				t.Errorf("TLS or credentials: %+v", o)
			}
			if o.MaxRetries != 2 || o.ReadTimeout != 3*time.Second {
				t.Errorf("URL options overridden: retries %d read %v", o.MaxRetries, o.ReadTimeout)
			}
		}},
		{"unix:///run/redis/redis.sock?db=3", "single", func(t *testing.T, c *clientConfig) {
			if c.single.Network != "unix" || c.single.Addr != "/run/redis/redis.sock" || c.single.DB != 3 {
				t.Errorf("options %+v", c.single)
			}
		}},
		{"redis://10.0.0.1:7000?addr=10.0.0.2:7001&addr=10.0.0.3:7002", "cluster", func(t *testing.T, c *clientConfig) {
			o := c.cluster
			if len(o.Addrs) != 3 || o.Addrs[2] != "10.0.0.3:7002" || !o.ContextTimeoutEnabled || o.MaxRetries != -1 {
				t.Errorf("options %+v", o)
			}
		}},
		{"redis+cluster://10.0.0.1:7000", "cluster", func(t *testing.T, c *clientConfig) {
			if len(c.cluster.Addrs) != 1 || c.cluster.TLSConfig != nil {
				t.Errorf("options %+v", c.cluster)
			}
		}},
		{"rediss+cluster://node.example:7000?addr=node2.example:7000", "cluster", func(t *testing.T, c *clientConfig) {
			if c.cluster.TLSConfig == nil || len(c.cluster.Addrs) != 2 {
				t.Errorf("options %+v", c.cluster)
			}
		}},
		{"redis://s1:26379?master_name=main&addr=s2:26379&password=masterpw", "sentinel", func(t *testing.T, c *clientConfig) {
			o := c.failover
			if o.MasterName != "main" || len(o.SentinelAddrs) != 2 || o.Password != "masterpw" || !o.ContextTimeoutEnabled {
				t.Errorf("options %+v", o)
			}
		}},
		{"rediss+sentinel://s1:26379?master_name=main", "sentinel", func(t *testing.T, c *clientConfig) {
			if c.failover.TLSConfig == nil || c.failover.MasterName != "main" {
				t.Errorf("options %+v", c.failover)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			c, err := parseConfig(&Options{URL: tc.url})
			if err != nil {
				t.Fatal(err)
			}
			if c.kind != tc.kind {
				t.Fatalf("kind %s, want %s", c.kind, tc.kind)
			}
			tc.check(t, c)
			rdb := c.client() // builds without connecting
			_ = rdb.Close()
		})
	}
}

func TestURLOptionsOverride(t *testing.T) {
	c, err := parseConfig(&Options{URL: "redis://h:1?read_timeout=3s", ReadTimeout: 40 * time.Millisecond, PoolSize: 7, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	if o := c.single; o.ReadTimeout != 40*time.Millisecond || o.PoolSize != 7 || o.MaxRetries != 1 {
		t.Errorf("options %+v", o)
	}
}

// TestMinReadTimeout: MinReadTimeout raises the default read timeout only:
// the option and the URL's read_timeout win over it.
func TestMinReadTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want time.Duration
	}{
		{"default", Options{URL: "redis://h:1"}, time.Second},
		{"shorter than the default", Options{URL: "redis://h:1", MinReadTimeout: 50 * time.Millisecond}, time.Second},
		{"longer", Options{URL: "redis://h:1", MinReadTimeout: 5 * time.Second}, 5 * time.Second},
		{"the URL's", Options{URL: "redis://h:1?read_timeout=2s", MinReadTimeout: 5 * time.Second}, 2 * time.Second},
		{"the option's", Options{URL: "redis://h:1", ReadTimeout: 3 * time.Second, MinReadTimeout: 5 * time.Second}, 3 * time.Second},
		{"a cluster URL", Options{URL: "redis+cluster://h1:1?addr=h2:1", MinReadTimeout: 5 * time.Second}, 5 * time.Second},
	} {
		c, err := parseConfig(&tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := time.Duration(0)
		if c.single != nil {
			got = c.single.ReadTimeout
		} else if c.cluster != nil {
			got = c.cluster.ReadTimeout
		}
		if got != tc.want {
			t.Errorf("%s: read timeout %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestURLErrorsHidePasswords(t *testing.T) {
	for _, u := range []string{
		"redis://app:hunter2@h:1?bogus=1",
		"redis+sentinel://h:1?password=hunter2", // no master_name
		"redis://h:1?master_name=m&password=hunter2&bogus=1",
		"http://app:hunter2@h:1",
		"redis://app:hunter2@h:1/notanumber",
	} {
		_, err := parseConfig(&Options{URL: u})
		if err == nil {
			t.Errorf("%s: no error", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error shows the password: %v", u, err)
		}
	}
	if got := Redact("redis://app:hunter2@h:1?master_name=m&password=hunter2"); strings.Contains(got, "hunter2") || !strings.Contains(got, "h:1") {
		t.Errorf("Redact = %s", got)
	}
	// A '#' in the password: the URL parses, the password read as a port
	// and a fragment, which url's redaction keeps.
	for _, raw := range []string{"redis://app:2024#hunter2@h:1", "redis://app:hun#ter2@h:1"} {
		if got := Redact(raw); strings.Contains(got, "hunter2") || strings.Contains(got, "2024") || strings.Contains(got, "ter2") {
			t.Errorf("Redact(%s) = %s: the password shows", raw, got)
		}
	}
}

// TestNewUnreachable: New fails fast with an error that names the server,
// hides the password and wraps engine.ErrUnavailable.
func TestNewUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err = New(ctx, Options{URL: fmt.Sprintf("redis://app:hunter2@%s", addr)})
	if err == nil {
		t.Fatal("New succeeded without a server")
	}
	if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q: want ErrUnavailable, naming %s, without the password", err, addr)
	}
	if took := time.Since(start); took > 3500*time.Millisecond {
		t.Errorf("New took %v", took)
	}
	if _, err := New(ctx, Options{URL: "redis://h:1", KeyPrefix: "a{b"}); err == nil {
		t.Error("a key prefix with a brace was accepted")
	}
}

// TestTLSFilesNeedTLS: a CA or client certificate given for a redis://
// URL is refused rather than ignored, and so is a CA with skip_verify,
// which would ignore it; with a rediss:// URL of any kind each connection
// is made through the dial function that reads them.
func TestTLSFilesNeedTLS(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "redis CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cas, err := tlsfiles.LoadCAs(path)
	if err != nil {
		t.Fatal(err)
	}
	for url, want := range map[string]string{
		"redis://127.0.0.1:6379":                       "rediss://",
		"rediss://redis.example:6379?skip_verify=true": "skip_verify",
	} {
		if _, err := parseConfig(&Options{URL: url, RootCAs: cas}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a CA for %s: %v, want %q", url, err, want)
		}
	}
	for _, url := range []string{"rediss://redis.example:6379", "rediss+cluster://redis-1.example:7000?addr=redis-2.example:7000", "rediss+sentinel://sentinel.example:26379?master_name=m"} {
		c, err := parseConfig(&Options{URL: url, RootCAs: cas})
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if (c.single == nil || c.single.Dialer == nil) && (c.cluster == nil || c.cluster.Dialer == nil) && (c.failover == nil || c.failover.Dialer == nil) {
			t.Errorf("%s: no dial function reads the CA file", url)
		}
		if got := lifetime(c); got != TLSConnLifetime {
			t.Errorf("%s: connections live %v, want %v: a CA re-read would never reach the connections open", url, got, TLSConnLifetime)
		}
	}
	// The URL's own lifetime wins; without TLS files, go-redis's default
	// (none) stays.
	for url, want := range map[string]time.Duration{
		"rediss://redis.example:6379?conn_max_lifetime=5m": 5 * time.Minute,
	} {
		c, err := parseConfig(&Options{URL: url, RootCAs: cas})
		if err != nil {
			t.Fatal(err)
		}
		if got := lifetime(c); got != want {
			t.Errorf("%s: connections live %v, want %v", url, got, want)
		}
	}
	c, err := parseConfig(&Options{URL: "rediss://redis.example:6379"})
	if err != nil {
		t.Fatal(err)
	}
	if got := lifetime(c); got != 0 {
		t.Errorf("without TLS files, connections live %v, want go-redis's default", got)
	}
}

// lifetime is the ConnMaxLifetime of a parsed configuration.
func lifetime(c *clientConfig) time.Duration {
	switch {
	case c.cluster != nil:
		return c.cluster.ConnMaxLifetime
	case c.failover != nil:
		return c.failover.ConnMaxLifetime
	}
	return c.single.ConnMaxLifetime
}

// TestURLPasswordSpecialCharacters: a password holding a character the
// URL syntax gives a meaning to ('#', '/', '%') makes a URL that does not
// parse, or parses as something else (a '#' after digits reads as a
// port): the error says to percent-encode it, and never shows it. Encoded,
// it is the password.
func TestURLPasswordSpecialCharacters(t *testing.T) {
	for _, u := range []string{
		"redis://app:hun#ter2@h:1",
		"redis://app:2024#ter2@h:1", // app:2024 would be a host and port
		"rediss+cluster://app:hun#ter2@h:1",
		"redis://app:hun/ter2@h:1",
		"redis://app:hun%ter2@h:1",
		"redis://:hun#ter2@h:1",
	} {
		_, err := parseConfig(&Options{URL: u})
		if err == nil {
			t.Errorf("%s: no error", u)
			continue
		}
		if !strings.Contains(err.Error(), "percent-encoded (%23 for #") {
			t.Errorf("%s: no hint in %q", u, err)
		}
		if strings.Contains(err.Error(), "hun") || strings.Contains(err.Error(), "ter2") {
			t.Errorf("%s: error shows the password: %v", u, err)
		}
	}
	c, err := parseConfig(&Options{URL: "redis://app:hun%23ter%2F2@h:1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.single.Password != "hun#ter/2" || c.single.Username != "app" || c.single.Addr != "h:1" {
		t.Errorf("options %+v", c.single)
	}
}
