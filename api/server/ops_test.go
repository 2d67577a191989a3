package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/api/server"
	"github.com/riskgate/riskgate/internal/syncbuf"
)

// TestOpenAPIDescribesEveryRoute: the routes the mux serves and the paths
// of api/openapi.yaml are the same set, methods included; a path marked
// x-riskgate-when (the Kratos hook) is served only when configured, by a
// route the node adds, and is left out.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %q", doc.OpenAPI)
	}
	var described []string
	for path, ops := range doc.Paths {
		if _, optional := ops["x-riskgate-when"]; optional {
			continue
		}
		for method := range ops {
			if method == "parameters" {
				continue
			}
			described = append(described, strings.ToUpper(method)+" "+path)
		}
	}
	for _, apart := range []bool{false, true} {
		ts := startServer(t, testOpts{metricsApart: apart})
		var served []string
		for _, r := range ts.srv.Routes() {
			served = append(served, r.Pattern())
		}
		slices.Sort(served)
		slices.Sort(described)
		if !slices.Equal(served, described) {
			t.Errorf("metrics apart %v:\nserved    %q\ndescribed %q", apart, served, described)
		}
	}
}

// TestMetricsApart: with a metrics address, /metrics and the probes move
// there and leave the API listener.
func TestMetricsApart(t *testing.T) {
	ts := startServer(t, testOpts{metricsApart: true})
	if code := httpDo(t, nil, "GET", "http://"+ts.addrs.Metrics+"/metrics", "", nil, nil); code != 200 {
		t.Errorf("metrics listener /metrics: %d", code)
	}
	if code := httpDo(t, nil, "GET", "http://"+ts.addrs.Metrics+"/readyz", "", nil, nil); code != 200 {
		t.Errorf("metrics listener /readyz: %d", code)
	}
	if code := httpDo(t, nil, "GET", ts.url("/metrics"), "", nil, nil); code != 404 {
		t.Errorf("api listener /metrics: %d", code)
	}
}

