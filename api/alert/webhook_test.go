package alert

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/riskgate/riskgate/internal/syncbuf"
)

const hookSecret = "webhook-secret-0123456789"

// hookServer is a webhook receiver that verifies every request and
// answers with status(n) for the n-th request (from 1).
type hookServer struct {
	t      *testing.T
	status func(n int) int
	mu     sync.Mutex
	n      int
	got    []string // alert ids accepted, in order
	hold   chan struct{}
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.hold != nil {
		<-h.hold
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.t.Error(err)
		return
	}
	if err := VerifySignature([]byte(hookSecret), r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		h.t.Errorf("request not verifiable: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var a Alert
	if err := json.Unmarshal(body, &a); err != nil || a.AlertID == "" || r.Header.Get(HeaderAlertID) != a.AlertID {
		h.t.Errorf("body %s, header id %s: %v", body, r.Header.Get(HeaderAlertID), err)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		h.t.Errorf("Content-Type %q", ct)
	}
	h.mu.Lock()
	h.n++
	code := http.StatusNoContent
	if h.status != nil {
		code = h.status(h.n)
	}
	if code < 300 {
		h.got = append(h.got, a.AlertID)
	}
	h.mu.Unlock()
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "0")
	}
	w.WriteHeader(code)
}

func (h *hookServer) ids() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

