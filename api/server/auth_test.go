package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/riskgate/riskgate/api/auth"
	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/grpcapi"
	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/api/service"
)

// TestAdminNeedsCredentials: every admin operation is refused without the
// admin token, with a wrong one, and with the scoring token, on both APIs;
// the admin token opens them; scoring needs its token once one is set.
func TestAdminNeedsCredentials(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken, scoring: scoringToken})
	conn := ts.grpcConn(t)
	risk, rulesc := pb.NewRiskServiceClient(conn), pb.NewRulesServiceClient(conn)
	ctx := context.Background()

	grpcAdmin := map[string]func(ctx context.Context) error{
		"GetProfile": func(ctx context.Context) error {
			_, err := risk.GetProfile(ctx, &pb.GetProfileRequest{UserId: "u"})
			return err
		},
		"Forget": func(ctx context.Context) error {
			_, err := risk.Forget(ctx, &pb.ForgetRequest{UserId: "u"})
			return err
		},
		"Rules.Get": func(ctx context.Context) error { _, err := rulesc.Get(ctx, &pb.GetRulesRequest{}); return err },
		"Rules.Validate": func(ctx context.Context) error {
			_, err := rulesc.Validate(ctx, &pb.ValidateRulesRequest{})
			return err
		},
		"Rules.Put":  func(ctx context.Context) error { _, err := rulesc.Put(ctx, &pb.PutRulesRequest{}); return err },
		"Rules.Test": func(ctx context.Context) error { _, err := rulesc.Test(ctx, &pb.TestRulesRequest{}); return err },
	}
	for name, call := range grpcAdmin {
		for _, c := range []struct {
			token string
			want  codes.Code
		}{{"", codes.Unauthenticated}, {"wrong-token-0123456789abcdef", codes.Unauthenticated}, {scoringToken, codes.PermissionDenied}} {
			if err := call(withToken(ctx, c.token)); status.Code(err) != c.want {
				t.Errorf("grpc %s with token %q: %v, want %v", name, c.token, err, c.want)
			}
		}
		// With the admin token the call reaches the handler: whatever it
		// answers, it is not an auth refusal.
		if err := call(withToken(ctx, adminToken)); status.Code(err) == codes.Unauthenticated || status.Code(err) == codes.PermissionDenied {
			t.Errorf("grpc %s with the admin token: %v", name, err)
		}
	}

	httpAdmin := [][2]string{
		{"GET", "/v1/users/default/u"}, {"DELETE", "/v1/users/default/u"}, {"GET", "/v1/rules"},
		{"PUT", "/v1/rules"}, {"POST", "/v1/rules:validate"}, {"POST", "/v1/rules:test"},
	}
	for _, r := range httpAdmin {
		for _, c := range []struct {
			token string
			want  int
		}{{"", 401}, {"wrong-token-0123456789abcdef", 401}, {scoringToken, 403}} {
			var e apiError
			if code := httpDo(t, nil, r[0], ts.url(r[1]), c.token, "{}", &e); code != c.want {
				t.Errorf("http %s %s with token %q: %d %+v, want %d", r[0], r[1], c.token, code, e, c.want)
			}
		}
		if code := httpDo(t, nil, r[0], ts.url(r[1]), adminToken, "{}", nil); code == 401 || code == 403 {
			t.Errorf("http %s %s with the admin token: %d", r[0], r[1], code)
		}
	}

	// Scoring: the scoring token or the admin token.
	att := &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160"}}
	if _, err := risk.Score(ctx, att); status.Code(err) != codes.Unauthenticated {
		t.Errorf("score without the scoring token: %v", err)
	}
	for _, tok := range []string{scoringToken, adminToken} {
		if _, err := risk.Score(withToken(ctx, tok), att); err != nil {
			t.Errorf("score with %q: %v", tok, err)
		}
	}
	if code := httpDo(t, nil, "POST", ts.url("/v1/score"), "", `{"ip":"81.2.69.160"}`, nil); code != 401 {
		t.Errorf("http score without the scoring token: %d", code)
	}
	if code := httpDo(t, nil, "POST", ts.url("/v1/score"), scoringToken, `{"ip":"81.2.69.160"}`, nil); code != 200 {
		t.Errorf("http score with the scoring token: %d", code)
	}
	// Health and metrics stay open.
	if code := httpDo(t, nil, "GET", ts.url("/healthz"), "", nil, nil); code != 200 {
		t.Errorf("healthz: %d", code)
	}
}

