package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riskgate/riskgate/api/client"
)

// Step-up codes: six digits, five minutes, three tries.
const (
	codeTTL      = 5 * time.Minute
	codeTries    = 3
	deviceCookie = "device"
	sessCookie   = "session"
	stepCookie   = "stepup"
)

// server is the login flow. Sessions and pending step-ups live in memory:
// enough for a reference, not for several replicas.
type server struct {
	risk    *client.Client
	users   *users
	outbox  outbox
	log     *slog.Logger
	trusted []netip.Prefix // proxies whose X-Forwarded-For and CF-* headers are believed
	secure  bool           // cookies only over HTTPS

	mu       sync.Mutex
	sessions map[string]*session
	stepUps  map[string]*stepUp
}

type session struct {
	user   *user
	notice string // shown once on the welcome page
}

// stepUp is a login waiting for its one-time code.
type stepUp struct {
	user     *user
	decision client.Decision
	attempt  client.Attempt // where it came from, for the sign-in notice
	code     string
	tries    int
	expires  time.Time
}

func newServer(risk *client.Client, u *users, out outbox, log *slog.Logger, trusted []netip.Prefix, secure bool) *server {
	return &server{
		risk: risk, users: u, outbox: out, log: log, trusted: trusted, secure: secure,
		sessions: map[string]*session{}, stepUps: map[string]*stepUp{},
	}
}

// handler routes the pages, behind Go's cross-origin (CSRF) protection.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /login/code", s.code)
	mux.HandleFunc("POST /logout", s.logout)
	return http.NewCrossOriginProtection().Handler(mux)
}

func (s *server) home(w http.ResponseWriter, r *http.Request) {
	s.deviceID(w, r) // so that the login form's POST carries it
	if sess := s.session(r); sess != nil {
		s.mu.Lock()
		notice := sess.notice
		sess.notice = ""
		s.mu.Unlock()
		render(w, http.StatusOK, welcomePage, map[string]any{"User": sess.user.Username, "Notice": notice})
		return
	}
	render(w, http.StatusOK, loginPage, nil)
}

// login is the flow: score before the password check, check the
// password, score after it, then let in, ask for a code, or refuse.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	if username == "" || password == "" || len(username) > 256 || len(password) > 1024 {
		render(w, http.StatusBadRequest, loginPage, map[string]any{"Error": "Enter your username and password."})
		return
	}
	ctx := r.Context()
	a := s.attempt(w, r, username, password)
	if acct := s.users.lookup(username); acct != nil {
		a.UserID = acct.ID // a lookup, not a password check: cheap
	}

	// 1. Before the password check: a stuffing run is refused here, before
	// a password hash is computed, and learns nothing about the password.
	before, err := s.risk.BeforePassword(ctx, a)
	s.logDecision("before password", before, err)
	if before.Action == client.Deny {
		s.refuse(w)
		return
	}

	// 2. The password check.
	acct, ok := s.users.check(username, password)
	result := client.PasswordOK
	switch {
	case acct == nil:
		result = client.NoSuchUser
	case !ok:
		result = client.PasswordBad
	}

	// 3. After it: this decision is the one the login acts on.
	d, err := s.risk.AfterPassword(ctx, a, result)
	s.logDecision("after password", d, err)
	if !ok {
		// riskgate counts a wrong password when it scores it, but it never
		// saw one whose decision failed over (a timeout, riskgate
		// unreachable or overloaded): LoginFailed sends that attempt, so
		// that a brute force during a blip still counts. For a decision
		// riskgate made it sends nothing.
		s.report("login_failed", s.risk.LoginFailed(outcomeContext(ctx), d))
		render(w, http.StatusUnauthorized, loginPage, map[string]any{"Error": "Wrong username or password."})
		return
	}
	switch d.Action {
	case client.Deny:
		s.refuse(w)
	case client.StepUp:
		s.startStepUp(w, r, acct, a, d)
	default:
		s.report("login_succeeded", s.risk.LoginSucceeded(outcomeContext(ctx), d))
		s.signIn(w, r, acct, a, d)
	}
}