func newHook(t *testing.T, h *hookServer) *WebhookSink {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s, err := NewWebhookSink(WebhookOptions{URL: srv.URL + "/alerts", Secret: []byte(hookSecret)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWebhookFailsThenRecovers(t *testing.T) {
	// Down for the first five requests (503, 500, 429, ...), then up.
	codes := []int{503, 500, 429, 502, 408}
	h := &hookServer{t: t, status: func(n int) int {
		if n <= len(codes) {
			return codes[n-1]
		}
		return 200
	}}
	b := testBuilder(t, BuilderOptions{})
	d, _ := newDispatcher(t, Options{Builder: b, Sinks: []SinkConfig{{Sink: newHook(t, h)}}})
	decisions(t, testEngine(t, d), stuffing("acme", 12))
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	want := wantAlerts(t, b, "acme", 12)
	if got := h.ids(); !slices.Equal(got, want) {
		t.Fatalf("receiver accepted %v, want %v", got, want)
	}
	if got := testutil.ToFloat64(d.queues[0].m.errors); got != float64(len(codes)) {
		t.Fatalf("send errors = %v, want %d", got, len(codes))
	}
}

func TestWebhookRefusalIsPermanent(t *testing.T) {
	h := &hookServer{t: t, status: func(n int) int {
		if n == 2 {
			return http.StatusUnprocessableEntity
		}
		return 200
	}}
	b := testBuilder(t, BuilderOptions{})
	d, _ := newDispatcher(t, Options{Builder: b, Sinks: []SinkConfig{{Sink: newHook(t, h)}}})
	decisions(t, testEngine(t, d), stuffing("acme", 12))
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	want := wantAlerts(t, b, "acme", 12)
	if got := h.ids(); !slices.Equal(got, slices.Delete(slices.Clone(want), 1, 2)) {
		t.Fatalf("receiver accepted %v, want all of %v but the second", got, want)
	}
	if got := testutil.ToFloat64(d.queues[0].m.dropRejected); got != 1 {
		t.Fatalf("dropped{rejected} = %v", got)
	}
}

func TestWebhookBoundedQueue(t *testing.T) {
	// The receiver hangs until released: one alert is in flight, two
	// wait, and the rest are dropped and counted.
	h := &hookServer{t: t, hold: make(chan struct{})}
	hook := newHook(t, h)
	b := testBuilder(t, BuilderOptions{})
	d, _ := newDispatcher(t, Options{Builder: b, Sinks: []SinkConfig{{Sink: hook, QueueSize: 2}}, MaxBatch: 1})
	e := testEngine(t, d)
	as := stuffing("acme", 12)
	decisions(t, e, as[:5]) // the first alert
	q := d.queues[0]
	for len(q.ch) != 0 { // wait until the worker has taken it
		time.Sleep(time.Millisecond)
	}
	decisions(t, e, as[5:])
	close(h.hold)
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	want := wantAlerts(t, b, "acme", 12)
	if got := h.ids(); !slices.Equal(got, want[:3]) {
		t.Fatalf("receiver accepted %v, want %v", got, want[:3])
	}
	if got := testutil.ToFloat64(q.m.dropFull); got != 5 {
		t.Fatalf("dropped{queue_full} = %v, want 5", got)
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"alert_id":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	ts := "1800000000"
	sig := Sign([]byte(hookSecret), ts, body)
	tests := []struct {
		name   string
		secret string
		ts     string
		sig    string
		body   string
		ok     bool
	}{
		{"valid", hookSecret, ts, sig, string(body), true},
		{"valid among rotated signatures", hookSecret, ts, "v1=00, " + sig, string(body), true},
		{"wrong secret", "another-secret-0123456789", ts, sig, string(body), false},
		{"tampered body", hookSecret, ts, sig, `{"alert_id":"y"}`, false},
		{"replayed later", hookSecret, "1799999000", Sign([]byte(hookSecret), "1799999000", body), string(body), false},
		{"timestamp not a number", hookSecret, "soon", sig, string(body), false},
		{"timestamp not the signed one", hookSecret, "1800000001", sig, string(body), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature([]byte(tt.secret), tt.ts, tt.sig, []byte(tt.body), now, 5*time.Minute)
			if (err == nil) != tt.ok {
				t.Fatalf("VerifySignature = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if !strings.HasPrefix(sig, "v1=") || len(sig) != 3+64 {
		t.Fatalf("signature %q", sig)
	}
}

func TestNewWebhookSinkValidates(t *testing.T) {
	for _, o := range []WebhookOptions{
		{URL: "ftp://example.com/x", Secret: []byte(hookSecret)},
		{URL: "https:///nohost", Secret: []byte(hookSecret)},
		{URL: "https://example.com/x", Secret: []byte("short")},
	} {
		if _, err := NewWebhookSink(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 5, 9, 11, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{now.Add(time.Minute).Format(http.TimeFormat), time.Minute, true},
		{"later", 0, false},
	} {
		got, ok := retryAfter(tt.v, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v", tt.v, got, ok)
		}
	}
}

// TestWebhookErrorHidesTheURL: a failed delivery's error, which the
// dispatcher logs, does not quote the URL's query (a token, often).
func TestWebhookErrorHidesTheURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // a dead port: the connection is refused
	s, err := NewWebhookSink(WebhookOptions{URL: "http://" + addr + "/hook?token=s3cr3t-token", Secret: []byte("0123456789abcdef0123")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), []*Alert{{AlertID: "a1"}})
	if err == nil || IsPermanent(err) {
		t.Fatalf("Send to a dead port: %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("the error quotes the URL's token: %v", err)
	}
}

// TestWebhookRedirectIsRejected: a redirect is never followed, whatever
// its status: a 302 or 303 would be followed by a GET without the alert
// (and the alert counted as sent), a 307 or 308 would carry the signed
// alert to another server. The alert is dropped as rejected, and the log
// names the status and where it pointed, never the receiver's body, the
// secret, or the Location's query.
func TestWebhookRedirectIsRejected(t *testing.T) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			var elsewhere atomic.Int32
			other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				elsewhere.Add(1)
				io.Copy(io.Discard, r.Body)
			}))
			t.Cleanup(other.Close)
			var asked atomic.Int32
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked.Add(1)
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Location", other.URL+"/moved?token=loc-t0ken")
				w.WriteHeader(code)
				io.WriteString(w, "receiver-body-not-for-logs")
			}))
			t.Cleanup(hook.Close)
			// A caller's client that follows redirects is not obeyed.
			s, err := NewWebhookSink(WebhookOptions{URL: hook.URL + "/alerts", Secret: []byte(hookSecret), Client: &http.Client{}})
			if err != nil {
				t.Fatal(err)
			}
			var logs syncbuf.Buffer
			b := testBuilder(t, BuilderOptions{})
			d, _ := newDispatcher(t, Options{Builder: b, Sinks: []SinkConfig{{Sink: s}}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			decisions(t, testEngine(t, d), stuffing("acme", 12))
			if err := closeWithin(t, d, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			n := len(wantAlerts(t, b, "acme", 12))
			q := d.queues[0]
			if got := elsewhere.Load(); got != 0 {
				t.Errorf("the redirect was followed: %d requests to its Location", got)
			}
			if got := asked.Load(); got != int32(n) {
				t.Errorf("the receiver got %d requests, want one per alert (%d)", got, n)
			}
			if sent, rejected := testutil.ToFloat64(q.m.sent), testutil.ToFloat64(q.m.dropRejected); sent != 0 || rejected != float64(n) {
				t.Errorf("sent %v, dropped{rejected} %v; want 0 and %d", sent, rejected, n)
			}
			out := logs.String()
			if want := fmt.Sprintf("%d %s", code, http.StatusText(code)); !strings.Contains(out, want) || !strings.Contains(out, other.URL+"/moved") {
				t.Errorf("the log does not name the status %q and the Location:\n%s", want, out)
			}
			for _, secret := range []string{hookSecret, "loc-t0ken", "receiver-body-not-for-logs"} {
				if strings.Contains(out, secret) {
					t.Errorf("the log carries %q:\n%s", secret, out)
				}
			}
		})
	}
}

// TestWebhookPrivateCA: --alerts-webhook-ca trusts a receiver whose
// certificate chains to a private CA, which the system's roots do not;
// a CA file that is missing or holds no certificate, or that comes
// without an https:// webhook, stops the configuration, naming the flag.
func TestWebhookPrivateCA(t *testing.T) {
	h := &hookServer{t: t}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate\n"), 0o600)

	alert := &Alert{Schema: SchemaID, AlertID: "a1"}
	send := func(cfg Config) error {
		t.Helper()
		sinks, err := cfg.Sinks()
		if err != nil {
			t.Fatal(err)
		}
		defer sinks[0].Sink.Close(t.Context())
		_, err = sinks[0].Sink.Send(t.Context(), []*Alert{alert})
		return err
	}
	cfg := Config{WebhookURL: srv.URL + "/alerts", WebhookSecret: hookSecret}
	if err := send(cfg); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v, want a certificate error", err)
	}
	cfg.WebhookCA = ca
	if err := send(cfg); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	if got := h.ids(); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("the receiver accepted %v", got)
	}

	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing file", Config{WebhookURL: srv.URL, WebhookSecret: hookSecret, WebhookCA: filepath.Join(dir, "nope.pem")}, "--alerts-webhook-ca: open"},
		{"no certificate", Config{WebhookURL: srv.URL, WebhookSecret: hookSecret, WebhookCA: garbage}, "--alerts-webhook-ca: " + garbage + ": no PEM certificates"},
		{"plain http", Config{WebhookURL: "http://soc.example/hook", WebhookSecret: hookSecret, WebhookCA: ca}, "--alerts-webhook-ca needs an https://"},
		{"no webhook", Config{WebhookCA: ca}, "--alerts-webhook-ca without --alerts-webhook-url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.cfg.Sinks(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Sinks = %v, want %q", err, tt.want)
			}
		})
	}
}
