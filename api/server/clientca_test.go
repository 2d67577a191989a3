package server_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/internal/filetest"
)

// TestClientCAReload: the listeners' client CA file re-read (as SIGHUP
// does) is in force from the next handshake: a client of the CA added
// connects, over HTTP/2, HTTP/1.1 and gRPC (ALPN still negotiated); a
// client of the CA removed is refused, even one holding a session ticket
// from before, which it could otherwise resume without showing its
// certificate again.
func TestClientCAReload(t *testing.T) {
	oldCA, newCA := newPKI(t), newPKI(t)
	clients := filepath.Join(t.TempDir(), "clients.pem")
	filetest.Copy(t, oldCA.caFile, clients)
	listener := server.TLS{CertFile: oldCA.certFile, KeyFile: oldCA.keyFile, ClientCAFile: clients, ClientAuth: "require"}
	ts := startServer(t, testOpts{httpTLS: listener, grpcTLS: listener})
	files := ts.srv.TLSFiles()
	if len(files) != 2 || files[0].Use != "http-client-ca" || files[1].Use != "grpc-client-ca" || files[0].File.Path() != clients {
		t.Fatalf("TLS files %+v", files)
	}
	reload := func() {
		t.Helper()
		for _, f := range files {
			if changed, err := f.File.Reload(); !changed || err != nil {
				t.Fatalf("reload %s: changed %v, err %v", f.Use, changed, err)
			}
		}
	}

	// A client of the CA in force, keeping its session tickets; its
	// second connection resumes, so that the refusal below is the
	// server's doing.
	oldClient := oldCA.client(oldCA.other)
	oldClient.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	oldTransport := &http.Transport{TLSClientConfig: oldClient, ForceAttemptHTTP2: true}
	get := func(tr *http.Transport) (*http.Response, error) {
		tr.CloseIdleConnections() // a connection, and a handshake, of its own
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(ts.url("/healthz"))
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	for i, wantResumed := range []bool{false, true} {
		resp, err := get(oldTransport)
		if err != nil {
			t.Fatalf("connection %d with the CA in force: %v", i, err)
		}
		if resp.TLS.DidResume != wantResumed || resp.ProtoMajor != 2 {
			t.Fatalf("connection %d: resumed %v, want %v; %s", i, resp.TLS.DidResume, wantResumed, resp.Proto)
		}
	}
	grpcScore := func(cfg *tls.Config) error {
		_, err := pb.NewRiskServiceClient(dial(t, ts.addrs.GRPC, credentials.NewTLS(cfg))).Score(context.Background(), &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160"}})
		return err
	}
	if err := grpcScore(oldCA.client(oldCA.other)); err != nil {
		t.Fatalf("gRPC with the CA in force: %v", err)
	}
	// Before the reload, the new CA's clients are strangers.
	newClient := newCA.client(newCA.other)
	newClient.RootCAs = oldCA.pool // the server's certificate is still the old CA's
	if _, err := get(&http.Transport{TLSClientConfig: newClient}); err == nil {
		t.Fatal("a client of a CA not in the file connected")
	}

	filetest.Copy(t, newCA.caFile, clients)
	reload()

	if resp, err := get(&http.Transport{TLSClientConfig: newClient.Clone(), ForceAttemptHTTP2: true}); err != nil || resp.ProtoMajor != 2 {
		t.Errorf("HTTP/2 with the CA added: %v", err)
	}
	if resp, err := get(&http.Transport{TLSClientConfig: newClient.Clone(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}); err != nil || resp.ProtoMajor != 1 {
		t.Errorf("HTTP/1.1 with the CA added: %v", err)
	}
	if err := grpcScore(newClient.Clone()); err != nil {
		t.Errorf("gRPC with the CA added: %v", err)
	}
	if _, err := get(oldTransport); err == nil {
		t.Error("a client of the CA removed connected with its session ticket")
	}
	if _, err := get(&http.Transport{TLSClientConfig: oldCA.client(oldCA.other)}); err == nil {
		t.Error("a client of the CA removed connected")
	}
	if err := grpcScore(oldCA.client(oldCA.other)); err == nil {
		t.Error("gRPC: a client of the CA removed was served")
	}

	// A bad file keeps the CA in force.
	if err := os.WriteFile(clients, []byte("rotating...\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if changed, err := f.File.Reload(); changed || err == nil || f.File.Failures() != 1 {
			t.Errorf("reload of a bad file: changed %v, err %v, failures %d", changed, err, f.File.Failures())
		}
	}
	if _, err := get(&http.Transport{TLSClientConfig: newClient.Clone()}); err != nil {
		t.Errorf("after a refused reload: %v", err)
	}
}

// TestClientCAWithoutHTTP2: with HTTP/2 switched off (GODEBUG
// http2server=0), a listener with a client CA offers HTTP/1.1 alone in
// the configurations it hands out per handshake, so an HTTP/2 client
// falls back to HTTP/1.1 rather than failing on a protocol the listener
// does not serve.
func TestClientCAWithoutHTTP2(t *testing.T) {
	t.Setenv("GODEBUG", "http2server=0")
	p := newPKI(t)
	ts := startServer(t, testOpts{httpTLS: p.serverTLS("require")})
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: p.client(p.other), ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	resp, err := c.Get(ts.url("/healthz"))
	if err != nil {
		t.Fatalf("an HTTP/2 client: %v", err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.StatusCode != 200 {
		t.Fatalf("%s %d, want HTTP/1.1 200", resp.Proto, resp.StatusCode)
	}
}

// TestClientCARemovedCutsConnections: connections open when a CA is taken
// out of the client CA file are closed by CutUntrustedClients, on both
// listeners, so that a client of that CA calling often does not keep its
// keep-alive connection for good; a client of a CA still in the file, and
// a client without a certificate (client_auth optional, with a token),
// keep theirs. A second call with the file unchanged closes nothing.
func TestClientCARemovedCutsConnections(t *testing.T) {
	oldCA, newCA := newPKI(t), newPKI(t)
	clients := filepath.Join(t.TempDir(), "clients.pem")
	both, err := os.ReadFile(oldCA.caFile)
	if err != nil {
		t.Fatal(err)
	}
	newPEM, err := os.ReadFile(newCA.caFile)
	if err != nil {
		t.Fatal(err)
	}
	filetest.Replace(t, clients, append(both, newPEM...))
	listener := server.TLS{CertFile: oldCA.certFile, KeyFile: oldCA.keyFile, ClientCAFile: clients, ClientAuth: "optional"}
	ts := startServer(t, testOpts{httpTLS: listener, grpcTLS: listener})

	// One keep-alive connection each; the server's certificate is the old
	// CA's, which every client trusts.
	client := func(certs ...tls.Certificate) *http.Client {
		cfg := oldCA.client(certs...)
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	}
	newClientCfg := newCA.client(newCA.other)
	newClientCfg.RootCAs = oldCA.pool
	stays := &http.Client{Transport: &http.Transport{TLSClientConfig: newClientCfg, ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	cut, anonymous := client(oldCA.other), client()
	type conn struct {
		name string
		c    *http.Client
		addr string
	}
	get := func(c *http.Client) (string, error) {
		var local string
		req, _ := http.NewRequest("GET", ts.url("/healthz"), nil)
		req = req.WithContext(httptraceLocal(req.Context(), &local))
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		return local, nil
	}
	conns := []*conn{{name: "old CA", c: cut}, {name: "new CA", c: stays}, {name: "no certificate", c: anonymous}}
	for _, c := range conns {
		if c.addr, err = get(c.c); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	grpcCall := func(conn *grpc.ClientConn) error {
		_, err := pb.NewRiskServiceClient(conn).Score(context.Background(), &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160"}})
		return err
	}
	oldGRPC := dial(t, ts.addrs.GRPC, credentials.NewTLS(oldCA.client(oldCA.other)))
	newGRPC := dial(t, ts.addrs.GRPC, credentials.NewTLS(newClientCfg.Clone()))
	for _, c := range []*grpc.ClientConn{oldGRPC, newGRPC} {
		if err := grpcCall(c); err != nil {
			t.Fatalf("gRPC before: %v", err)
		}
	}
	if got := ts.srv.CutUntrustedClients(); got["http"] != 0 || got["grpc"] != 0 {
		t.Fatalf("with both CAs in the file: closed %v", got)
	}

	filetest.Replace(t, clients, newPEM)
	for _, f := range ts.srv.TLSFiles() {
		if changed, err := f.File.Reload(); !changed || err != nil {
			t.Fatalf("reload %s: %v, %v", f.Use, changed, err)
		}
	}
	if got := ts.srv.CutUntrustedClients(); got["http"] != 1 || got["grpc"] != 1 {
		t.Errorf("after the old CA was taken out: closed %v, want one connection a listener", got)
	}
	if got := ts.srv.CutUntrustedClients(); got["http"] != 0 || got["grpc"] != 0 {
		t.Errorf("again with the file unchanged: closed %v", got)
	}
	for _, c := range conns {
		addr, err := get(c.c)
		switch {
		case c.c == cut && err == nil:
			t.Errorf("%s: served again (over %s, before %s)", c.name, addr, c.addr)
		case c.c != cut && (err != nil || addr != c.addr):
			t.Errorf("%s: %v, over %s, before %s: its connection was not kept", c.name, err, addr, c.addr)
		}
	}
	if err := grpcCall(oldGRPC); err == nil {
		t.Error("gRPC: the old CA's client was served again")
	}
	if err := grpcCall(newGRPC); err != nil {
		t.Errorf("gRPC: the new CA's client: %v", err)
	}
}

// httptraceLocal records the local address of the connection a request
// goes over.
func httptraceLocal(ctx context.Context, local *string) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		*local = info.Conn.LocalAddr().String()
	}})
}
