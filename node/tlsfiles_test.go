package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// writeCerts writes a PEM file of self-signed certificates expiring at
// notAfters, in that order, and returns its path and its key's (the
// first certificate's).
func writeCerts(t *testing.T, dir, name string, notAfters ...time.Time) (string, string) {
	t.Helper()
	var out []byte
	var keyPEM []byte
	for i, na := range notAfters {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: na, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
		if i == 0 {
			kder, err := x509.MarshalECPrivateKey(k)
			if err != nil {
				t.Fatal(err)
			}
			keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
		}
	}
	path, key := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

// TestTLSFileExpiries: each TLS file a node reads once and uses gets when
// it stops being of use: a CA file when its last certificate expires (a
// bundle with an expired root still verifies), Kafka's client certificate
// when the first of its chain does, whatever their order. A file without
// a certificate, a setting left empty, and a file given for a part that
// is off get none.
func TestTLSFileExpiries(t *testing.T) {
	dir := t.TempDir()
	day := func(n int) time.Time { return time.Now().Add(time.Duration(n) * 24 * time.Hour).Truncate(time.Second) }
	bundle, _ := writeCerts(t, dir, "bundle", day(20), day(400), day(-700)) // an expired root among them
	client, _ := writeCerts(t, dir, "client", day(60), day(30))             // the intermediate expires first
	hook, _ := writeCerts(t, dir, "hook", day(5))
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg Config
	cfg.HTTP.Addr, cfg.GRPC.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.HTTP.TLS.ClientCA = bundle
	cfg.GRPC.TLS.ClientCA = garbage
	cfg.Kafka.Brokers = []string{"kafka:9092"}
	cfg.Kafka.TLS.CA = bundle
	cfg.Kafka.TLS.Cert = client
	cfg.Alerts.WebhookURL = "https://soc.example/alerts"
	cfg.Alerts.WebhookCA = hook
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(tlsFilesCollector(tlsFileExpiries(&cfg)))
	want := map[string]time.Time{
		"http-client-ca " + bundle: day(400), "kafka-ca " + bundle: day(400),
		"kafka-client-cert " + client: day(30), "webhook-ca " + hook: day(5),
	}
	got := seriesValues(t, reg, "riskgate_tls_file_expiry_timestamp_seconds", "use", "file")
	if len(got) != len(want) {
		t.Errorf("series %v, want %v", got, want)
	}
	for k, at := range want {
		if got[k] != float64(at.Unix()) {
			t.Errorf("%s: %v, want %d", k, got[k], at.Unix())
		}
	}

	// The same files, for parts that are off.
	cfg.Kafka.Brokers, cfg.Alerts.WebhookURL, cfg.HTTP.Addr = nil, "", ""
	if got := tlsFileExpiries(&cfg); len(got) != 0 {
		t.Errorf("files of parts that are off: %v", got)
	}
}

// TestTLSFileExpiryOnANode: a node with mutual TLS on its gRPC listener
// exports its client CA's expiry from its start.
func TestTLSFileExpiryOnANode(t *testing.T) {
	dir := t.TempDir()
	notAfter := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	ca, _ := writeCerts(t, dir, "clients-ca", notAfter)
	cert, key := writeCerts(t, dir, "server", time.Now().Add(24*time.Hour))
	cfg := Config{HTTP: HTTPConfig{Addr: "127.0.0.1:0"}, GRPC: GRPCConfig{Addr: "127.0.0.1:0"}}
	cfg.GRPC.TLS = TLSConfig{Cert: cert, Key: key, ClientCA: ca, ClientAuth: "require"}
	reg := prometheus.NewRegistry()
	n, err := New(context.Background(), cfg, WithRegistry(reg), WithSecret([]byte("tls-file-test-secret-0123")), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	got := seriesValues(t, reg, "riskgate_tls_file_expiry_timestamp_seconds", "use", "file")
	if len(got) != 1 || got["grpc-client-ca "+ca] != float64(notAfter.Unix()) {
		t.Fatalf("series %v, want the gRPC client CA's expiry %d", got, notAfter.Unix())
	}
}