// TestAdminOffWithoutCredentials: with no admin token and no admin
// certificates, the admin API is off, not open.
func TestAdminOffWithoutCredentials(t *testing.T) {
	ts := startServer(t, testOpts{})
	rulesc := pb.NewRulesServiceClient(ts.grpcConn(t))
	if _, err := rulesc.Get(context.Background(), &pb.GetRulesRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("grpc: %v", err)
	}
	var e apiError
	if code := httpDo(t, nil, "GET", ts.url("/v1/rules"), "", nil, &e); code != 403 || e.Error.Code != "permission_denied" {
		t.Errorf("http: %d %+v", code, e)
	}
	// Scoring is open.
	if code := httpDo(t, nil, "POST", ts.url("/v1/score"), "", `{"ip":"81.2.69.160"}`, nil); code != 200 {
		t.Errorf("open scoring: %d", code)
	}
}

// pki is a throwaway CA with a server and two client certificates.
type pki struct {
	dir                       string
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
	admin, other              tls.Certificate
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "riskgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, server bool) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if server {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalPKCS8PrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
	}
	write := func(name string, data []byte) string {
		f := filepath.Join(p.dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	p.caFile = write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	c, k := issue(2, "riskgate.test", x509.ExtKeyUsageServerAuth, true)
	p.certFile, p.keyFile = write("server.pem", c), write("server-key.pem", k)
	c, k = issue(3, "soc-admin", x509.ExtKeyUsageClientAuth, false)
	if p.admin, err = tls.X509KeyPair(c, k); err != nil {
		t.Fatal(err)
	}
	c, k = issue(4, "identity-server", x509.ExtKeyUsageClientAuth, false)
	if p.other, err = tls.X509KeyPair(c, k); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pki) serverTLS(auth string) server.TLS {
	return server.TLS{CertFile: p.certFile, KeyFile: p.keyFile, ClientCAFile: p.caFile, ClientAuth: auth}
}

func (p *pki) client(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: p.pool, Certificates: certs, MinVersion: tls.VersionTLS12}
}

// TestMutualTLS: with a client CA, a certificate named in admin-cert-names
// is admin on both APIs without a token; another verified certificate is
// not; with client_auth require, a client without a certificate cannot
// even connect.
func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	ts := startServer(t, testOpts{admin: adminToken, adminCertNames: []string{"soc-admin"}, httpTLS: p.serverTLS("optional"), grpcTLS: p.serverTLS("require")})
	ctx := context.Background()

	adminConn := dial(t, ts.addrs.GRPC, credentials.NewTLS(p.client(p.admin)))
	if _, err := pb.NewRulesServiceClient(adminConn).Get(ctx, &pb.GetRulesRequest{}); err != nil {
		t.Errorf("grpc with the admin certificate: %v", err)
	}
	otherConn := dial(t, ts.addrs.GRPC, credentials.NewTLS(p.client(p.other)))
	if _, err := pb.NewRulesServiceClient(otherConn).Get(ctx, &pb.GetRulesRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("grpc with a non-admin certificate: %v", err)
	}
	if _, err := pb.NewRiskServiceClient(otherConn).Score(ctx, &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160"}}); err != nil {
		t.Errorf("grpc scoring with a verified certificate: %v", err)
	}
	// The token still works over TLS with any verified certificate.
	if _, err := pb.NewRulesServiceClient(otherConn).Get(withToken(ctx, adminToken), &pb.GetRulesRequest{}); err != nil {
		t.Errorf("grpc with the admin token over mTLS: %v", err)
	}
	noCert := dial(t, ts.addrs.GRPC, credentials.NewTLS(p.client()))
	if _, err := pb.NewRiskServiceClient(noCert).Score(ctx, &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160"}}); status.Code(err) != codes.Unavailable {
		t.Errorf("grpc without a client certificate under require: %v", err)
	}

	// HTTP, client certificates optional.
	if code := httpDo(t, tlsClient(p.client(p.admin)), "GET", ts.url("/v1/rules"), "", nil, nil); code != 200 {
		t.Errorf("https with the admin certificate: %d", code)
	}
	if code := httpDo(t, tlsClient(p.client(p.other)), "GET", ts.url("/v1/rules"), "", nil, nil); code != 403 {
		t.Errorf("https with a non-admin certificate: %d", code)
	}
	if code := httpDo(t, tlsClient(p.client()), "GET", ts.url("/v1/rules"), "", nil, nil); code != 401 {
		t.Errorf("https without a certificate: %d", code)
	}
	if code := httpDo(t, tlsClient(p.client()), "GET", ts.url("/v1/rules"), adminToken, nil, nil); code != 200 {
		t.Errorf("https with the admin token: %d", code)
	}
	// A certificate from another CA is refused at the handshake.
	stranger := newPKI(t)
	req, _ := tlsClient(p.client(stranger.admin)).Get(ts.url("/healthz"))
	if req != nil {
		req.Body.Close()
		t.Errorf("https with a certificate of another CA was accepted")
	}
}

