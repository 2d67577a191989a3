package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskgate/riskgate/node"
)

// notifyNode is a node serving HTTP on a free port, its alerts (and
// notifications) going to a JSONL file, with the admin token below.
type notifyNode struct {
	t      *testing.T
	url    string
	alerts string
	stop   func()
}

const notifyAdminToken = "node-notify-admin-token-0123"

func startNotifyNode(t *testing.T, cfg node.Config) *notifyNode {
	t.Helper()
	t.Setenv("RISKGATE_ADMIN_TOKEN", notifyAdminToken)
	dir := t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Alerts.File = filepath.Join(dir, "alerts.jsonl")
	cfg.Alerts.Notifications = true
	n, err := node.New(context.Background(), cfg, node.WithSecret([]byte("node-notify-secret-0123456789")), node.WithLogger(quiet()),
		node.WithRegistry(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs, wait, err := n.Start(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := wait(); err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return &notifyNode{t: t, url: "http://" + addrs.HTTP, alerts: cfg.Alerts.File, stop: stop}
}

// call sends body (JSON) and decodes the answer into out (when not nil),
// failing the test on another status than want.
func (n *notifyNode) call(method, path, token string, body, out any, want int) {
	n.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			n.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.url+path, r)
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		n.t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			n.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

type notifyDecision struct {
	DecisionID string   `json:"decision_id"`
	Action     string   `json:"action"`
	Notify     []string `json:"notify"`
}

// login scores a login of user in tenant from device in country (FR:
// Paris, JP: Tokyo) with result.
func (n *notifyNode) login(tenant, user, attemptID, device, country, result string) notifyDecision {
	n.t.Helper()
	geo := map[string]any{"country": "FR", "lat": 48.85, "lon": 2.35}
	ip := "81.2.69.160"
	if country == "JP" {
		geo, ip = map[string]any{"country": "JP", "lat": 35.68, "lon": 139.69}, "133.1.2.3"
	}
	a := map[string]any{"tenant": tenant, "user_id": user, "username": user + "@example.com", "ip": ip, "device_id": device, "geo": geo,
		"result": result, "channel": "web",
		"user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}
	if attemptID != "" {
		a["attempt_id"] = attemptID
	}
	var d notifyDecision
	n.call("POST", "/v1/score", "", a, &d, http.StatusOK)
	return d
}

// baseline gives user in tenant five completed logins from its laptop in
// Paris.
func (n *notifyNode) baseline(tenant, user string) {
	n.t.Helper()
	for i := range 5 {
		n.login(tenant, user, fmt.Sprintf("%s-%s-base-%d", tenant, user, i), "laptop", "FR", "password_ok")
	}
}

func (n *notifyNode) report(tenant, decisionID, outcome string, want int) {
	n.t.Helper()
	n.call("POST", "/v1/outcome", "", map[string]any{"tenant": tenant, "decision_id": decisionID, "outcome": outcome}, nil, want)
}

type notifyEvent struct {
	Schema         string   `json:"schema"`
	NotificationID string   `json:"notification_id"`
	Tenant         string   `json:"tenant"`
	AttemptID      string   `json:"attempt_id"`
	Kinds          []string `json:"kinds"`
	CompletedBy    string   `json:"completed_by"`
	User           struct {
		ID string `json:"id"`
	} `json:"user"`
}

// notifications stops the node, which flushes its sinks, and returns the
// notification events of its alerts file by attempt id.
func (n *notifyNode) notifications() map[string][]notifyEvent {
	n.t.Helper()
	n.stop()
	b, err := os.ReadFile(n.alerts)
	if err != nil && !os.IsNotExist(err) {
		n.t.Fatal(err)
	}
	out := map[string][]notifyEvent{}
	for l := range strings.Lines(string(b)) {
		var e notifyEvent
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			n.t.Fatalf("%v in %s", err, l)
		}
		if e.Schema == "riskgate.notification.v1" {
			out[e.AttemptID] = append(out[e.AttemptID], e)
		}
	}
	return out
}

// Each completed login from a new device notifies its owner once, however
// it completed; one that did not complete notifies no one. An allow
// scored before the password check and reported step_up_passed (the
// identity server asked for a second factor of its own) is a completed
// login, which the engine learns: its notification was dropped, and the
// device, known from then on, was never notified at all.
func TestNotificationOfEachCompletedLogin(t *testing.T) {
	n := startNotifyNode(t, node.Config{})
	cases := []struct {
		name    string
		result  string // the Score's
		country string
		action  string // the decision's
		outcome string // reported, "" for none
		want    string // completed_by, "" for no notification
	}{
		{"password ok", "password_ok", "FR", "allow", "", "password"},
		{"before the password, succeeded", "unknown", "FR", "allow", "login_succeeded", "password"},
		{"before the password, step-up of the identity server's own", "unknown", "FR", "allow", "step_up_passed", "step_up"},
		{"before the password, failed", "unknown", "FR", "allow", "login_failed", ""},
		{"step-up passed", "password_ok", "JP", "step_up", "step_up_passed", "step_up"},
		{"step-up failed", "password_ok", "JP", "step_up", "step_up_failed", ""},
		{"step-up never answered", "password_ok", "JP", "step_up", "", ""},
		{"wrong password", "password_bad", "FR", "allow", "", ""},
	}
	for i, c := range cases {
		user := fmt.Sprintf("u%d", i)
		n.baseline("acme", user)
		d := n.login("acme", user, "new-"+user, "new-device", c.country, c.result)
		if d.Action != c.action {
			t.Fatalf("%s: decided %s, want %s", c.name, d.Action, c.action)
		}
		if c.outcome != "" {
			n.report("acme", d.DecisionID, c.outcome, http.StatusNoContent)
		}
	}
	got := n.notifications()
	for i, c := range cases {
		notes := got["new-"+fmt.Sprintf("u%d", i)]
		switch {
		case c.want == "" && len(notes) != 0:
			t.Errorf("%s: notified %+v, want none", c.name, notes)
		case c.want != "" && len(notes) != 1:
			t.Errorf("%s: %d notifications, want one (%s)", c.name, len(notes), c.want)
		case c.want != "" && notes[0].CompletedBy != c.want:
			t.Errorf("%s: completed_by %q, want %q", c.name, notes[0].CompletedBy, c.want)
		}
	}
}

// The username policy of each tenant (--alerts-tenant-usernames) reaches
// that tenant's notifications, however the list was spaced:
// "acme=hash; beta=omit" made the tenant " beta", which no attempt
// carries, and beta's usernames went out plain, as the default said,
// without a word. A tenant no attempt could carry is refused at start.
func TestTenantUsernamePolicies(t *testing.T) {
	cfg := node.Config{}
	cfg.Alerts.Usernames = "plain"
	cfg.Alerts.TenantUsernames = map[string]string{"acme": "hash", " beta": "omit"}
	n := startNotifyNode(t, cfg)
	for _, tenant := range []string{"acme", "beta", "gamma"} {
		n.baseline(tenant, "u")
		n.login(tenant, "u", "new-"+tenant, "new-device", "FR", "password_ok")
	}
	n.stop()
	b, err := os.ReadFile(n.alerts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for l := range strings.Lines(string(b)) {
		var e struct {
			Schema, Tenant string
			User           map[string]string
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if e.Schema == "riskgate.notification.v1" {
			got[e.Tenant] = e.User
		}
	}
	for _, c := range []struct{ tenant, has, hasNot string }{
		{"acme", "username_hash", "username"},
		{"beta", "", "username"},
		{"beta", "", "username_hash"},
		{"gamma", "username", "username_hash"},
	} {
		u, ok := got[c.tenant]
		switch {
		case !ok:
			t.Errorf("%s: no notification", c.tenant)
		case c.has != "" && u[c.has] == "":
			t.Errorf("%s: user %v, want its %s", c.tenant, u, c.has)
		case u[c.hasNot] != "":
			t.Errorf("%s: user %v, want no %s", c.tenant, u, c.hasNot)
		}
	}

	for _, bad := range []map[string]string{
		{"ac/me": "plain"},
		{".acme": "plain"},
		{"": "plain"},
		{"acme": "plain", "acme ": "omit"},
	} {
		cfg := node.Config{}
		cfg.Alerts.Log, cfg.Alerts.TenantUsernames = true, bad
		n, err := node.New(context.Background(), cfg, node.WithSecret([]byte("node-notify-secret-0123456789")), node.WithLogger(quiet()))
		if err == nil {
			n.Close(context.Background())
			t.Errorf("tenant usernames %q: started", bad)
		} else if !strings.Contains(err.Error(), "tenant") {
			t.Errorf("tenant usernames %q: %v, want the tenant named", bad, err)
		}
	}
}

// metric returns the value of an unlabelled series of the node's /metrics.
func (n *notifyNode) metric(name string) string {
	n.t.Helper()
	res, err := http.Get(n.url + "/metrics")
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+" "); ok {
			return v
		}
	}
	n.t.Fatalf("/metrics has no %s", name)
	return ""
}

// Forget drops the notifications held for the erased user's step-ups,
// and only theirs: the same user id in another tenant keeps its own.
// An erased user's held notification, which no outcome could publish
// any more (its pending decision erased), stayed in memory with the
// user's address and username for --alerts-notify-hold-ttl, taking the
// room of others: here, with room for two, the next step-up pushed one
// out (riskgate_notifications_evicted_total).
func TestForgetDropsHeldNotifications(t *testing.T) {
	cfg := node.Config{}
	cfg.Alerts.NotifyHoldEntries = 2
	n := startNotifyNode(t, cfg)
	held := map[string]notifyDecision{}
	for _, s := range []struct{ tenant, user string }{{"beta", "u"}, {"acme", "u"}, {"gamma", "v"}} {
		n.baseline(s.tenant, s.user)
	}
	for _, s := range []struct{ tenant, user string }{{"beta", "u"}, {"acme", "u"}} {
		held[s.tenant] = n.login(s.tenant, s.user, "trip-"+s.tenant, "tablet", "JP", "password_ok")
	}
	n.call("DELETE", "/v1/users/beta/u", notifyAdminToken, nil, nil, http.StatusNoContent)
	held["gamma"] = n.login("gamma", "v", "trip-gamma", "tablet", "JP", "password_ok")
	for tenant, d := range held {
		if d.Action != "step_up" {
			t.Fatalf("%s: %s, want step_up", tenant, d.Action)
		}
	}
	n.report("beta", held["beta"].DecisionID, "step_up_passed", http.StatusNotFound)
	n.report("acme", held["acme"].DecisionID, "step_up_passed", http.StatusNoContent)
	n.report("gamma", held["gamma"].DecisionID, "step_up_passed", http.StatusNoContent)
	for _, reason := range []string{"hold_full", "tenant_share"} {
		name := `riskgate_notifications_evicted_total{reason="` + reason + `"}`
		if v := n.metric(name); v != "0" {
			t.Errorf("%s %s, want 0: the erased user's held notification took room", name, v)
		}
	}
	got := n.notifications()
	for _, c := range []struct {
		tenant string
		want   int
	}{{"acme", 1}, {"beta", 0}, {"gamma", 1}} {
		if notes := got["trip-"+c.tenant]; len(notes) != c.want {
			t.Errorf("%s: %d notifications, want %d", c.tenant, len(notes), c.want)
		}
	}
}

// A rule's reason may quote the username (here a tenant's overlay's,
// put by its own admin); the alerts and notifications of a tenant whose
// policy hides usernames show it hashed or not at all, in the rules'
// messages too: those carried it in clear, whatever
// --alerts-tenant-usernames said.
func TestRuleMessagesFollowTheUsernamePolicy(t *testing.T) {
	const acmeToken = "acme-notify-token-0123456789"
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tenants.tokens")
	if err := os.WriteFile(tokens, []byte("acme "+acmeToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{}
	cfg.Auth.TenantAdminTokensFile = tokens
	cfg.Alerts.TenantUsernames = map[string]string{"acme": "hash", "beta": "omit", "gamma": "plain"}
	n := startNotifyNode(t, cfg)
	const overlay = `rules:
  - id: quoted
    description: Quotes the username.
    when: attempt.channel == "web"
    alert: true
    notify: quoted
    reason: 'sprintf("a login of %s.", attempt.username)'
`
	for tenant, token := range map[string]string{"acme": acmeToken, "beta": notifyAdminToken, "gamma": notifyAdminToken} {
		put := map[string]any{"files": []map[string]string{{"name": "quoted.yaml", "content": overlay}}}
		n.call("PUT", "/v1/tenants/"+tenant+"/rules", token, put, nil, http.StatusOK)
		n.login(tenant, "quoted", "quoted-"+tenant, "laptop", "FR", "password_ok")
	}
	n.stop()
	b, err := os.ReadFile(n.alerts)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for l := range strings.Lines(string(b)) {
		var e struct{ Schema, Tenant string }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		seen[e.Tenant+" "+e.Schema]++
		if plain := strings.Contains(l, "quoted@example.com"); plain != (e.Tenant == "gamma") {
			t.Errorf("%s %s: username in clear %v: %s", e.Tenant, e.Schema, plain, l)
		}
	}
	for _, tenant := range []string{"acme", "beta", "gamma"} {
		for _, schema := range []string{"riskgate.alert.v1", "riskgate.notification.v1"} {
			if seen[tenant+" "+schema] != 1 {
				t.Errorf("%s: %d %s, want 1", tenant, seen[tenant+" "+schema], schema)
			}
		}
	}
}
