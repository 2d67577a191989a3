package client_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/api/client"
)

// TestNotRiskgatesAnswer: an HTTP answer that is not riskgate's says what
// it is. A riskgate serving TLS reached at an http:// Target answered "Bad
// Request" alone, every login failed over as refused with nothing to say
// why (the gRPC transport says the server speaks TLS); an unreadable 2xx
// answer's Code was "200", where Error documents "HTTP 200".
func TestNotRiskgatesAnswer(t *testing.T) {
	tlsServer := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsServer.Config.ErrorLog = log.New(io.Discard, "", 0) // the plain-text request's "TLS handshake error"
	tlsServer.StartTLS()
	defer tlsServer.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "<html>a proxy's page</html>")
	}))
	defer garbage.Close()
	cases := []struct {
		name, target string
		cause        client.Cause
		code, msg    string
	}{
		{"plain text to tls", strings.Replace(tlsServer.URL, "https://", "http://", 1), client.CauseRejected, "HTTP 400", "the server speaks TLS: use an https:// Options.Target"},
		{"unreadable answer", garbage.URL, client.CauseServerError, "HTTP 200", "reading the answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, client.Options{Target: tc.target, Timeout: time.Minute})
			d, err := c.AfterPassword(context.Background(), client.Attempt{Username: "carol", IP: "81.2.69.160"}, client.PasswordOK)
			var e *client.Error
			if !d.Failover || !errors.As(err, &e) || e.Cause != tc.cause || e.Code != tc.code || !strings.Contains(e.Msg, tc.msg) {
				t.Fatalf("decision %+v, err %v (code %q); want a %s failover, code %q, saying %q", d, err, codeOf(e), tc.cause, tc.code, tc.msg)
			}
		})
	}
}

func codeOf(e *client.Error) string {
	if e == nil {
		return ""
	}
	return e.Code
}
