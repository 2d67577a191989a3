package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskgate/riskgate/api/client"
	"github.com/riskgate/riskgate/api/client/clienttest"
)

func TestMain(m *testing.M) { clienttest.Main(m) }

// site is the login server in front of a real riskgate, behind a "CDN"
// on loopback that the server trusts for the visitor's address and place.
type site struct {
	rg    *clienttest.Server
	srv   *server
	out   *memOutbox
	url   string
	users *users
}

const alicePassword = "correct horse battery staple"

func newSite(t *testing.T, accounts map[string]string) *site {
	t.Helper()
	rg := clienttest.Start(t)
	return newSiteVia(t, rg, rg.GRPC, accounts)
}

// newSiteVia is newSite with the server's client calling rg at target: its
// gRPC address, or a proxy in front of it.
func newSiteVia(t *testing.T, rg *clienttest.Server, target string, accounts map[string]string) *site {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	risk, err := client.New(client.Options{Target: target, Failover: client.StepUp, Timeout: 10 * time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { risk.Close() })
	u := newUsers(1000) // a cheap hash: these tests are about the flow
	if err := u.add("u-alice", "alice@example.com", alicePassword); err != nil {
		t.Fatal(err)
	}
	i := 0
	for name, pw := range accounts {
		i++
		if err := u.add(fmt.Sprint("u-", i), name, pw); err != nil {
			t.Fatal(err)
		}
	}
	out := &memOutbox{}
	s := newServer(risk, u, out, log, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, false)
	hs := httptest.NewServer(s.handler())
	t.Cleanup(hs.Close)
	return &site{rg: rg, srv: s, out: out, url: hs.URL, users: u}
}

// browser is one person's browser (its cookie jar) at one place.
type browser struct {
	t                 *testing.T
	site              *site
	hc                *http.Client
	ip, country       string
	lat, lon          string
	ua                string
	lastStatus        int
	lastBody, lastURL string
}

const (
	chromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	safariIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	firefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	pythonBot     = "python-requests/2.32.3"
)

func (s *site) browser(t *testing.T, ip, country, lat, lon, ua string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, site: s, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}, ip: ip, country: country, lat: lat, lon: lon, ua: ua}
}