// TestHTTPStrictness: wrong methods, unknown routes, non-JSON bodies,
// oversized bodies, unknown fields and trailing data are JSON errors.
func TestHTTPStrictness(t *testing.T) {
	ts := startServer(t, testOpts{})
	cases := []struct {
		method, path, ctype, body string
		code                      int
		errCode, field            string
	}{
		{"GET", "/v1/score", "", "", 405, "method_not_allowed", ""},
		{"GET", "/v1/nope", "", "", 404, "not_found", ""},
		// Not redirected to the clean path (an empty tenant, a DELETE of
		// another resource than named).
		{"GET", "/v1/users//u1", "", "", 400, "invalid_argument", ""},
		{"DELETE", "/v1/users/acme/../u1", "", "", 400, "invalid_argument", ""},
		{"GET", "/v1/score/.", "", "", 400, "invalid_argument", ""},
		{"POST", "/v1/score", "text/plain", `{"ip":"81.2.69.160"}`, 415, "unsupported_media_type", ""},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","attributes":{"a":"` + strings.Repeat("x", 70<<10) + `"}}`, 413, "too_large", ""},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","passwd":"hunter2"}`, 400, "invalid_argument", "passwd"},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160"}{"ip":"1.1.1.1"}`, 400, "invalid_argument", ""},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","geo":{"lat":"north"}}`, 400, "invalid_argument", "geo.lat"},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","time":"yesterday"}`, 400, "invalid_argument", "time"},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","result":"maybe"}`, 400, "invalid_argument", "result"},
		{"POST", "/v1/score", "application/json", `{}`, 400, "invalid_argument", "ip"},
		{"POST", "/v1/score", "application/json", ``, 400, "invalid_argument", "ip"}, // empty: names what is required
		{"POST", "/v1/outcome", "application/json", `{"decision_id":"nope","outcome":"login_failed"}`, 404, "not_found", "decision_id"},
		// Bad bytes (issue 10 item 10): each refused, naming the field.
		{"POST", "/v1/score", "application/json", "{\"ip\":\"81.2.69.160\",\"username\":\"al\xffice\"}", 400, "invalid_argument", "username"},
		{"POST", "/v1/score", "application/json", "{\"ip\":\"81.2.69.160\",\"attributes\":{\"k\":\"\xc3\"}}", 400, "invalid_argument", "attributes.k"},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","username":"\udbffx"}`, 400, "invalid_argument", "username"}, // half a surrogate pair, escaped
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","attributes":{"app":"web","a":1}}`, 400, "invalid_argument", "attributes.a"},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","Ip":"1.1.1.1"}`, 400, "invalid_argument", "Ip"},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","ip":"1.1.1.1"}`, 400, "invalid_argument", "ip"},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","attributes":{"k":"a","k":"b"}}`, 400, "invalid_argument", "attributes.k"},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","geo":{"Country":"FR"}}`, 400, "invalid_argument", "geo.Country"},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","attributes":{"k":"a\u0000b"}}`, 400, "invalid_argument", "attributes.k"},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","attributes":{"k":"a\r\nb"}}`, 400, "invalid_argument", "attributes.k"},
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","attributes":{"password":"hunter2"}}`, 400, "invalid_argument", "attributes.password"},
		{"POST", "/v1/outcome", "application/json", `{"decision_id":"x","Outcome":"login_failed"}`, 400, "invalid_argument", "Outcome"},
		{"POST", "/v1/outcome", "application/json", `{"decision_id":"x"}`, 400, "invalid_argument", "outcome"},
		{"POST", "/v1/outcome", "application/json", `{"outcome":"login_failed","attempt":{"ip":"nope"}}`, 400, "invalid_argument", "attempt.ip"},
		// An unknown key is named with its path, not alone.
		{"POST", "/v1/score", "application/json", `{"ip":"81.2.69.160","geo":{"zz":1}}`, 400, "invalid_argument", "geo.zz"},
		{"POST", "/v1/outcome", "application/json", `{"outcome":"login_failed","attempt":{"ip":"81.2.69.160","zz":1}}`, 400, "invalid_argument", "attempt.zz"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, ts.url(c.path), strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		decodeBody(t, resp, &e)
		if resp.StatusCode != c.code || e.Error.Code != c.errCode || e.Error.Field != c.field {
			t.Errorf("%s %s %.60q: %d %+v, want %d %s field %q", c.method, c.path, c.body, resp.StatusCode, e.Error, c.code, c.errCode, c.field)
		}
		if c.code == 405 && resp.Header.Get("Allow") != "POST" {
			t.Errorf("405 Allow: %q", resp.Header.Get("Allow"))
		}
	}
}