// TestEveryEndpointHasALevel walks every gRPC method the server registers
// (riskgate's services, health, reflection) and every HTTP route it serves
// (the API and the operational routes, on either listener) and checks that
// each maps to a service operation, whose declared level is what a caller
// needs: nothing is public, or closed, by omission.
func TestEveryEndpointHasALevel(t *testing.T) {
	for _, apart := range []bool{false, true} {
		ts := startServer(t, testOpts{metricsApart: apart})
		methods := ts.srv.GRPCMethods()
		if len(methods) < 10 {
			t.Fatalf("only %d gRPC methods: %v", len(methods), methods)
		}
		for _, m := range methods {
			if op, ok := grpcapi.OpOf(m); !ok || !op.Valid() {
				t.Errorf("gRPC %s has no service operation", m)
			}
		}
		for _, r := range ts.srv.Routes() {
			if !r.Op.Valid() {
				t.Errorf("HTTP %s has no service operation", r.Pattern())
			}
		}
	}
	// And the levels are the documented ones.
	for op, want := range map[service.Op]auth.Level{
		service.OpScore: auth.Scoring, service.OpReport: auth.Scoring, service.OpProfile: auth.Admin, service.OpForget: auth.Admin,
		service.OpRulesGet: auth.Admin, service.OpRulesPut: auth.Admin, service.OpRulesValidate: auth.Admin, service.OpRulesTest: auth.Admin,
		service.OpBacktest: auth.Admin, service.OpProbe: auth.Public, service.OpKratosLogin: auth.Hook, service.OpRulesPromote: auth.Admin,
		service.OpTenantRulesGet: auth.TenantAdmin, service.OpTenantRulesPut: auth.TenantAdmin,
		service.OpTenantRulesValidate: auth.TenantAdmin, service.OpTenantRulesPromote: auth.TenantAdmin,
	} {
		if op.Level() != want {
			t.Errorf("%s: level %s, want %s", op, op.Level(), want)
		}
	}
	if got := len(service.Ops()); got != 16 {
		t.Errorf("%d operations: a new one needs its level checked here", got)
	}
}