func (b *browser) do(method, path string, form url.Values) int {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.site.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", b.ua)
	req.Header.Set("X-Forwarded-For", b.ip)
	if b.country != "" {
		req.Header.Set("CF-IPCountry", b.country)
		req.Header.Set("CF-IPLatitude", b.lat)
		req.Header.Set("CF-IPLongitude", b.lon)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	b.lastStatus, b.lastBody, b.lastURL = resp.StatusCode, string(data), resp.Request.URL.Path
	return resp.StatusCode
}

// login opens the form (which sets the device cookie) and posts it.
func (b *browser) login(username, password string) int {
	b.t.Helper()
	b.do("GET", "/", nil)
	return b.do("POST", "/login", url.Values{"username": {username}, "password": {password}})
}

func (b *browser) signedIn() bool {
	b.t.Helper()
	b.do("GET", "/", nil)
	return strings.Contains(b.lastBody, `id="signed-in"`)
}

var codeRE = regexp.MustCompile(`code is (\d{6})`)

func (s *site) lastCode(t *testing.T, userID string) string {
	t.Helper()
	msgs := s.out.to(userID, "code")
	if len(msgs) == 0 {
		t.Fatal("no code was sent")
	}
	m := codeRE.FindStringSubmatch(msgs[len(msgs)-1].Body)
	if m == nil {
		t.Fatalf("no code in %q", msgs[len(msgs)-1].Body)
	}
	return m[1]
}

// TestTakeover: Alice signs in at home; a thief with her password, in
// another country, is asked for the code sent to Alice and cannot give it;
// Alice's own new laptop and, later, her phone abroad get in, and she is
// told about each.
func TestTakeover(t *testing.T) {
	s := newSite(t, nil)
	home := s.browser(t, "81.2.69.160", "GB", "51.5072", "-0.1276", chromeWindows)
	for i := range 2 {
		if code := home.login("alice@example.com", alicePassword); code != http.StatusOK || home.lastURL != "/" || !strings.Contains(home.lastBody, "Signed in as alice@example.com") {
			t.Fatalf("home login %d: %d %s\n%s", i, code, home.lastURL, home.lastBody)
		}
		if strings.Contains(home.lastBody, `id="new-sign-in"`) {
			t.Errorf("home login %d: a new-sign-in notice from the usual browser", i)
		}
	}

	thief := s.browser(t, "126.1.2.3", "JP", "35.6762", "139.6503", firefoxLinux)
	if code := thief.login("alice@example.com", alicePassword); code != http.StatusOK || !strings.Contains(thief.lastBody, "six-digit code") {
		t.Fatalf("thief with the password: %d\n%s", code, thief.lastBody)
	}
	if n := len(s.out.to("u-alice", "code")); n != 1 {
		t.Fatalf("codes sent to alice: %d", n)
	}
	for i, guess := range []string{"000000", "123456", "999999"} {
		want := http.StatusUnauthorized
		if i == codeTries-1 {
			want = http.StatusForbidden
		}
		if code := thief.do("POST", "/login/code", url.Values{"code": {guess}}); code != want {
			t.Fatalf("guess %d: %d, want %d", i, code, want)
		}
	}
	if thief.signedIn() {
		t.Fatal("the thief is signed in")
	}
	if n := len(s.out.to("u-alice", "new_sign_in")); n != 0 {
		t.Errorf("alice told of %d sign-ins that did not happen", n)
	}

	laptop := s.browser(t, "81.2.69.161", "GB", "51.5072", "-0.1276", chromeWindows)
	if code := laptop.login("alice@example.com", alicePassword); code != http.StatusOK || !strings.Contains(laptop.lastBody, "Signed in as") {
		t.Fatalf("alice's new laptop at home: %d\n%s", code, laptop.lastBody)
	}
	notices := s.out.to("u-alice", "new_sign_in")
	if len(notices) != 1 || !strings.Contains(notices[0].Body, "from a new device: Chrome on Windows, from 81.2.69.161 (GB)") {
		t.Fatalf("new-device notice: %+v", notices)
	}
	if !strings.Contains(laptop.lastBody, `id="new-sign-in"`) {
		t.Error("the welcome page does not show the notice")
	}

	phone := s.browser(t, "126.1.2.4", "JP", "35.6762", "139.6503", safariIPhone)
	if code := phone.login("alice@example.com", alicePassword); code != http.StatusOK || !strings.Contains(phone.lastBody, "six-digit code") {
		t.Fatalf("alice's phone in Tokyo: %d\n%s", code, phone.lastBody)
	}
	if code := phone.do("POST", "/login/code", url.Values{"code": {s.lastCode(t, "u-alice")}}); code != http.StatusOK || !strings.Contains(phone.lastBody, "Signed in as") {
		t.Fatalf("alice's code: %d\n%s", code, phone.lastBody)
	}
	notices = s.out.to("u-alice", "new_sign_in")
	if len(notices) != 2 || !strings.Contains(notices[1].Body, "a new device in a new country: Safari on iPhone, from 126.1.2.4 (JP)") {
		t.Fatalf("notices: %+v", notices)
	}
	// The passed step-up taught riskgate the phone: the next login from it
	// goes straight in, without a notice.
	if code := phone.login("alice@example.com", alicePassword); code != http.StatusOK || !strings.Contains(phone.lastBody, "Signed in as") || strings.Contains(phone.lastBody, `id="new-sign-in"`) {
		t.Fatalf("alice's phone again: %d\n%s", code, phone.lastBody)
	}
}

// TestStuffing: a bot replays a leaked combo list from one address. After a
// handful of failures riskgate refuses its attempts before the password
// check, so the bot's one right password gets it nowhere and most of its
// attempts cost no password hash; Alice, at home, is not bothered. The same
// with a 70 KB User-Agent header, which riskgate refused (so every attempt
// failed over, unjudged, its failures never counted) before the client
// cleaned it.
func TestStuffing(t *testing.T) {
	for _, tc := range []struct{ name, ua string }{
		{"bot", pythonBot},
		{"long user agent", pythonBot + strings.Repeat(" x", 35<<10)},
	} {
		t.Run(tc.name, func(t *testing.T) { testStuffing(t, tc.ua) })
	}
}

func testStuffing(t *testing.T, botUA string) {
	accounts := map[string]string{}
	for i := range 40 {
		accounts[fmt.Sprintf("user%d@example.com", i)] = fmt.Sprintf("their-own-password-%d", i)
	}
	s := newSite(t, accounts)
	home := s.browser(t, "81.2.69.160", "GB", "51.5072", "-0.1276", chromeWindows)
	if home.login("alice@example.com", alicePassword); !strings.Contains(home.lastBody, "Signed in as") {
		t.Fatalf("alice at home: %d", home.lastStatus)
	}
	checksBefore := s.users.passwordChecks()

	const attempts = 60
	var statuses []int
	for i := range attempts {
		bot := s.browser(t, "45.155.205.10", "NL", "52.37", "4.89", botUA) // no cookies kept
		username, password := fmt.Sprintf("user%d@example.com", i%50), "Summer2024!"
		if i == 45 {
			username, password = "alice@example.com", alicePassword // alice's password is in the combo list
		}
		statuses = append(statuses, bot.login(username, password))
		if i == 45 && bot.signedIn() {
			t.Fatal("the bot signed in as alice")
		}
	}
	firstRefusal := -1
	for i, st := range statuses {
		switch {
		case st == http.StatusForbidden && firstRefusal < 0:
			firstRefusal = i
		case st == http.StatusForbidden, st == http.StatusUnauthorized && firstRefusal < 0:
		default:
			t.Errorf("attempt %d: status %d after the first refusal at %d (%v)", i, st, firstRefusal, statuses)
		}
	}
	if firstRefusal < 1 || firstRefusal > 15 {
		t.Fatalf("first refusal at attempt %d: %v", firstRefusal, statuses)
	}
	if checks := s.users.passwordChecks() - checksBefore; checks != int64(firstRefusal) {
		t.Errorf("%d password hashes computed for %d attempts; want only the %d before riskgate refused", checks, attempts, firstRefusal)
	}
	if n := len(s.out.to("u-alice", "code")) + len(s.out.to("u-alice", "new_sign_in")); n != 0 {
		t.Errorf("alice got %d messages from the bot's attempts", n)
	}
	if home.login("alice@example.com", alicePassword); !strings.Contains(home.lastBody, "Signed in as") {
		t.Errorf("alice at home during the run: %d\n%s", home.lastStatus, home.lastBody)
	}
}

// TestRiskgateDown: with riskgate dead, logins get the failover (step_up
// here): the right password and the code still get Alice in, the wrong
// password still does not, and no notice is made up.
func TestRiskgateDown(t *testing.T) {
	s := newSite(t, nil)
	s.rg.Kill()
	b := s.browser(t, "81.2.69.160", "GB", "51.5072", "-0.1276", chromeWindows)
	if code := b.login("alice@example.com", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("wrong password with riskgate down: %d", code)
	}
	if code := b.login("alice@example.com", alicePassword); code != http.StatusOK || !strings.Contains(b.lastBody, "six-digit code") {
		t.Fatalf("riskgate down: %d\n%s", code, b.lastBody)
	}
	if code := b.do("POST", "/login/code", url.Values{"code": {s.lastCode(t, "u-alice")}}); code != http.StatusOK || !b.signedIn() {
		t.Fatalf("code with riskgate down: %d", code)
	}
	if n := len(s.out.to("u-alice", "new_sign_in")); n != 0 {
		t.Errorf("%d notices without a decision", n)
	}
}

// TestOutcomeOutlivesTheRequest: the browser goes away (a closed tab, a
// dropped mobile connection) right after it posts the right code. The
// login completed, so riskgate is still told, and learns the phone: the
// next login from it goes straight in.
func TestOutcomeOutlivesTheRequest(t *testing.T) {
	s := newSite(t, nil)
	home := s.browser(t, "81.2.69.160", "GB", "51.5072", "-0.1276", chromeWindows)
	if home.login("alice@example.com", alicePassword); !strings.Contains(home.lastBody, "Signed in as") {
		t.Fatalf("alice at home: %d", home.lastStatus)
	}
	phone := s.browser(t, "126.1.2.4", "JP", "35.6762", "139.6503", safariIPhone)
	if phone.login("alice@example.com", alicePassword); !strings.Contains(phone.lastBody, "six-digit code") {
		t.Fatalf("alice's phone in Tokyo: %d\n%s", phone.lastStatus, phone.lastBody)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the browser is gone by the time the server acts on its request
	req := httptest.NewRequestWithContext(ctx, "POST", s.url+"/login/code", strings.NewReader(url.Values{"code": {s.lastCode(t, "u-alice")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", phone.ip)
	u, _ := url.Parse(s.url + "/login/code")
	for _, c := range phone.hc.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	s.srv.handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("the right code: %d\n%s", rec.Code, rec.Body)
	}
	if phone.login("alice@example.com", alicePassword); !strings.Contains(phone.lastBody, "Signed in as") {
		t.Fatalf("alice's phone again: riskgate did not learn it: %d\n%s", phone.lastStatus, phone.lastBody)
	}
}

// gateway is a proxy in front of riskgate's HTTP API, as a load balancer
// would be. While down is set it answers the Scores made after the
// password check with 503, as a load balancer with no riskgate behind it
// does, and passes everything else: a riskgate blip that a login's
// AfterPassword falls into and its outcome report does not.
type gateway struct {
	url     string
	down    atomic.Bool
	refused atomic.Int64 // Scores answered 503, retries included
}

func newGateway(t *testing.T, rg *clienttest.Server) *gateway {
	t.Helper()
	u, err := url.Parse(rg.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	g := &gateway{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.down.Load() && r.URL.Path == "/v1/score" && r.URL.Query().Get("before_password") != "true" {
			g.refused.Add(1)
			http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	g.url = hs.URL
	return g
}

// TestWrongPasswordDuringBlip: riskgate cannot be reached when a wrong
// password (or an unknown username) is scored after the check, and is
// back for the report. The login reports the failover's failure, which
// sends the attempt, so riskgate counts it in the address's and the
// account's failure windows, once, as it counts a wrong password it
// scored. Before, it was never counted: a brute force during a blip went
// unseen.
func TestWrongPasswordDuringBlip(t *testing.T) {
	rg := clienttest.Start(t)
	gw := newGateway(t, rg)
	s := newSiteVia(t, rg, gw.url, map[string]string{"bob@example.com": "bob's own", "carol@example.com": "carol's own"})
	// The probe asks riskgate directly, for the failure windows' counts.
	probe, err := client.New(client.Options{Target: rg.GRPC, Failover: client.StepUp, Timeout: 10 * time.Second, Signals: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { probe.Close() })

	for _, tc := range []struct {
		name, username, ip string
		down               bool
	}{
		{"wrong password scored", "bob@example.com", "81.2.69.170", false},
		{"wrong password failed over", "carol@example.com", "81.2.69.171", true},
		{"unknown username failed over", "nobody@example.com", "81.2.69.172", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw.down.Store(tc.down)
			defer gw.down.Store(false)
			refused := gw.refused.Load()
			b := s.browser(t, tc.ip, "GB", "51.5072", "-0.1276", chromeWindows)
			if code := b.login(tc.username, "Summer2024!"); code != http.StatusUnauthorized {
				t.Fatalf("wrong password: %d\n%s", code, b.lastBody)
			}
			if turned := gw.refused.Load() - refused; (turned > 0) != tc.down {
				t.Fatalf("the gateway turned away %d Scores; want some: %v", turned, tc.down)
			}
			gw.down.Store(false)

			// The report, when there is one, is made before the page is
			// rendered: riskgate holds the count by now.
			a := client.Attempt{Username: tc.username, IP: tc.ip}
			if u := s.users.lookup(tc.username); u != nil {
				a.UserID = u.ID
			}
			d, err := probe.BeforePassword(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			ip, acct := d.Signals.GetIp().GetFailures_10M(), d.Signals.GetAccount().GetFailures_1H()
			if ip != 1 || acct != 1 {
				t.Errorf("riskgate counted %d failures from the address and %d for the account; want 1 and 1", ip, acct)
			}
		})
	}
}