// TestGracefulShutdown: a request in flight when shutdown starts is
// answered; new connections are refused; the store is closed; Serve
// returns without error.
func TestGracefulShutdown(t *testing.T) {
	ts := startServer(t, testOpts{shutdown: 5 * time.Second})
	// Start a request and hold its body open, so it is in flight.
	conn, err := net.Dial("tcp", ts.addrs.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"ip":"81.2.69.160","user_id":"bob"}`
	head := "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := conn.Write([]byte(head + body[:10])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the server has read the headers
	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop() }()
	// Readiness drops at once, while the request is still in flight.
	waitFor(t, "grpc health NOT_SERVING", func() bool {
		_, err := pb.NewRiskServiceClient(ts.grpcConn(t)).Score(context.Background(), &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160"}})
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("stopped before the in-flight request finished: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := conn.Write([]byte(body[10:])); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") || !strings.Contains(string(buf[:n]), `"decision_id"`) {
		t.Fatalf("in-flight request: %q", buf[:n])
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ts.addrs.HTTP, time.Second); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

// TestShutdownDeadline: a request that outlives the deadline is cut and
// Serve says so.
func TestShutdownDeadline(t *testing.T) {
	ts := startServer(t, testOpts{shutdown: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", ts.addrs.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"))
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := ts.stop(); err == nil || !strings.Contains(err.Error(), "drain") {
		t.Fatalf("Serve after a cut drain: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("shutdown took %v with a 200ms deadline", took)
	}
}

// TestRulesReloadOnFileChange: editing a rule file puts it in force; a bad
// edit keeps the old set, and says so in the metrics.
func TestRulesReloadOnFileChange(t *testing.T) {
	ts := startServer(t, testOpts{})
	conn := ts.grpcConn(t)
	risk := pb.NewRiskServiceClient(conn)
	version := func() string {
		d, err := risk.Score(context.Background(), &pb.ScoreRequest{Attempt: &pb.Attempt{Ip: "81.2.69.160"}})
		if err != nil {
			t.Fatal(err)
		}
		return d.RulesVersion
	}
	file := filepath.Join(ts.rulesDir, "rules.yaml")
	good := "version: edited-1\nrules:\n  - id: all\n    description: Everyone steps up.\n    when: \"true\"\n    action: step_up\n"
	if err := os.WriteFile(file, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edited rules", func() bool { return label(version()) == "edited-1" })
	// The metrics are recorded just after the new set is put in force: a
	// Score can see it a moment before they move.
	waitFor(t, "the reload metrics to move", func() bool {
		return ts.metricValue(t, "riskgate_rules_last_reload_success") == 1 && ts.metricValue(t, "riskgate_rules_reloads_total", "trigger", "file", "result", "success") >= 1
	})
	// An editor's temporary file and a bad edit.
	if err := os.WriteFile(file, []byte("rules:\n  - id: broken\n    when: ip.nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload", func() bool { return ts.metricValue(t, "riskgate_rules_last_reload_success") == 0 })
	edited := version()
	if v := version(); label(v) != "edited-1" {
		t.Fatalf("after a bad edit: %s", v)
	}
	if ts.metricValue(t, "riskgate_rules_version_info", "version", edited) != 1 {
		t.Error("version info changed after a bad edit")
	}
}

func decodeBody(t *testing.T, resp *http.Response, out any) {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%d %q: %v", resp.StatusCode, data, err)
		}
	}
}

func TestReadinessHidesErrorDetails(t *testing.T) {
	secretish := errors.New("dial tcp 10.1.2.3:6379: connect: connection refused")
	ts := startServer(t, testOpts{checks: []server.Check{{Name: "geoip", Check: func(context.Context) error { return secretish }}}})
	var ready map[string]any
	code := httpDo(t, nil, "GET", ts.url("/readyz"), "", nil, &ready)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("readyz with a failing check: %d %v", code, ready)
	}
	body := fmt.Sprint(ready)
	if strings.Contains(body, "10.1.2.3") || !strings.Contains(body, "unavailable") {
		t.Errorf("readyz body %v: want the check named unavailable, without the error's detail", ready)
	}
}

// TestOptionalCheckDoesNotMakeUnready (issue 10 item 3): a part the
// process answers without (the store) is reported, but a failure of it
// leaves the process ready.
func TestOptionalCheckDoesNotMakeUnready(t *testing.T) {
	down := errors.New("connection refused")
	ts := startServer(t, testOpts{checks: []server.Check{
		{Name: "cache", Optional: true, HealthService: "riskgate.cache", Check: func(context.Context) error { return down }},
		{Name: "geoip", Check: func(context.Context) error { return nil }},
	}})
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	resp, err := http.Get(ts.url("/readyz"))
	if err != nil {
		t.Fatal(err)
	}
	decodeBody(t, resp, &ready)
	if resp.StatusCode != 200 || ready.Status != "ready" || ready.Checks["cache"] != "unavailable" || ready.Checks["geoip"] != "ok" {
		t.Fatalf("readyz with an optional check failing: %d %+v", resp.StatusCode, ready)
	}
}

// TestFailingCheckDoesNotFloodTheLog: /readyz is public and runs the
// checks at every request; a check that fails (the store or the brokers
// down) is logged when it starts to fail and then at most once a minute,
// not once a request, at once when it fails for another reason, and once
// when it passes again. Before, 200
// requests to /readyz while Kafka was down wrote 200 warnings; and while
// failures were told apart by their text, an error quoting a new local
// port at each failure still wrote one a request.
func TestFailingCheckDoesNotFloodTheLog(t *testing.T) {
	var logs syncbuf.Buffer
	var down, other atomic.Bool
	var port atomic.Int32
	port.Store(40000)
	down.Store(true)
	ts := startServer(t, testOpts{log: slog.New(slog.NewTextHandler(&logs, nil)), checks: []server.Check{
		{Name: "cache", Optional: true, HealthService: "riskgate.cache", Check: func(context.Context) error {
			switch {
			case down.Load() && other.Load():
				return errors.New("OOM command not allowed")
			case down.Load():
				return fmt.Errorf("dial tcp 192.0.2.10:%d->192.0.2.10:6379: connect: connection refused", port.Add(1))
			}
			return nil
		}},
	}})
	for range 200 {
		resp, err := http.Get(ts.url("/readyz"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := strings.Count(logs.String(), `msg="health check failed" check=cache`); n != 1 {
		t.Errorf("200 /readyz with a check failing logged %d failures, want 1:\n%s", n, logs.String())
	}
	other.Store(true) // Redis's answer changed: logged at once
	resp, err := http.Get(ts.url("/readyz"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(logs.String(), `check=cache optional=true err="OOM command not allowed"`) {
		t.Errorf("a check failing for another reason was not logged:\n%s", logs.String())
	}
	down.Store(false)
	resp, err = http.Get(ts.url("/readyz"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(logs.String(), `msg="health check passes again" check=cache`) {
		t.Errorf("a check passing again was not logged:\n%s", logs.String())
	}
}

// TestPlainPasswordPointsToSHA1 (issue 10 item 18): a plain password
// field is refused with a message that says what to send instead.
func TestPlainPasswordPointsToSHA1(t *testing.T) {
	ts := startServer(t, testOpts{})
	var out struct {
		Error struct {
			Message, Field string
		} `json:"error"`
	}
	code := httpDo(t, nil, "POST", ts.url("/v1/score"), "", `{"ip":"81.2.69.160","password":"hunter2"}`, &out)
	if code != 400 || out.Error.Field != "password" || !strings.Contains(out.Error.Message, "password_sha1") || strings.Contains(out.Error.Message, "hunter2") {
		t.Errorf("%d %+v", code, out)
	}
}

// TestDotUserIDsOverHTTP: a user id that is a dot segment or holds a
// slash ("..", ".", "a//b") is scored, and its profile is read and erased
// over HTTP with the id escaped in the path, as over gRPC; the same
// characters unescaped are refused, not redirected.
func TestDotUserIDsOverHTTP(t *testing.T) {
	ts := startServer(t, testOpts{admin: adminToken})
	for _, id := range []string{"..", ".", "a//b", "a/../b"} {
		body := map[string]any{"tenant": "acme", "user_id": id, "ip": "81.2.69.160", "result": "password_ok"}
		if code := httpDo(t, nil, "POST", ts.url("/v1/score"), "", body, nil); code != 200 {
			t.Fatalf("score %q: %d", id, code)
		}
		p := "/v1/users/acme/" + strings.NewReplacer(".", "%2E", "/", "%2F").Replace(id)
		var prof map[string]any
		if code := httpDo(t, nil, "GET", ts.url(p), adminToken, nil, &prof); code != 200 || prof["logins"] != 1.0 {
			t.Errorf("GET %s: %d %v", p, code, prof)
		}
		if code := httpDo(t, nil, "DELETE", ts.url(p), adminToken, nil, nil); code != 204 {
			t.Errorf("DELETE %s: %d", p, code)
		}
		if code := httpDo(t, nil, "GET", ts.url(p), adminToken, nil, nil); code != 404 {
			t.Errorf("GET %s after DELETE: %d", p, code)
		}
	}
}

// TestShutdownDelayClosesKeptConnections: through --shutdown-delay the
// server still answers, not ready, and each answer closes its connection,
// so that a client keeping connections alive opens a fresh one (to
// another node, behind a balancer) rather than reusing one the drain is
// about to close.
func TestShutdownDelayClosesKeptConnections(t *testing.T) {
	ts := startServer(t, testOpts{shutdown: 5 * time.Second, shutdownDelay: 2 * time.Second})
	c := &http.Client{}
	score := func() *http.Response {
		t.Helper()
		resp, err := c.Post(ts.url("/v1/score"), "application/json", strings.NewReader(`{"ip":"81.2.69.160","user_id":"kept"}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := score(); r.StatusCode != 200 || r.Close {
		t.Fatalf("before shutdown: %d, close %v", r.StatusCode, r.Close)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop() }()
	waitFor(t, "not ready", func() bool {
		return httpDo(t, nil, "GET", ts.url("/readyz"), "", nil, nil) == 503
	})
	if r := score(); r.StatusCode != 200 || !r.Close {
		t.Errorf("during the delay: %d, close %v; want 200 closing the connection", r.StatusCode, r.Close)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// TestShutdownWithSilentGRPCConnection: a TCP connection to the gRPC
// listener that never sends its HTTP/2 preface neither holds a shutdown
// past its deadline nor, within it, the drain past the handshake timeout.
// grpc-go waits for every handshake in progress before it drains or
// closes anything, and its own handshake timeout is 120 s: one such
// connection held a node's shutdown for two minutes.
func TestShutdownWithSilentGRPCConnection(t *testing.T) {
	silent := func(t *testing.T, ts *testServer) {
		t.Helper()
		c, err := net.Dial("tcp", ts.addrs.GRPC)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		// The server has accepted it: a call on another connection is
		// answered after it.
		if _, err := healthpb.NewHealthClient(ts.grpcConn(t)).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("past the deadline", func(t *testing.T) {
		defer server.SetGRPCHandshakeTimeout(time.Hour)()
		ts := startServer(t, testOpts{shutdown: 200 * time.Millisecond})
		silent(t, ts)
		start := time.Now()
		if err := ts.stop(); err == nil || !strings.Contains(err.Error(), "grpc drain") {
			t.Fatalf("Serve after a cut drain: %v", err)
		}
		// A guard against the hang, not a timing: before, an hour.
		if took := time.Since(start); took > 20*time.Second {
			t.Fatalf("shutdown took %v with a 200ms deadline", took)
		}
	})
	t.Run("within the deadline", func(t *testing.T) {
		defer server.SetGRPCHandshakeTimeout(300 * time.Millisecond)()
		ts := startServer(t, testOpts{shutdown: time.Minute})
		silent(t, ts)
		// The drain completes, the silent connection cut at its
		// handshake timeout, well within the minute.
		if err := ts.stop(); err != nil {
			t.Fatalf("shutdown with a silent connection: %v", err)
		}
	})
}

// TestSilentGRPCConnectionGivesItsPlaceBack: a connection that never
// completes its handshake is closed at the handshake timeout, and its
// place under --max-connections is free again.
func TestSilentGRPCConnectionGivesItsPlaceBack(t *testing.T) {
	defer server.SetGRPCHandshakeTimeout(300 * time.Millisecond)()
	ts := startServer(t, testOpts{maxConnections: 1})
	c, err := net.Dial("tcp", ts.addrs.GRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The server sends its own HTTP/2 preface first, then closes the
	// connection at the handshake timeout.
	c.SetReadDeadline(time.Now().Add(20 * time.Second)) // a guard against a hang
	if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
		t.Fatalf("a silent connection: %v; want it closed by the server", err)
	}
	if _, err := healthpb.NewHealthClient(ts.grpcConn(t)).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("a call once the silent connection was closed: %v", err)
	}
}
