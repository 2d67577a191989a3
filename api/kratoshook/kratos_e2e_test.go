package kratoshook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/api/client"
	"github.com/riskgate/riskgate/api/client/clienttest"
	"github.com/riskgate/riskgate/api/kratoshook"
	"github.com/riskgate/riskgate/internal/freeport"
)

// The end-to-end test runs a real Ory Kratos, which is not in any package
// registry as a binary: build it from the Go module proxy (see
// deploy/kratos/README.md) and name it in RISKGATE_KRATOS_BIN.
const kratosEnv = "RISKGATE_KRATOS_BIN"

func TestMain(m *testing.M) {
	if os.Getenv(kratosEnv) == "" {
		os.Exit(m.Run()) // no riskgate to build for the unit tests
	}
	clienttest.Main(m)
}

const kratosConfig = `
dsn: memory
serve:
  public: {base_url: "http://%[1]s/", host: 127.0.0.1, port: %[2]d}
  admin: {base_url: "http://%[3]s/", host: 127.0.0.1, port: %[4]d}
selfservice:
  default_browser_return_url: http://127.0.0.1:1/
  methods:
    password: {enabled: true, config: {haveibeenpwned_enabled: false}}
  flows:
    error: {ui_url: "http://127.0.0.1:1/error"}
    login:
      ui_url: http://127.0.0.1:1/login
      after:
        password:
          hooks:
            - hook: web_hook
              config:
                url: %[5]s/kratos/login
                method: POST
                body: file://%[6]s
                can_interrupt: true
                response: {parse: false, ignore: false}
                auth:
                  type: api_key
                  config: {name: Authorization, value: "set from the environment", in: header}
secrets:
  cookie: [a-cookie-secret-for-tests-only-0123]
  cipher: [32-LONG-SECRET-NOT-SECURE-AT-ALL]
identity:
  default_schema_id: default
  schemas: [{id: default, url: "file://%[7]s"}]
log: {level: warning}
`

const identitySchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {"traits": {"type": "object", "additionalProperties": false, "required": ["email"],
    "properties": {"email": {"type": "string", "format": "email",
      "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}}}}
}`

type kratos struct {
	public, admin string
}

// startKratos runs Kratos on two free loopback ports, its public and admin
// APIs, and stops it when the test ends. A port can be taken between the
// kernel's answer and Kratos' bind: it is then started again on others.
func startKratos(t *testing.T, bin, hookURL, hookToken string) *kratos {
	t.Helper()
	dir := t.TempDir()
	tmpl, err := filepath.Abs("../../deploy/kratos/riskgate-login.jsonnet")
	if err != nil {
		t.Fatal(err)
	}
	schema := filepath.Join(dir, "identity.schema.json")
	if err := os.WriteFile(schema, []byte(identitySchema), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := freeport.Start(freeport.Options{Ports: 2}, func(ports []netip.AddrPort) (*kratos, error) {
		public, admin := ports[0], ports[1]
		cfg := filepath.Join(dir, "kratos.yml")
		conf := fmt.Sprintf(kratosConfig, public, public.Port(), admin, admin.Port(), hookURL, tmpl, schema)
		if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "serve", "-c", cfg, "--dev", "--sqa-opt-out")
		// The token from the environment, as deploy/kratos/kratos.yml advises.
		cmd.Env = append(os.Environ(), "SELFSERVICE_FLOWS_LOGIN_AFTER_PASSWORD_HOOKS_0_CONFIG_AUTH_CONFIG_VALUE=Bearer "+hookToken)
		k := &kratos{public: "http://" + public.String(), admin: "http://" + admin.String()}
		return k, freeport.Process(t, cmd, k.admin+"/admin/health/ready", "kratos output", 60*time.Second)
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jsonDo(t *testing.T, method, url string, body any, headers map[string]string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, out
}

// login runs a Kratos API login flow from a place and device.
func (k *kratos) login(t *testing.T, ip, city, country, ua, device string) (int, map[string]any) {
	t.Helper()
	code, flow := jsonDo(t, "GET", k.public+"/self-service/login/api", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("login flow: %d %v", code, flow)
	}
	return jsonDo(t, "POST", k.public+"/self-service/login?flow="+flow["id"].(string), map[string]any{
		"method": "password", "identifier": "alice@example.com", "password": "correct horse battery staple",
		"transient_payload": map[string]any{"device_id": device},
	}, map[string]string{"True-Client-IP": ip, "Cf-Ipcity": city, "Cf-Ipcountry": country, "User-Agent": ua})
}

// formMessageIDs are the ids of the messages on the login form.
func formMessageIDs(flow map[string]any) []int {
	var ids []int
	ui, _ := flow["ui"].(map[string]any)
	msgs, _ := ui["messages"].([]any)
	for _, m := range msgs {
		if id, ok := m.(map[string]any)["id"].(float64); ok {
			ids = append(ids, int(id))
		}
	}
	return ids
}

// TestKratos: Kratos v1.3.1 calls the hook after the password, through the
// shipped template, with the token from its environment; riskgate's allow
// issues the session, its deny and step_up put their message on the form,
// and a dead riskgate gives the client's failover.
func TestKratos(t *testing.T) {
	bin := os.Getenv(kratosEnv)
	if bin == "" {
		t.Skipf("set %s to a kratos binary (deploy/kratos/README.md says how to build one)", kratosEnv)
	}
	denyList := filepath.Join(t.TempDir(), "deny.txt")
	if err := os.WriteFile(denyList, []byte("45.155.205.66\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rg := clienttest.Start(t, "--ip-list", "deny="+denyList)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := client.New(client.Options{Target: rg.GRPC, Failover: client.StepUp, Timeout: 5 * time.Second, Logger: quiet,
		Breaker: client.BreakerOptions{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const token = "hook-token-for-the-kratos-test-0123"
	h, err := kratoshook.New(kratoshook.Options{Scorer: kratoshook.ClientScorer(c), Token: token, Tenant: "kratos", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var calls sync.Map
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Store(r.URL.Path, true)
		h.ServeHTTP(w, r)
	}))
	defer hook.Close()
	k := startKratos(t, bin, hook.URL, token)

	code, id := jsonDo(t, "POST", k.admin+"/admin/identities", map[string]any{
		"schema_id": "default", "traits": map[string]any{"email": "alice@example.com"},
		"credentials": map[string]any{"password": map[string]any{"config": map[string]any{"password": "correct horse battery staple"}}},
	}, nil)
	if code != http.StatusCreated {
		t.Fatalf("create identity: %d %v", code, id)
	}
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

	cases := []struct {
		name                     string
		ip, city, country, agent string
		device                   string
		session                  bool
		message                  int
	}{
		{"home", "81.2.69.160", "London", "GB", firefox, "dev-home", true, 0},
		{"home again", "81.2.69.160", "London", "GB", firefox, "dev-home", true, 0},
		{"deny list", "45.155.205.66", "", "", firefox, "dev-home", false, kratoshook.DefaultDenyMessage.ID},
		{"new device, new country", "126.1.2.3", "Tokyo", "JP", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0", "dev-other", false, kratoshook.DefaultStepUpMessage.ID},
	}
	for _, tc := range cases {
		code, body := k.login(t, tc.ip, tc.city, tc.country, tc.agent, tc.device)
		if tc.session {
			if code != http.StatusOK || body["session_token"] == nil {
				t.Fatalf("%s: %d %v", tc.name, code, body)
			}
			continue
		}
		if ids := formMessageIDs(body); code != http.StatusBadRequest || body["session_token"] != nil || len(ids) != 1 || ids[0] != tc.message {
			t.Fatalf("%s: %d, form messages %v, want %d", tc.name, code, ids, tc.message)
		}
	}
	if _, ok := calls.Load("/kratos/login"); !ok {
		t.Fatal("the hook was never called")
	}

	rg.Kill() // riskgate gone: the client's failover (step_up) answers
	code, body := k.login(t, "81.2.69.160", "London", "GB", firefox, "dev-home")
	if ids := formMessageIDs(body); code != http.StatusBadRequest || len(ids) != 1 || ids[0] != kratoshook.DefaultStepUpMessage.ID {
		t.Fatalf("riskgate down: %d %v", code, ids)
	}
	if !strings.Contains(fmt.Sprint(body), "riskgate_step_up") {
		t.Errorf("the message does not say why: %v", body)
	}
}

// TestKratosMounted: the same logins, with Kratos calling the hook that
// `riskgate serve` mounts itself (POST /v1/kratos/login, its token from
// --kratos-token-file), on the real binary: no hook process of its own.
func TestKratosMounted(t *testing.T) {
	bin := os.Getenv(kratosEnv)
	if bin == "" {
		t.Skipf("set %s to a kratos binary (deploy/kratos/README.md says how to build one)", kratosEnv)
	}
	dir := t.TempDir()
	denyList := filepath.Join(dir, "deny.txt")
	tokenFile := filepath.Join(dir, "kratos-token")
	const token = "hook-token-for-the-mounted-test-0123"
	if err := os.WriteFile(denyList, []byte("45.155.205.66\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rg := clienttest.Start(t, "--ip-list", "deny="+denyList, "--kratos-token-file", tokenFile, "--kratos-tenant", "kratos")
	// The template's URL is <base>/kratos/login.
	k := startKratos(t, bin, rg.HTTP+"/v1", token)
	code, id := jsonDo(t, "POST", k.admin+"/admin/identities", map[string]any{
		"schema_id": "default", "traits": map[string]any{"email": "alice@example.com"},
		"credentials": map[string]any{"password": map[string]any{"config": map[string]any{"password": "correct horse battery staple"}}},
	}, nil)
	if code != http.StatusCreated {
		t.Fatalf("create identity: %d %v", code, id)
	}
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	for _, tc := range []struct {
		name                     string
		ip, city, country, agent string
		device                   string
		session                  bool
		message                  int
	}{
		{"home", "81.2.69.160", "London", "GB", firefox, "dev-home", true, 0},
		{"home again", "81.2.69.160", "London", "GB", firefox, "dev-home", true, 0},
		{"deny list", "45.155.205.66", "", "", firefox, "dev-home", false, kratoshook.DefaultDenyMessage.ID},
		{"new device, new country", "126.1.2.3", "Tokyo", "JP", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0", "dev-other", false, kratoshook.DefaultStepUpMessage.ID},
	} {
		code, body := k.login(t, tc.ip, tc.city, tc.country, tc.agent, tc.device)
		if tc.session {
			if code != http.StatusOK || body["session_token"] == nil {
				t.Fatalf("%s: %d %v\n%s", tc.name, code, body, rg.Logs())
			}
			continue
		}
		if ids := formMessageIDs(body); code != http.StatusBadRequest || body["session_token"] != nil || len(ids) != 1 || ids[0] != tc.message {
			t.Fatalf("%s: %d, form messages %v, want %d\n%s", tc.name, code, ids, tc.message, rg.Logs())
		}
	}
	if !strings.Contains(rg.Logs(), "ory kratos hook mounted") {
		t.Errorf("riskgate did not mount the hook:\n%s", rg.Logs())
	}
}