// attempt describes the request for riskgate. The typed password is
// hashed here and goes no further.
func (s *server) attempt(w http.ResponseWriter, r *http.Request, username, password string) client.Attempt {
	ip, proxied := s.clientIP(r)
	a := client.Attempt{
		Username: username, IP: ip.String(), UserAgent: r.UserAgent(), DeviceID: s.deviceID(w, r),
		Password: client.HashPassword(password), Channel: "web",
	}
	if proxied {
		a.Geo = cdnGeo(r)
	}
	return a
}

// clientIP is the address of the browser: the connection's peer, or, when
// the peer is a trusted proxy, the last address in X-Forwarded-For that is
// not one. proxied says a trusted proxy's headers apply.
func (s *server) clientIP(r *http.Request) (addr netip.Addr, proxied bool) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.isTrusted(peer) {
		return peer.Unmap(), false
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !s.isTrusted(a) {
			return a.Unmap(), true
		}
	}
	return peer.Unmap(), true
}

func (s *server) isTrusted(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// cdnGeo reads Cloudflare's visitor location headers (the "Add visitor
// location headers" managed transform).
func cdnGeo(r *http.Request) *client.GeoHint {
	country := r.Header.Get("CF-IPCountry")
	if len(country) != 2 || country == "XX" || country == "T1" {
		return nil
	}
	g := &client.GeoHint{Country: country}
	lat, err1 := strconv.ParseFloat(r.Header.Get("CF-IPLatitude"), 64)
	lon, err2 := strconv.ParseFloat(r.Header.Get("CF-IPLongitude"), 64)
	if err1 == nil && err2 == nil && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 {
		g.HasCoordinates, g.Lat, g.Lon = true, lat, lon
	}
	return g
}

// deviceID is the browser's long-lived device cookie, set when missing.
func (s *server) deviceID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(deviceCookie); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	id := token()
	http.SetCookie(w, &http.Cookie{Name: deviceCookie, Value: id, Path: "/", MaxAge: 400 * 24 * 3600,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	return id
}

func (s *server) startStepUp(w http.ResponseWriter, r *http.Request, u *user, a client.Attempt, d client.Decision) {
	code := sixDigits()
	a.Password = client.PasswordSHA1{} // not kept beyond the request
	tok := token()
	s.mu.Lock()
	s.stepUps[tok] = &stepUp{user: u, decision: d, attempt: a, code: code, expires: time.Now().Add(codeTTL)}
	s.mu.Unlock()
	s.outbox.send(r.Context(), message{To: u.ID, Kind: "code", Time: time.Now(), Subject: "Your sign-in code",
		Body: fmt.Sprintf("Your sign-in code is %s. It expires in 5 minutes. If you did not try to sign in, change your password.", code)})
	http.SetCookie(w, &http.Cookie{Name: stepCookie, Value: tok, Path: "/login", MaxAge: int(codeTTL.Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	render(w, http.StatusOK, codePage, nil)
}

// code checks the one-time code of a stepped-up login.
func (s *server) code(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(stepCookie)
	s.mu.Lock()
	var p *stepUp
	if err == nil {
		p = s.stepUps[c.Value]
	}
	if p == nil || time.Now().After(p.expires) {
		if p != nil {
			delete(s.stepUps, c.Value)
		}
		s.mu.Unlock()
		render(w, http.StatusBadRequest, loginPage, map[string]any{"Error": "That sign-in expired. Start again."})
		return
	}
	p.tries++
	right := subtle.ConstantTimeCompare([]byte(strings.TrimSpace(r.PostFormValue("code"))), []byte(p.code)) == 1
	spent := right || p.tries >= codeTries
	if spent {
		delete(s.stepUps, c.Value)
	}
	s.mu.Unlock()
	ctx := outcomeContext(r.Context())
	switch {
	case right:
		s.report("step_up_passed", s.risk.StepUpPassed(ctx, p.decision))
		s.signIn(w, r, p.user, p.attempt, p.decision)
	case spent:
		s.report("step_up_failed", s.risk.StepUpFailed(ctx, p.decision))
		s.refuse(w)
	default:
		render(w, http.StatusUnauthorized, codePage, map[string]any{"Error": "Wrong code. Try again."})
	}
}

// signIn completes a login: a session, and a notice to the account's owner
// when the login came from somewhere new.
func (s *server) signIn(w http.ResponseWriter, r *http.Request, u *user, a client.Attempt, d client.Decision) {
	sess := &session{user: u}
	if what, ok := newSignIn(d); ok {
		country := ""
		if a.Geo != nil {
			country = a.Geo.Country
		}
		m := signInNotice(u, what, a.IP, country, browserOf(a.UserAgent), time.Now())
		s.outbox.send(r.Context(), m)
		sess.notice = m.Body
	}
	tok := token()
	s.mu.Lock()
	s.sessions[tok] = sess
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessCookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// newSignIn says whether a completed login deserves a "new sign-in" notice
// and what was new: the notification kinds riskgate's rules gave the
// decision (rules with notify:; the default rules give new_device and
// new_country). riskgate leaves them out of a deny and of a failed
// attempt, and this is called only once the login completed, so the owner
// is never told of a sign-in that did not happen. riskgate can also
// publish the same event to its alert sinks (docs/notifications.md), for a
// mailer apart from the login service.
func newSignIn(d client.Decision) (what string, ok bool) {
	device, country := slices.Contains(d.Notify, "new_device"), slices.Contains(d.Notify, "new_country")
	switch {
	case device && country:
		return "a new device in a new country", true
	case device:
		return "a new device", true
	case country:
		return "a new country", true
	case len(d.Notify) > 0:
		return "something new (" + strings.Join(d.Notify, ", ") + ")", true
	}
	return "", false
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessCookie); err == nil {
		s.mu.Lock()
		delete(s.sessions, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessCookie, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *server) session(r *http.Request) *session {
	c, err := r.Cookie(sessCookie)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[c.Value]
}

// refuse says no without saying why: the reasons are for the logs and the
// SOC, not for whoever is trying.
func (s *server) refuse(w http.ResponseWriter) {
	render(w, http.StatusForbidden, refusedPage, nil)
}

// logDecision logs what riskgate said, by rule id: never the attempt's
// values.
func (s *server) logDecision(point string, d client.Decision, err error) {
	rules := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		rules[i] = r.Rule
	}
	attrs := []any{"point", point, "action", d.Action.String(), "decision_id", d.DecisionID, "rules", rules}
	if d.Failover {
		attrs = append(attrs, "failover", true, "cause", string(d.Cause), "err", err)
	}
	s.log.Info("riskgate decision", attrs...)
}

// outcomeContext is the context of an outcome report: the login is
// settled whatever the browser does next (a closed tab, a dropped mobile
// connection), so the report does not end with the request. The client's
// deadline still bounds it.
func outcomeContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func (s *server) report(outcome string, err error) {
	if err != nil {
		s.log.Warn("riskgate outcome not delivered", "outcome", outcome, "err", err)
	}
}

// browserOf names a user agent for a person: "Firefox on Windows".
func browserOf(ua string) string {
	browser, os := "", ""
	for _, b := range [][2]string{{"Edg/", "Edge"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}} {
		if strings.Contains(ua, b[0]) {
			browser = b[1]
			break
		}
	}
	for _, o := range [][2]string{{"Windows", "Windows"}, {"iPhone", "iPhone"}, {"Android", "Android"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"}} {
		if strings.Contains(ua, o[0]) {
			os = o[1]
			break
		}
	}
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	}
	return os
}

func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sixDigits() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return fmt.Sprintf("%06d", n.Int64())
}
