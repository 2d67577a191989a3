package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/api/client"
)

// TestRedirectNotFollowed: something at Target that redirects (a load
// balancer sending http:// to https://, a host that moved) gets no second
// request. Followed, a 307 or 308 sent the attempt with its password hash,
// and the bearer token too (same host, another port), where the Location
// pointed, https:// to http:// included; a 301 or 302 became a GET, whose
// 405 failed every login over as riskgate's refusal.
func TestRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		http.Error(w, "not riskgate", http.StatusMethodNotAllowed)
	}))
	defer target.Close()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, custom := range []bool{false, true} {
			name := http.StatusText(code)
			if custom {
				name += "/own http client"
			}
			t.Run(name, func(t *testing.T) {
				elsewhere.Store(0)
				redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target.URL+r.URL.Path+"?key=secret", code)
				}))
				defer redirector.Close()
				o := client.Options{Target: redirector.URL, Token: "scoring-token-0123456789", Timeout: time.Minute, MaxTries: 3}
				if custom {
					o.HTTPClient = &http.Client{} // its default policy follows redirects
				}
				c := newClient(t, o)
				d, err := c.AfterPassword(context.Background(), client.Attempt{Username: "carol", IP: "81.2.69.160", Password: client.HashPassword("hunter2")}, client.PasswordBad)
				var e *client.Error
				if !d.Failover || d.Cause != client.CauseRejected || !errors.As(err, &e) || e.Code != fmt.Sprint("HTTP ", code) {
					t.Fatalf("decision %+v, err %v; want a failover refused with the redirect's code", d, err)
				}
				if !strings.Contains(e.Msg, "redirect to \""+target.URL+"/v1/score?redacted\"") || strings.Contains(e.Msg, "secret") {
					t.Errorf("error %q: want one naming where the redirect pointed, without its query", e.Msg)
				}
				if err := c.LoginFailed(context.Background(), d); err == nil {
					t.Error("the failover's outcome was reported through a redirect")
				}
				if n := elsewhere.Load(); n != 0 {
					t.Errorf("the redirect was followed: %d requests reached the Location", n)
				}
				if st := c.Stats(); st.Retries != 0 {
					t.Errorf("a redirect was retried: %+v", st)
				}
			})
		}
	}
}