// TestCertificateMetrics: each TLS listener's certificate in use says when
// it expires, and a refused reload is counted while the previous
// certificate keeps serving.
func TestCertificateMetrics(t *testing.T) {
	p := newPKI(t)
	ts := startServer(t, testOpts{httpTLS: p.serverTLS("optional"), grpcTLS: p.serverTLS("optional")})
	kp, err := tls.LoadX509KeyPair(p.certFile, p.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	notAfter := float64(kp.Leaf.NotAfter.Unix())
	for _, l := range []string{"http", "grpc"} {
		if got := ts.metricValue(t, "riskgate_tls_certificate_expiry_timestamp_seconds", "listener", l, "cert", p.certFile); got != notAfter {
			t.Errorf("%s expiry %v, want %v", l, got, notAfter)
		}
	}
	good, err := os.ReadFile(p.certFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.certFile, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.ReloadCertificates(); err == nil {
		t.Fatal("a broken certificate reloaded")
	}
	for _, l := range []string{"http", "grpc"} {
		if got := ts.metricValue(t, "riskgate_tls_certificate_reload_failures_total", "listener", l, "cert", p.certFile); got != 1 {
			t.Errorf("%s reload failures %v, want 1", l, got)
		}
		if got := ts.metricValue(t, "riskgate_tls_certificate_expiry_timestamp_seconds", "listener", l, "cert", p.certFile); got != notAfter {
			t.Errorf("%s expiry after a refused reload %v, want %v", l, got, notAfter)
		}
		if got := ts.metricValue(t, "riskgate_tls_certificate_last_reload_success", "listener", l, "cert", p.certFile); got != 0 {
			t.Errorf("%s last reload success %v after a refused reload, want 0", l, got)
		}
	}
	if code := httpDo(t, tlsClient(p.client()), "GET", ts.url("/healthz"), "", nil, nil); code != 200 {
		t.Errorf("https after a refused reload: %d", code)
	}
	if err := os.WriteFile(p.certFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.ReloadCertificates(); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"http", "grpc"} {
		if got := ts.metricValue(t, "riskgate_tls_certificate_last_reload_success", "listener", l, "cert", p.certFile); got != 1 {
			t.Errorf("%s last reload success %v after the certificate was fixed, want 1", l, got)
		}
	}
}

// TestReloadCertificatesOf: a change of one listener's files reloads that
// listener's key pair alone: its renewal is neither refused nor retried
// for another listener's broken files, and the other's failures are not
// counted again for it.
func TestReloadCertificatesOf(t *testing.T) {
	h, g := newPKI(t), newPKI(t)
	ts := startServer(t, testOpts{httpTLS: h.serverTLS("optional"), grpcTLS: g.serverTLS("optional")})
	if err := os.WriteFile(g.certFile, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.ReloadCertificatesOf(h.keyFile); err != nil {
		t.Errorf("the http listener's key file: %v, want nil (the grpc listener's files are not its)", err)
	}
	if err := ts.srv.ReloadCertificatesOf(g.certFile); err == nil {
		t.Error("the grpc listener's broken certificate reloaded")
	}
	for _, c := range []struct {
		listener, cert string
		failures       float64
	}{{"http", h.certFile, 0}, {"grpc", g.certFile, 1}} {
		if got := ts.metricValue(t, "riskgate_tls_certificate_reload_failures_total", "listener", c.listener, "cert", c.cert); got != c.failures {
			t.Errorf("%s reload failures %v, want %v", c.listener, got, c.failures)
		}
	}
	if got := ts.srv.FailingCertificates(); !slices.Equal(got, []string{g.certFile}) {
		t.Errorf("failing certificates %q, want the grpc listener's", got)
	}
}

// TestREADMERouteTable: the README's table of routes and who may call
// them lists every route the API serves, each with its level: an
// operator auditing access reads that table, not ops.go.
func TestREADMERouteTable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "| route | gRPC | who |\n")
	if !ok {
		t.Fatal("README: no table of routes")
	}
	if end := strings.Index(table, "\n\n"); end >= 0 {
		table = table[:end]
	}
	listed := map[string]string{} // pattern → who
	route := regexp.MustCompile("`((?:GET|PUT|POST|DELETE) /v1/[^`]*)`")
	for _, row := range strings.Split(table, "\n") {
		cells := strings.Split(row, "|")
		if len(cells) < 4 {
			continue
		}
		for _, m := range route.FindAllStringSubmatch(cells[1], -1) {
			listed[m[1]] = cells[3]
		}
	}
	ts := startServer(t, testOpts{})
	words := map[auth.Level]string{auth.Scoring: "scoring", auth.Admin: "admin", auth.TenantAdmin: "tenant's own admin token", auth.Hook: "hook"}
	for _, r := range ts.srv.Routes() {
		want, ok := words[r.Op.Level()]
		if !ok {
			continue // the probes: /metrics, /healthz, /readyz
		}
		who, ok := listed[r.Pattern()]
		switch {
		case !ok:
			t.Errorf("README's route table lacks %s (%s)", r.Pattern(), r.Op.Level())
		case !strings.Contains(who, want):
			t.Errorf("README's route table: %s is for %q, want %s", r.Pattern(), strings.TrimSpace(who), want)
		}
	}
}
