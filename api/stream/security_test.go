package stream

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/filetest"
)

// runOnce runs a runner until it returns or the bound passes, for
// configurations that must be refused.
func runOnce(t *testing.T, opts Options) error {
	t.Helper()
	r, err := New(opts, Deps{Scorer: NewTestEngine(t, engine.Options{}), Logger: testLogger(t)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = r.Run(ctx, nil)
	if ctx.Err() != nil {
		t.Fatal("Run kept retrying a configuration the broker refuses")
	}
	return err
}

// roundTrip produces one attempt with conn's settings and waits for its
// decision.
func roundTrip(t *testing.T, c *cluster, opts Options) {
	t.Helper()
	conn, err := opts.connection(nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(c.addrs...), Balancer: Partitioner, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Transport: conn.transport}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, kafka.Message{Topic: tAttempts, Key: []byte("acme/u1"), Value: []byte(`{"tenant":"acme","attempt_id":"s1","user_id":"u1","ip":"81.2.69.1"}`)}); err != nil {
		t.Fatalf("produce: %v", err)
	}
	r := start(t, opts, NewTestEngine(t, engine.Options{}))
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: c.addrs, Topic: tDecisions, Partition: Partition([]byte("acme/u1"), 1), Dialer: conn.dialer, MaxWait: 50 * time.Millisecond})
	defer rd.Close()
	m, err := rd.ReadMessage(ctx)
	if err != nil || !strings.Contains(string(m.Value), `"attempt_id":"s1"`) {
		t.Fatalf("decision %s, %v", m.Value, err)
	}
	r.stop(t)
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c := startCluster(t, 1, kfake.EnableSASL(), kfake.Superuser(mech, "riskgate", "correct-horse"))
			opts := testOptions(c)
			opts.SASL = SASLOptions{Mechanism: mech, Username: "riskgate", Password: "battery-staple"}
			err := runOnce(t, opts)
			if err == nil || !strings.Contains(err.Error(), `refused SASL `+mech+` authentication as "riskgate"`) {
				t.Fatalf("wrong password: Run = %v, want a clear refusal", err)
			}
			if strings.Contains(err.Error(), "battery-staple") {
				t.Fatal("the error carries the password")
			}
			pw := filepath.Join(t.TempDir(), "password")
			if err := os.WriteFile(pw, []byte("correct-horse\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			opts.SASL.Password, opts.SASL.PasswordFile = "", pw
			roundTrip(t, c, opts)
		})
	}
}

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type pki struct {
	dir                       string
	ca, serverCert, serverKey string
	clientCert, clientKey     string
	pool                      *x509.CertPool
	server                    tls.Certificate
}

func newPKI(t *testing.T) *pki {
	dir := t.TempDir()
	p := &pki{dir: dir}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(caCert)
	p.ca = p.write(t, "ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string, tls.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, _ := x509.MarshalECPrivateKey(key)
		cf, kf := p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", kd)
		pair, err := tls.LoadX509KeyPair(cf, kf)
		if err != nil {
			t.Fatal(err)
		}
		return cf, kf, pair
	}
	p.serverCert, p.serverKey, p.server = leaf("broker", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey, _ = leaf("riskgate", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTLS connects to a broker that requires a client certificate.
func TestTLS(t *testing.T) {
	p := newPKI(t)
	c := startCluster(t, 1, kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}))
	opts := testOptions(c)

	opts.TLS = TLSOptions{Enabled: true} // the system's CAs do not know the test CA
	if err := runOnce(t, opts); err == nil || !strings.Contains(err.Error(), "TLS certificate not trusted") {
		t.Fatalf("unknown CA: Run = %v", err)
	}
	opts.TLS = TLSOptions{CA: p.ca} // no client certificate
	if err := runOnce(t, opts); err == nil || !strings.Contains(err.Error(), "refused the TLS handshake") {
		t.Fatalf("no client certificate: Run = %v", err)
	}
	opts.TLS = TLSOptions{CA: p.ca, Cert: p.clientCert, Key: p.clientKey}
	roundTrip(t, c, opts)
}

func TestOptionsAreChecked(t *testing.T) {
	good := Options{Brokers: []string{"127.0.0.1:9092"}, AttemptsTopic: "a", DecisionsTopic: "d"}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no brokers", func(o *Options) { o.Brokers = nil }, "no brokers"},
		{"broker without port", func(o *Options) { o.Brokers = []string{"kafka"} }, "host:port"},
		{"nothing to consume", func(o *Options) { o.AttemptsTopic = "" }, "neither an attempts nor an outcomes topic"},
		{"decisions go nowhere", func(o *Options) { o.DecisionsTopic = "" }, "decisions would go nowhere"},
		{"one topic twice", func(o *Options) { o.AlertsTopic = "d" }, `"d" is both`},
		{"start offset", func(o *Options) { o.StartOffset = "middle" }, "earliest or latest"},
		{"format", func(o *Options) { o.AttemptFormat = "avro" }, "json or protobuf"},
		{"sasl without user", func(o *Options) { o.SASL.Mechanism = "PLAIN" }, "needs a user name"},
		{"sasl without password", func(o *Options) { o.SASL = SASLOptions{Mechanism: "SCRAM-SHA-512", Username: "u"} }, "needs a password"},
		{"sasl unknown", func(o *Options) { o.SASL = SASLOptions{Mechanism: "GSSAPI", Username: "u", Password: "p"} }, "want PLAIN"},
		{"password without mechanism", func(o *Options) { o.SASL.Username = "u" }, "without a mechanism"},
		{"missing password file", func(o *Options) {
			o.SASL = SASLOptions{Mechanism: "PLAIN", Username: "u", PasswordFile: filepath.Join(dir, "none")}
		}, "sasl password"},
		{"ca not PEM", func(o *Options) { o.TLS.CA = notPEM }, "no PEM certificates"},
		{"cert without key", func(o *Options) { o.TLS.Cert = notPEM }, "go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.change(&o)
			_, err := New(o, Deps{Scorer: NewTestEngine(t, engine.Options{})})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error saying %q", err, tt.want)
			}
		})
	}
	r, err := New(good, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(t.Context(), nil); err == nil || !strings.Contains(err.Error(), "no service") {
		t.Fatalf("Run without a service or scorer = %v", err)
	}
	if _, err := New(good, Deps{Scorer: NewTestEngine(t, engine.Options{})}); err != nil {
		t.Fatal(err)
	}
}

