package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/node"
	"github.com/riskgate/riskgate/rules"
)

const (
	adminToken   = "admin-token-for-tests-0123456789"
	scoringToken = "scoring-token-for-tests-0123456789"
)

type testOpts struct {
	admin, scoring string
	adminCertNames []string
	httpTLS        server.TLS
	grpcTLS        server.TLS
	metricsApart   bool
	shutdown       time.Duration
	shutdownDelay  time.Duration
	checks         []server.Check
	// tenantTokens are tenant admin tokens (tenant → token); with them the
	// server has a tenants folder (testServer.tenantsDir).
	tenantTokens map[string]string
	// capture records a capture (serve --capture-dir) in a folder of its
	// own, for the backtest API.
	capture bool
	// rulesFile gives the server its rules as their file
	// (testServer.rulesDir/rules.yaml), not their folder.
	rulesFile bool
	// backtestTimeout replaces the capture's backtest timeout (a minute).
	backtestTimeout time.Duration
	// kratos mounts the Ory Kratos hook (POST /v1/kratos/login) with
	// kratosToken as its token.
	kratos bool
	// store replaces the node's memory store; the test closes it.
	store engine.Store
	// maxConnections is --max-connections (0: its default).
	maxConnections int
	// grpcAdmin serves the gRPC admin listener (--grpc-admin-addr).
	grpcAdmin bool
	// log, when set, is the node's logger.
	log *slog.Logger
}

// kratosToken is the Kratos hook's token of a server started with
// testOpts.kratos.
const kratosToken = "kratos-hook-token-0123456789"

// testServer is a real server on 127.0.0.1 ports, stopped by the test.
type testServer struct {
	srv      *server.Server
	addrs    server.Addrs
	rulesDir string
	// tenantsDir is the tenants' overlays folder, when testOpts.tenantTokens.
	tenantsDir string
	reg        *prometheus.Registry
	stop       func() error
	scheme     string
}

// startServer assembles a node as `riskgate serve` does (package node),
// on a folder holding the default rules, with the options' credentials,
// TLS and listeners, and serves it until the test ends.
func startServer(t testing.TB, o testOpts) *testServer {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules.DefaultSource().Data, 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.log != nil {
		log = o.log
	}
	tokenFile := func(name, token string) string {
		if token == "" {
			return ""
		}
		f := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(f, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	cfg := node.Config{
		HTTP: node.HTTPConfig{Addr: "127.0.0.1:0", TLS: tlsConfig(o.httpTLS)},
		GRPC: node.GRPCConfig{Addr: "127.0.0.1:0", Reflection: true, TLS: tlsConfig(o.grpcTLS)},
		Auth: node.AuthConfig{
			AdminTokenFile: tokenFile("admin", o.admin), ScoringTokenFile: tokenFile("scoring", o.scoring), AdminCertNames: o.adminCertNames,
		},
		RulesWatch: true, RulesDebounce: 20 * time.Millisecond, MaxConnections: o.maxConnections,
		Shutdown:     node.ShutdownConfig{Timeout: o.shutdown, Delay: o.shutdownDelay},
		EngineConfig: node.EngineConfig{Rules: []string{dir}, PasswordConfig: node.PasswordConfig{Breached: "none"}},
	}
	if o.rulesFile {
		cfg.Rules = []string{filepath.Join(dir, "rules.yaml")}
	}
	if o.capture {
		cfg.Capture = node.CaptureConfig{Dir: t.TempDir(), Retention: 24 * time.Hour, BacktestMaxAttempts: 1000, BacktestTimeout: time.Minute}
		if o.backtestTimeout > 0 {
			cfg.Capture.BacktestTimeout = o.backtestTimeout
		}
	}
	if o.metricsApart {
		cfg.Metrics.Addr = "127.0.0.1:0"
	}
	if o.grpcAdmin {
		cfg.GRPC.AdminAddr = "127.0.0.1:0"
	}
	tenantsDir := ""
	if len(o.tenantTokens) > 0 {
		tenantsDir = t.TempDir()
		var lines strings.Builder
		lines.WriteString("# tenant admin tokens\n")
		for tenant, token := range o.tenantTokens {
			lines.WriteString(tenant + " " + token + "\n")
		}
		cfg.Auth.TenantAdminTokensFile = tokenFile("tenants", lines.String())
		cfg.RulesTenants = tenantsDir
	}
	reg := prometheus.NewRegistry()
	opts := []node.Option{node.WithLogger(log), node.WithRegistry(reg), node.WithSecret([]byte("test-secret-0123456789abcdef"))}
	if o.kratos {
		cfg.Kratos = node.KratosConfig{TokenFile: tokenFile("kratos", kratosToken)}
		routes, err := node.KratosRoutes(&cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, node.WithRoutes(routes))
	}
	if o.store != nil {
		opts = append(opts, node.WithStore(o.store))
		t.Cleanup(func() { _ = o.store.Close(context.Background()) })
	}
	for _, c := range o.checks {
		if c.Optional {
			opts = append(opts, node.WithOptionalCheck(c.Name, c.HealthService, c.Check))
			continue
		}
		opts = append(opts, node.WithCheck(c.Name, c.Check))
	}
	n, err := node.New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := n.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs, wait, err := n.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stop := func() error { cancel(); return wait() }
	t.Cleanup(func() { _ = stop() })
	ts := &testServer{srv: srv, addrs: addrs, rulesDir: dir, tenantsDir: tenantsDir, reg: reg, stop: stop, scheme: "http"}
	if o.httpTLS.Enabled() {
		ts.scheme = "https"
	}
	return ts
}

func tlsConfig(t server.TLS) node.TLSConfig {
	return node.TLSConfig{Cert: t.CertFile, Key: t.KeyFile, ClientCA: t.ClientCAFile, ClientAuth: t.ClientAuth}
}

func (ts *testServer) url(path string) string { return ts.scheme + "://" + ts.addrs.HTTP + path }

// grpcConn dials the gRPC listener in plain text.
func (ts *testServer) grpcConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	return dial(t, ts.addrs.GRPC, insecure.NewCredentials())
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func withToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// adminRaw sends body as it is, with the admin token and contentType
// (none when empty), and returns the status and the answer.
func adminRaw(t *testing.T, method, url, contentType, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// httpDo sends a JSON request and decodes the JSON answer into out (when
// non-nil), returning the status.
func httpDo(t *testing.T, c *http.Client, method, url, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d: decoding %q: %v", method, url, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// apiError is the JSON error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
		Details []struct {
			File    string `json:"file"`
			Line    int    `json:"line"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

// metricValue reads one sample of the server's registry; labels are
// name=value pairs.
func (ts *testServer) metricValue(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := ts.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// label is a rules version's version: label, before its content hash
// ("strict-1" of "strict-1@sha256:24dad563c2a9").
func label(version string) string {
	l, _, _ := strings.Cut(version, "@")
	return l
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tlsClient(cfg *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}
