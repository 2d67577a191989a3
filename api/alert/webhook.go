package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/riskgate/riskgate/internal/tlsfiles"
)

// Webhook headers. The signature covers the timestamp and the body, so a
// receiver that checks both (VerifySignature) rejects forged and replayed
// requests.
const (
	HeaderTimestamp = "X-Riskgate-Timestamp" // Unix seconds when the request was signed
	HeaderSignature = "X-Riskgate-Signature" // "v1=" + hex HMAC-SHA-256(secret, timestamp + "." + body)
	HeaderAlertID   = "X-Riskgate-Alert-Id"
	// HeaderSchema names the body's format: riskgate.alert.v1, or
	// riskgate.notification.v1 for a notification event (whose id is then
	// in HeaderAlertID).
	HeaderSchema = "X-Riskgate-Schema"
)

// MinWebhookSecretLen is the shortest webhook signing secret accepted.
const MinWebhookSecretLen = 16

// WebhookOptions configure a WebhookSink.
type WebhookOptions struct {
	// URL receives one POST per alert, the alert's JSON as the body.
	URL string
	// Secret signs every request (see HeaderSignature); at least 16 bytes.
	Secret []byte
	// Client sends the requests; default one with a 10-second timeout.
	// The sink uses a copy that never follows redirects (see WebhookSink).
	Client *http.Client
	// RootCAs is the file of the CAs the receiver's certificate must
	// chain to, for the default Client; nil: the system's. Its pool in
	// force is read before each request: once the file is re-read with
	// other CAs (SIGHUP), the next connections verify against those.
	RootCAs *tlsfiles.CAs
	// Now is the signing clock; default time.Now.
	Now func() time.Time
}

// WebhookSink posts each alert to a URL, signed. A 2xx answer delivers
// it; 408, 425, 429 and 5xx answers and network errors are retried by the
// dispatcher with back-off (honouring Retry-After); any other answer is a
// permanent rejection: the alert is dropped and counted. That includes a
// redirect (3xx), which is never followed: a client following it would
// turn a 301, 302 or 303 into a GET without the alert, then count it as
// delivered, and resend a 307 or 308's signed alert, headers and all, to
// whatever server the Location names.
type WebhookSink struct {
	opts WebhookOptions
	// client is opts.Client, or with RootCAs the default client built for
	// the pool in force.
	client atomic.Pointer[poolClient]
}

type poolClient struct {
	pool   *x509.CertPool
	client *http.Client
}

// NewWebhookSink returns a WebhookSink.
func NewWebhookSink(opts WebhookOptions) (*WebhookSink, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("alert: webhook URL %q: want http:// or https:// and a host", opts.URL)
	}
	if len(opts.Secret) < MinWebhookSecretLen {
		return nil, fmt.Errorf("alert: webhook secret must be at least %d bytes", MinWebhookSecretLen)
	}
	opts.Secret = bytes.Clone(opts.Secret)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &WebhookSink{opts: opts}
	if opts.Client != nil {
		c := *opts.Client // the caller's client keeps its own policy
		c.CheckRedirect = noRedirects
		s.opts.Client, s.opts.RootCAs = &c, nil
		s.client.Store(&poolClient{client: &c})
		return s, nil
	}
	s.opts.Client = nil
	s.client.Store(&poolClient{pool: s.pool(), client: defaultWebhookClient(s.pool())})
	return s, nil
}

func (s *WebhookSink) pool() *x509.CertPool {
	if s.opts.RootCAs == nil {
		return nil
	}
	return s.opts.RootCAs.Pool()
}

// defaultWebhookClient sends to receivers whose certificates chain to
// pool (nil: the system's CAs).
func defaultWebhookClient(pool *x509.CertPool) *http.Client {
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: noRedirects}
	if pool != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		c.Transport = tr
	}
	return c
}

// httpClient is the client for the next request: with RootCAs, one built
// for the pool in force, the previous one's idle connections closed once
// the file was re-read with other CAs (its connections in use finish
// their requests).
func (s *WebhookSink) httpClient() *http.Client {
	cur := s.client.Load()
	if s.opts.RootCAs == nil {
		return cur.client
	}
	pool := s.pool()
	if cur.pool == pool {
		return cur.client
	}
	next := &poolClient{pool: pool, client: defaultWebhookClient(pool)}
	if !s.client.CompareAndSwap(cur, next) {
		return s.client.Load().client
	}
	cur.client.CloseIdleConnections()
	return next.client
}

// TLSFiles is the CA file the webhook's certificate must chain to
// (webhook-ca), if any: re-reading it (SIGHUP) is its owner's, see
// tlsfiles.
func (s *WebhookSink) TLSFiles() []tlsfiles.Use {
	if s.opts.RootCAs == nil {
		return nil
	}
	return []tlsfiles.Use{{Use: "webhook-ca", File: s.opts.RootCAs}}
}

// Name implements Sink.
func (s *WebhookSink) Name() string { return "webhook" }

// Send implements Sink.
func (s *WebhookSink) Send(ctx context.Context, alerts []*Alert) (int, error) {
	for i, a := range alerts {
		if err := s.post(ctx, a); err != nil {
			return i, err
		}
	}
	return len(alerts), nil
}

func (s *WebhookSink) post(ctx context.Context, a *Alert) error {
	body, err := Marshal(a)
	if err != nil {
		return Permanent(err)
	}
	ts := strconv.FormatInt(s.opts.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.URL, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("alert: webhook: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "riskgate-alerts/1")
	req.Header.Set(HeaderAlertID, a.AlertID)
	req.Header.Set(HeaderSchema, a.Schema)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(s.opts.Secret, ts, body))
	resp, err := s.httpClient().Do(req)
	if err != nil {
		// The client's error quotes the URL, whose query may carry a
		// token (url.Error hides only a password): it is logged.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return fmt.Errorf("alert: webhook: %w", err)
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c >= 300 && c < 400:
		// Where it points, without a query that may carry a token; the
		// body is the receiver's and stays out of the log.
		return Permanent(fmt.Errorf("alert: webhook refused alert %s: %s redirecting to %q, not followed", a.AlertID, resp.Status, redactLocation(resp.Header.Get("Location"))))
	case c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests, c >= 500:
		err := fmt.Errorf("alert: webhook answered %s", resp.Status)
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), s.opts.Now()); ok {
			return RetryAfter(err, d)
		}
		return err
	default:
		return Permanent(fmt.Errorf("alert: webhook refused alert %s: %s", a.AlertID, resp.Status))
	}
}

// noRedirects is the client's CheckRedirect: the 3xx response is the
// answer.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// redactLocation is a Location header fit for a log: without its user
// information, query and fragment.
func redactLocation(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return "(unparsable)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery, u.ForceQuery = "redacted", false
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Close implements Sink.
func (s *WebhookSink) Close(context.Context) error {
	s.client.Load().client.CloseIdleConnections()
	return nil
}

// Sign returns the signature header value of a request body signed at
// timestamp (Unix seconds, as sent in HeaderTimestamp).
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by VerifySignature for a request that was
// not signed with the secret, or not recently.
var ErrBadSignature = errors.New("alert: bad webhook signature")

// VerifySignature checks a webhook request as a receiver should: the
// signature must match the body and timestamp under secret, and the
// timestamp must be within tolerance of now (replay protection).
func VerifySignature(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrBadSignature, timestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s is %s away from now", ErrBadSignature, timestamp, d.Round(time.Second))
	}
	want := Sign(secret, timestamp, body)
	for _, got := range strings.Split(signature, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(got)), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("%w: signature does not match", ErrBadSignature)
}
