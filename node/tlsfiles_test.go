package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/riskgate/riskgate/internal/filetest"
	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/internal/syncbuf"
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
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}, IPAddresses: []net.IP{net.IPv6loopback, net.IPv4(127, 0, 0, 1)},
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

// TestTLSFilesOnANode: each TLS file a node uses besides its listeners'
// key pairs gets when it stops being of use, and its refused reloads at
// 0: a CA file when its last certificate expires (a bundle with an
// expired root still verifies), Kafka's client certificate when the first
// of its chain does, whatever their order. Kafka's files have one series
// each though the runner and the alert sink both use them; a client CA of
// a listener not served has none.
func TestTLSFilesOnANode(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().Truncate(time.Second)
	day := func(n int) time.Time { return now.Add(time.Duration(n) * 24 * time.Hour) }
	bundle, _ := writeCerts(t, dir, "bundle", day(20), day(400), day(-700)) // an expired root among them
	client, clientKey := writeCerts(t, dir, "client", day(60), day(30))     // the intermediate expires first
	hook, _ := writeCerts(t, dir, "hook", day(5))
	grpcCA, _ := writeCerts(t, dir, "grpc-ca", day(90))
	cert, key := writeCerts(t, dir, "server", day(1))
	cfg := Config{HTTP: HTTPConfig{Addr: "127.0.0.1:0"}, GRPC: GRPCConfig{Addr: "127.0.0.1:0"}}
	cfg.HTTP.TLS = TLSConfig{Cert: cert, Key: key, ClientCA: bundle}
	cfg.GRPC.TLS = TLSConfig{Cert: cert, Key: key, ClientCA: grpcCA}
	cfg.Kafka.Brokers, cfg.Kafka.AttemptsTopic, cfg.Kafka.DecisionsTopic, cfg.Kafka.AlertsTopic = []string{"127.0.0.1:1"}, "attempts", "decisions", "alerts"
	cfg.Kafka.TLS.CA, cfg.Kafka.TLS.Cert, cfg.Kafka.TLS.Key = bundle, client, clientKey
	cfg.Alerts.WebhookURL, cfg.Alerts.WebhookCA, cfg.Alerts.WebhookSecret = "https://soc.example/alerts", hook, "webhook-secret-0123456789"
	reg := prometheus.NewPedanticRegistry()
	n, err := New(context.Background(), cfg, WithRegistry(reg), WithSecret([]byte("tls-file-test-secret-0123")), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	if _, err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{
		"http-client-ca " + bundle: day(400), "grpc-client-ca " + grpcCA: day(90), "kafka-ca " + bundle: day(400),
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
	if failures := seriesValues(t, reg, "riskgate_tls_file_reload_failures_total", "use", "file"); len(failures) != len(want) {
		t.Errorf("reload failures %v, want a series at 0 for each file", failures)
	}

	// The same gRPC client CA for a listener that is not served.
	cfg = Config{HTTP: HTTPConfig{Addr: "127.0.0.1:0"}, GRPC: GRPCConfig{TLS: TLSConfig{Cert: cert, Key: key, ClientCA: grpcCA}}}
	reg = prometheus.NewPedanticRegistry()
	off, err := New(context.Background(), cfg, WithRegistry(reg), WithSecret([]byte("tls-file-test-secret-0123")), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close(context.Background())
	if _, err := off.Listen(); err != nil {
		t.Fatal(err)
	}
	if got := seriesValues(t, reg, "riskgate_tls_file_expiry_timestamp_seconds", "use", "file"); len(got) != 0 {
		t.Errorf("a listener not served: %v", got)
	}
}

// TestTLSFileReloadOnSIGHUP: SIGHUP re-reads the gRPC listener's client
// CA file: a client of the CA put in the file is served from then on, one
// of the CA taken out is refused, its connection open before closed, and
// the file's series follow. A file that fails to re-read keeps the CA in
// force, and is counted.
func TestTLSFileReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().Truncate(time.Second)
	day := func(n int) time.Time { return now.Add(time.Duration(n) * 24 * time.Hour) }
	cert, key := writeCerts(t, dir, "server", day(1))
	oldCert, oldKey := writeCerts(t, dir, "old-client", day(30)) // self-signed: the CA file holds it
	newCert, newKey := writeCerts(t, dir, "new-client", day(90))
	clients := filepath.Join(dir, "clients.pem")
	filetest.Copy(t, oldCert, clients)
	cfg := Config{HTTP: HTTPConfig{Addr: "127.0.0.1:0"}, GRPC: GRPCConfig{Addr: "127.0.0.1:0"}}
	cfg.GRPC.TLS = TLSConfig{Cert: cert, Key: key, ClientCA: clients, ClientAuth: "require"}
	reg := prometheus.NewRegistry()
	n, err := New(context.Background(), cfg, WithRegistry(reg), WithSecret([]byte("tls-file-test-secret-0123")), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := n.Listen()
	if err != nil {
		t.Fatal(err)
	}
	hup := serveWithSIGHUP(t, n)
	serverPool := x509.NewCertPool()
	serverPEM, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	serverPool.AppendCertsFromPEM(serverPEM)
	connect := func(certFile, keyFile string) *grpc.ClientConn {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		creds := credentials.NewTLS(&tls.Config{RootCAs: serverPool, Certificates: []tls.Certificate{pair}, ServerName: "server", MinVersion: tls.VersionTLS12})
		conn, err := grpc.NewClient(srv.Addrs().GRPC, grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	check := func(conn *grpc.ClientConn) error {
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer rcancel()
		_, err := healthpb.NewHealthClient(conn).Check(rctx, &healthpb.HealthCheckRequest{})
		return err
	}
	// health answers over a new connection with the client certificate
	// of certFile, as a load balancer's probe would.
	health := func(certFile, keyFile string) error {
		conn := connect(certFile, keyFile)
		defer conn.Close()
		return check(conn)
	}
	series := func() (float64, float64) {
		k := "grpc-client-ca " + clients
		return seriesValues(t, reg, "riskgate_tls_file_expiry_timestamp_seconds", "use", "file")[k],
			seriesValues(t, reg, "riskgate_tls_file_reload_failures_total", "use", "file")[k]
	}
	sighup := func(done func() bool) {
		t.Helper()
		sighupUntil(t, hup, done, func() string {
			until, failures := series()
			return fmt.Sprintf("expiry %v, failures %v", until, failures)
		})
	}
	if err := health(oldCert, oldKey); err != nil {
		t.Fatalf("a client of the CA in the file: %v", err)
	}
	if err := health(newCert, newKey); err == nil {
		t.Fatal("a client of a CA not in the file was served")
	}
	// A client of the CA about to be taken out, connected before.
	open := connect(oldCert, oldKey)
	defer open.Close()
	if err := check(open); err != nil {
		t.Fatal(err)
	}

	filetest.Copy(t, newCert, clients)
	sighup(func() bool { until, _ := series(); return until == float64(day(90).Unix()) })
	if err := health(newCert, newKey); err != nil {
		t.Errorf("a client of the CA put in the file: %v", err)
	}
	if err := health(oldCert, oldKey); err == nil {
		t.Error("a client of the CA taken out was served")
	}
	// The SIGHUP closes it after the file's series moved: wait for it.
	for deadline := time.Now().Add(10 * time.Second); check(open) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the connection of a client of the CA taken out, open before, was kept")
		}
	}

	if err := os.WriteFile(clients, []byte("-----BEGIN CERTIFICATE-----\nMIIB"), 0o600); err != nil {
		t.Fatal(err)
	}
	sighup(func() bool { _, failures := series(); return failures == 1 })
	if until, _ := series(); until != float64(day(90).Unix()) {
		t.Errorf("after a refused reload the series reads %v", until)
	}
	if ok := seriesValues(t, reg, "riskgate_tls_file_last_reload_success", "use", "file")["grpc-client-ca "+clients]; ok != 0 {
		t.Errorf("after a refused reload last_reload_success reads %v, want 0", ok)
	}
	if err := health(newCert, newKey); err != nil {
		t.Errorf("after a refused reload: %v", err)
	}
}

// TestStoreTLSReloadOnSIGHUP: a Redis over TLS that asks for a client
// certificate (its default), reached with --store-tls-ca and
// --store-tls-cert/--store-tls-key. The node starts with a CA that does
// not know Redis's certificate and a client certificate Redis does not
// trust: the store is down, decisions are made without state. SIGHUP
// after the CA file is fixed is not enough (Redis still refuses the
// client); SIGHUP after the key pair is renewed too brings the store up,
// without a restart.
func TestStoreTLSReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().Truncate(time.Second)
	day := func(n int) time.Time { return now.Add(time.Duration(n) * 24 * time.Hour) }
	redisCert, redisKey := writeCerts(t, dir, "redis", day(30))
	trusted, trustedKey := writeCerts(t, dir, "riskgate", day(60))
	stranger, strangerKey := writeCerts(t, dir, "stranger", day(90))
	rds := redistest.StartTLS(t, redistest.TLSFiles{Cert: redisCert, Key: redisKey, CA: trusted})
	ca, cert, key := filepath.Join(dir, "store-ca.pem"), filepath.Join(dir, "store.pem"), filepath.Join(dir, "store.key")
	filetest.Copy(t, stranger, ca)
	filetest.Copy(t, stranger, cert)
	filetest.Copy(t, strangerKey, key)

	cfg := Config{HTTP: HTTPConfig{Addr: "127.0.0.1:0"}, Store: rds.TLSURL, StoreTLS: StoreTLSConfig{CA: ca, Cert: cert, Key: key}}
	reg := prometheus.NewRegistry()
	n, err := New(context.Background(), cfg, WithRegistry(reg), WithSecret([]byte("store-tls-test-secret-0123")), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	hup := serveWithSIGHUP(t, n)
	up := func() float64 { return seriesValues(t, reg, "riskgate_store_up")[""] }
	expiry := func(use, file string) float64 {
		return seriesValues(t, reg, "riskgate_tls_file_expiry_timestamp_seconds", "use", "file")[use+" "+file]
	}
	sighup := func(done func() bool) {
		t.Helper()
		sighupUntil(t, hup, done, func() string {
			return fmt.Sprintf("store up %v, CA file until %v, client certificate until %v", up(), expiry("store-ca", ca), expiry("store-client-cert", cert))
		})
	}
	time.Sleep(500 * time.Millisecond) // the background connector tried
	if up() != 0 {
		t.Fatal("the store is up through a CA that does not know Redis's certificate")
	}

	filetest.Copy(t, redisCert, ca)
	sighup(func() bool { return expiry("store-ca", ca) == float64(day(30).Unix()) })
	time.Sleep(500 * time.Millisecond)
	if up() != 0 {
		t.Fatal("the store is up with a client certificate Redis does not trust")
	}

	filetest.Copy(t, trusted, cert)
	filetest.Copy(t, trustedKey, key)
	sighup(func() bool { return up() == 1 })
	if got := expiry("store-client-cert", cert); got != float64(day(60).Unix()) {
		t.Errorf("the client certificate's series reads %v", got)
	}
}

// TestListenAgainAfterAPortTaken: a Listen that failed on a taken port
// and is called again exports each TLS file once; /metrics would
// otherwise fail on two series of the same labels.
func TestListenAgainAfterAPortTaken(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCerts(t, dir, "server", time.Now().Add(24*time.Hour))
	ca, _ := writeCerts(t, dir, "clients-ca", time.Now().Add(48*time.Hour))
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{HTTP: HTTPConfig{Addr: taken.Addr().String(), TLS: TLSConfig{Cert: cert, Key: key, ClientCA: ca}}}
	reg := prometheus.NewPedanticRegistry()
	n, err := New(context.Background(), cfg, WithRegistry(reg), WithSecret([]byte("tls-file-test-secret-0123")), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	if _, err := n.Listen(); err == nil {
		t.Fatal("Listen on a taken port succeeded")
	}
	taken.Close()
	if _, err := n.Listen(); err != nil {
		t.Fatal(err)
	}
	if got := seriesValues(t, reg, "riskgate_tls_file_expiry_timestamp_seconds", "use", "file"); len(got) != 1 {
		t.Fatalf("series %v, want the HTTP client CA once", got)
	}
}

// TestTLSFilesWatched: without a SIGHUP, a client CA file and a
// listener's key pair replaced on disk (as cert-manager and certbot do)
// are re-read: the client of the CA put in the file is served, the
// listener serves its new certificate, and the series follow. A file
// merely touched is no change. A key pair written one file at a time (its
// certificate, and only later its key) is refused in between, and its
// last_reload_success back to 1 once the key is written; a client CA
// file broken and then put back as it was is back to 1 too.
func TestTLSFilesWatched(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().Truncate(time.Second)
	day := func(n int) time.Time { return now.Add(time.Duration(n) * 24 * time.Hour) }
	oldServer, oldServerKey := writeCerts(t, dir, "server", day(2))
	newServer, newServerKey := writeCerts(t, dir, "server-next", day(80))
	oldClient, _ := writeCerts(t, dir, "old-client", day(30))
	newClient, newClientKey := writeCerts(t, dir, "new-client", day(90))
	cert, key, clients := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "clients.pem")
	filetest.Copy(t, oldServer, cert)
	filetest.Copy(t, oldServerKey, key)
	filetest.Copy(t, oldClient, clients)
	cfg := Config{HTTP: HTTPConfig{Addr: "127.0.0.1:0"}, GRPC: GRPCConfig{Addr: "127.0.0.1:0"}, TLSWatch: true}
	cfg.GRPC.TLS = TLSConfig{Cert: cert, Key: key, ClientCA: clients, ClientAuth: "require"}
	reg := prometheus.NewRegistry()
	var log syncbuf.Buffer
	n, err := New(context.Background(), cfg, WithRegistry(reg), WithSecret([]byte("tls-watch-test-secret-0123")), WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	serving, stop := context.WithCancel(context.Background())
	addrs, wait, err := n.Start(serving)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { stop(); _ = wait() }()
	series := func() (client, listener float64) {
		return seriesValues(t, reg, "riskgate_tls_file_expiry_timestamp_seconds", "use", "file")["grpc-client-ca "+clients],
			seriesValues(t, reg, "riskgate_tls_certificate_expiry_timestamp_seconds", "listener", "cert")["grpc "+cert]
	}
	if c, l := series(); c != float64(day(30).Unix()) || l != float64(day(2).Unix()) {
		t.Fatalf("at start: client CA until %v, listener's certificate until %v", c, l)
	}
	// Touched, not changed.
	if err := os.Chtimes(clients, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}

	filetest.Copy(t, newClient, clients)
	filetest.Copy(t, newServer, cert)
	filetest.Copy(t, newServerKey, key)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, l := series(); c == float64(day(90).Unix()) && l == float64(day(80).Unix()) {
			break
		}
		if time.Now().After(deadline) {
			c, l := series()
			t.Fatalf("not re-read: client CA until %v, listener's certificate until %v", c, l)
		}
	}
	if failures := seriesValues(t, reg, "riskgate_tls_file_reload_failures_total", "use", "file")["grpc-client-ca "+clients]; failures != 0 {
		t.Errorf("reload failures %v", failures)
	}
	// The new client connects, and sees the new certificate.
	roots := x509.NewCertPool()
	pemData, err := os.ReadFile(newServer)
	if err != nil {
		t.Fatal(err)
	}
	roots.AppendCertsFromPEM(pemData)
	pair, err := tls.LoadX509KeyPair(newClient, newClientKey)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addrs.GRPC, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, ServerName: "server-next", MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("a client of the new CA, verifying the new certificate: %v", err)
	}

	success := func() (client, listener float64) {
		return seriesValues(t, reg, "riskgate_tls_file_last_reload_success", "use", "file")["grpc-client-ca "+clients],
			seriesValues(t, reg, "riskgate_tls_certificate_last_reload_success", "listener", "cert")["grpc "+cert]
	}
	waitSuccess := func(what string, wantClient, wantListener float64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			c, l := success()
			if c == wantClient && l == wantListener {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: last reload success: client CA %v, listener %v; want %v, %v", what, c, l, wantClient, wantListener)
			}
		}
	}
	waitSuccess("after the rotation", 1, 1)
	thirdServer, thirdServerKey := writeCerts(t, dir, "server-third", day(120))
	filetest.Copy(t, thirdServer, cert)
	waitSuccess("the certificate written, not yet its key", 1, 0)
	filetest.Copy(t, thirdServerKey, key)
	waitSuccess("the key written too", 1, 1)
	if _, l := series(); l != float64(day(120).Unix()) {
		t.Errorf("the listener's certificate until %v, want the third's", l)
	}

	kept, err := os.ReadFile(clients)
	if err != nil {
		t.Fatal(err)
	}
	filetest.Replace(t, clients, []byte("-----BEGIN CERTIFICATE-----\nMIIB"))
	waitSuccess("the client CA file broken", 0, 1)
	filetest.Replace(t, clients, kept)
	waitSuccess("the client CA file put back as it was", 1, 1)

	// Deleted: the files in use stay in force (the new client still
	// connects), but a restart would fail on them, which the gauges say
	// until they are back.
	keyKept, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{clients, key} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	waitSuccess("the client CA file and the listener's key deleted", 0, 0)
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("after the files were deleted: %v", err)
	}
	filetest.Replace(t, clients, kept)
	filetest.Replace(t, key, keyKept)
	waitSuccess("the deleted files put back", 1, 1)
	// Their failures were logged; so is their end, though nothing in
	// use changed.
	for _, want := range []string{"tls certificate no longer refused", "tls file no longer refused"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log without %q after the files were put back", want)
		}
	}
}