// TestMissingTopicIsRefused stops Run with the topic's name rather than
// retrying.
func TestMissingTopicIsRefused(t *testing.T) {
	c := startCluster(t, 1)
	opts := testOptions(c)
	opts.DecisionsTopic = "no-such-topic"
	if err := runOnce(t, opts); err == nil || !strings.Contains(err.Error(), `topic "no-such-topic" does not exist`) {
		t.Fatalf("Run = %v", err)
	}
}

// TestTLSFilesReload: the brokers' CA file and the client key pair,
// re-read (as SIGHUP does), are used from the next connection, by the
// runner's dialer and by the writers' transport alike: first a CA that
// does not know the broker, then the right CA with a client certificate
// the broker does not trust, then a client certificate it trusts. The
// broker's address is an IP, which its certificate must still name.
func TestTLSFilesReload(t *testing.T) {
	broker, other := newPKI(t), newPKI(t)
	c := startCluster(t, 1, kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{broker.server}, ClientCAs: broker.pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}))
	dir := t.TempDir()
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	filetest.Copy(t, other.ca, ca)
	filetest.Copy(t, other.clientCert, cert)
	filetest.Copy(t, other.clientKey, key)
	opts := testOptions(c)
	opts.TLS = TLSOptions{CA: ca, Cert: cert, Key: key}
	conn, err := opts.connection(nil)
	if err != nil {
		t.Fatal(err)
	}
	files := conn.tls.Files()
	if len(files) != 2 || files[0].Use != "kafka-ca" || files[1].Use != "kafka-client-cert" || files[0].File.Path() != ca || files[1].File.Path() != cert {
		t.Fatalf("TLS files %+v", files)
	}
	reload := func(i int) {
		t.Helper()
		if changed, err := files[i].File.Reload(); !changed || err != nil {
			t.Fatalf("reload %s: changed %v, err %v", files[i].Use, changed, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func() error {
		kc, err := conn.dialer.DialContext(ctx, "tcp", c.addrs[0])
		if err == nil {
			_, err = kc.ReadPartitions(tDecisions)
			kc.Close()
		}
		return err
	}
	var unknown x509.UnknownAuthorityError
	if err := dial(); !errors.As(err, &unknown) {
		t.Fatalf("a CA that does not know the broker: %v", err)
	}
	filetest.Copy(t, broker.ca, ca)
	reload(0)
	if err := dial(); err == nil || !strings.Contains(err.Error(), "remote error") {
		t.Fatalf("a client certificate the broker does not trust: %v", err)
	}
	filetest.Copy(t, broker.clientCert, cert)
	filetest.Copy(t, broker.clientKey, key)
	reload(1)
	if err := dial(); err != nil {
		t.Fatalf("after both reloads: %v", err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(c.addrs...), Topic: tDecisions, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Transport: conn.transport}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("through the transport")}); err != nil {
		t.Fatalf("produce after the reloads: %v", err)
	}
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: c.addrs, Topic: tDecisions, Dialer: conn.dialer, MaxWait: 50 * time.Millisecond})
	defer rd.Close()
	if m, err := rd.ReadMessage(ctx); err != nil || string(m.Value) != "through the transport" {
		t.Fatalf("consume after the reloads: %q, %v", m.Value, err)
	}

	// The name checked is the broker's, unless overridden.
	opts.TLS.ServerName = "kafka.example"
	named, err := opts.connection(nil)
	if err != nil {
		t.Fatal(err)
	}
	var hostname x509.HostnameError
	if _, err := named.dialer.DialContext(ctx, "tcp", c.addrs[0]); !errors.As(err, &hostname) {
		t.Fatalf("a broker certificate without the name asked for: %v", err)
	}
}
