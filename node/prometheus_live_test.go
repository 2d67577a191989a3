package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/riskgate/riskgate/internal/freeport"
	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/internal/syncbuf"
	"github.com/riskgate/riskgate/node"
	"github.com/riskgate/riskgate/rules"
)

// prometheusEnv names a Prometheus server binary for
// TestAlertRulesInPrometheus, where prometheus is not in PATH.
const prometheusEnv = "RISKGATE_PROMETHEUS"

// TestAlertRulesInPrometheus runs deploy/prometheus/riskgate.rules.yaml in
// a real Prometheus scraping a real node (Redis store, rules from a
// folder) every second, and provokes real faults. The promtool unit tests
// feed the rules series written by hand; this one feeds them the node's
// own, which is where an expression Prometheus refuses at evaluation
// (many-to-many matching, a label set that collides) or an alert that
// fires on a healthy node would show. It checks that:
//
//   - every rule evaluates with health ok and no error, on the healthy
//     node and after the faults;
//   - on the healthy node with some traffic no alert fires;
//   - a PUT /v1/rules refused does not fire RiskgateRulesReloadFailed; a
//     rule file broken on disk fires it, and the file put back resolves it;
//   - Redis killed fires RiskgateStoreDown; Redis back resolves it, and
//     RiskgateRedisStateLost fires (Redis came back without its data).
//
// The for: of the two alerts provoked is cut to 0s in a copy of the
// rules (their expressions are the file's); every other alert keeps its
// own, so that a blip on a loaded machine (a slow first Score) cannot
// fire one. Every wait is for a condition, seen in Prometheus' API; none
// sleeps and then asserts.
//
// It needs Prometheus' server, which CI does not install (only promtool):
// it is skipped without one in PATH or in RISKGATE_PROMETHEUS. Debian's
// package starts a server when installed; take the binary alone:
//
//	apt-get download prometheus && dpkg -x prometheus_*.deb /tmp/prom
//	PATH=/tmp/prom/usr/bin:$PATH go test ./node -run TestAlertRulesInPrometheus
//
// docs/monitoring.md, "Trying the rules", has the manual procedure for
// the faults this test does not provoke.
func TestAlertRulesInPrometheus(t *testing.T) {
	promBin := os.Getenv(prometheusEnv)
	if promBin == "" {
		var err error
		if promBin, err = exec.LookPath("prometheus"); err != nil {
			t.Skipf("no Prometheus server in PATH nor in %s: see the test's comment", prometheusEnv)
		}
	}
	rds := redistest.Start(t)
	dir := t.TempDir()

	// The node: a Redis store, the default rules from a folder of its
	// own (watched), the admin API.
	rulesDir := filepath.Join(dir, "rules")
	adminToken := "admin-token-for-the-prometheus-test"
	if err := os.Mkdir(rulesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(rulesDir, "default.yaml"), string(rules.DefaultSource().Data))
	writeFile(t, filepath.Join(dir, "admin"), adminToken)
	cfg := node.Config{
		HTTP:  node.HTTPConfig{Addr: "127.0.0.1:0"},
		Store: rds.URL,
		Auth:  node.AuthConfig{AdminTokenFile: filepath.Join(dir, "admin")},
		// The watch, as riskgate serve's defaults.
		RulesWatch: true, RulesDebounce: 50 * time.Millisecond, RulesPoll: time.Second,
		EngineConfig: node.EngineConfig{Rules: []string{rulesDir}},
	}
	reg := prometheus.NewRegistry()
	// As riskgate serve registers them beside the node's.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n, err := node.New(context.Background(), cfg, node.WithRegistry(reg),
		node.WithSecret([]byte("prometheus-live-test-secret")), node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs, wait, err := n.Start(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = wait() })
	base := "http://" + addrs.HTTP
	score := func() {
		t.Helper()
		resp, err := http.Post(base+"/v1/score?omit_signals=true", "application/json",
			strings.NewReader(`{"ip":"81.2.69.160","user_id":"u-1","username":"alice","device_id":"d-1","result":"password_ok"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("score: %s", resp.Status)
		}
	}
	for range 5 {
		score()
	}

	// Prometheus: the rules, the two provoked alerts' for: cut.
	src, err := os.ReadFile(filepath.Join(alertRulesDir, alertRulesFile))
	if err != nil {
		t.Fatal(err)
	}
	provoked := []string{"RiskgateStoreDown", "RiskgateRulesReloadFailed"}
	cut, err := cutFor(src, provoked...)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, alertRulesFile), string(cut))
	writeFile(t, filepath.Join(dir, "prometheus.yml"), fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: riskgate
    static_configs:
      - targets: [%q]
`, filepath.Join(dir, alertRulesFile), addrs.HTTP))
	p := startPrometheus(t, promBin, dir)

	// Healthy: scraped, every rule evaluated twice since, each ok, and
	// no alert firing.
	p.waitEvaluated(t, "the healthy node")
	p.checkRulesHealthy(t, len(alertNames(t, src)))
	score()
	p.waitEvaluated(t, "the healthy node, more traffic")
	for _, a := range p.alerts(t) {
		if a.State == "firing" {
			t.Errorf("healthy node: %s fires: %v (value %s)", a.Labels["alertname"], a.Labels, a.Value)
		}
	}

	// A put refused is not a rejected reload.
	req, err := http.NewRequest(http.MethodPut, base+"/v1/rules?name=bad.yaml", strings.NewReader(badRuleFile))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("PUT /v1/rules of a bad rule: %s, want 400", resp.Status)
	}
	p.waitEvaluated(t, "the put refused")
	if a := p.alert(t, "RiskgateRulesReloadFailed"); a != nil {
		t.Errorf("a PUT /v1/rules refused makes RiskgateRulesReloadFailed %s", a.State)
	}
	// A file broken on disk is; put back, it is not.
	broken := filepath.Join(rulesDir, "zz-typo.yaml")
	writeFile(t, broken, badRuleFile)
	p.waitFiring(t, "RiskgateRulesReloadFailed", "a rule file broken on disk")
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	p.waitResolved(t, "RiskgateRulesReloadFailed", "the broken file removed")

	// Redis killed: the node decides without state; back (empty), with
	// state again.
	rds.Kill()
	score()
	p.waitFiring(t, "RiskgateStoreDown", "Redis killed")
	rds.Restart()
	p.waitResolved(t, "RiskgateStoreDown", "Redis back")
	p.waitFiring(t, "RiskgateRedisStateLost", "Redis back without its data")
	score()
	p.waitEvaluated(t, "after the faults")
	p.checkRulesHealthy(t, len(alertNames(t, src)))
}

// badRuleFile is a rule file that does not compile (README's bad.yaml).
const badRuleFile = `rules:
  - id: typo
    description: A misspelt field.
    when: geo.new_countyr
    action: deny
`

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// alertNames are the alerts of a rules file, in order.
func alertNames(t *testing.T, src []byte) []string {
	t.Helper()
	var names []string
	for _, m := range alertLine.FindAllSubmatch(src, -1) {
		names = append(names, string(m[1]))
	}
	if len(names) == 0 {
		t.Fatal("no alert in the rules file")
	}
	return names
}

var (
	alertLine = regexp.MustCompile(`(?m)^\s*- alert:\s*(\S+)\s*$`)
	forLine   = regexp.MustCompile(`^(\s*)for:\s*\S+\s*$`)
)

// cutFor sets the for: of the named alerts to 0s in a rules file, each of
// which must have one.
func cutFor(src []byte, alerts ...string) ([]byte, error) {
	var out bytes.Buffer
	current, done := "", map[string]bool{}
	for line := range strings.Lines(string(src)) {
		if m := alertLine.FindStringSubmatch(line); m != nil {
			current = m[1]
		} else if m := forLine.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil && slices.Contains(alerts, current) {
			line = m[1] + "for: 0s\n"
			done[current] = true
		}
		out.WriteString(line)
	}
	for _, a := range alerts {
		if !done[a] {
			return nil, fmt.Errorf("the rules file has no for: for %s", a)
		}
	}
	return out.Bytes(), nil
}

// promClient calls Prometheus' API: a call that hangs fails the test
// rather than hold it until go test's own timeout.
var promClient = &http.Client{Timeout: 10 * time.Second}

// promServer is a Prometheus server of the test, and its API.
type promServer struct {
	api    string
	output syncbuf.Buffer // its log, shown when the test fails
}

// startPrometheus starts Prometheus with dir/prometheus.yml and its data
// in dir, on a port the kernel gives, and stops it when the test ends. The
// port can be taken before Prometheus binds it: it is then started again
// on another.
func startPrometheus(t *testing.T, bin, dir string) *promServer {
	t.Helper()
	p, err := freeport.Start(freeport.Options{}, func(ports []netip.AddrPort) (*promServer, error) {
		addr := ports[0].String()
		p := &promServer{api: "http://" + addr + "/api/v1/"}
		data := filepath.Join(dir, "prometheus-data-"+strconv.Itoa(int(ports[0].Port())))
		cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path="+data, "--web.listen-address="+addr, "--log.level=warn")
		cmd.Stdout, cmd.Stderr = &p.output, &p.output
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
			if t.Failed() {
				out := p.output.String()
				if len(out) > 8000 {
					out = "...\n" + out[len(out)-8000:]
				}
				t.Logf("prometheus's log:\n%s", out)
			}
		})
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case err := <-exited:
				exited <- err
				out := p.output.String()
				return nil, freeport.Taken(fmt.Errorf("prometheus exited: %v\n%s", err, out), out)
			default:
			}
			if resp, err := promClient.Get("http://" + addr + "/-/ready"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return p, nil
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		return nil, fmt.Errorf("prometheus not ready within 30s:\n%s", p.output.String())
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// get decodes the data of one API call into v.
func (p *promServer) get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := promClient.Get(p.api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("GET %s: %s %v %s", path, resp.Status, err, body.Error)
	}
	if err := json.Unmarshal(body.Data, v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
	Value  string            `json:"value"`
}

type promRules struct {
	Groups []struct {
		Name           string    `json:"name"`
		LastEvaluation time.Time `json:"lastEvaluation"`
		Rules          []struct {
			Name      string `json:"name"`
			Health    string `json:"health"`
			LastError string `json:"lastError"`
		} `json:"rules"`
	} `json:"groups"`
}

// alerts are the alerts pending or firing.
func (p *promServer) alerts(t *testing.T) []promAlert {
	t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	p.get(t, "alerts", &data)
	return data.Alerts
}

// alert is the named alert, pending or firing, or nil.
func (p *promServer) alert(t *testing.T, name string) *promAlert {
	t.Helper()
	for _, a := range p.alerts(t) {
		if a.Labels["alertname"] == name {
			return &a
		}
	}
	return nil
}

// waitEvaluated waits until the node has been scraped after the call,
// and every rule group evaluated twice after that scrape: what the
// rules see then includes whatever the node did before the call.
func (p *promServer) waitEvaluated(t *testing.T, what string) {
	t.Helper()
	since := time.Now()
	var scraped time.Time
	p.waitFor(t, what+": the node scraped", func() bool {
		var data struct {
			ActiveTargets []struct {
				Health     string    `json:"health"`
				LastScrape time.Time `json:"lastScrape"`
			} `json:"activeTargets"`
		}
		p.get(t, "targets", &data)
		for _, tg := range data.ActiveTargets {
			if tg.Health == "up" && tg.LastScrape.After(since) {
				scraped = tg.LastScrape
				return true
			}
		}
		return false
	})
	// Groups are evaluated at offsets of their own within the interval:
	// the second round starts after the last group's first.
	after := scraped
	for i := range 2 {
		var last time.Time
		p.waitFor(t, fmt.Sprintf("%s: the rules evaluated (%d)", what, i+1), func() bool {
			var data promRules
			p.get(t, "rules", &data)
			last = time.Time{}
			for _, g := range data.Groups {
				if !g.LastEvaluation.After(after) {
					return false
				}
				if g.LastEvaluation.After(last) {
					last = g.LastEvaluation
				}
			}
			return len(data.Groups) > 0
		})
		after = last
	}
}

// checkRulesHealthy checks that Prometheus has every rule, each with
// health ok and no error.
func (p *promServer) checkRulesHealthy(t *testing.T, want int) {
	t.Helper()
	var data promRules
	p.get(t, "rules", &data)
	got := 0
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			got++
			if r.Health != "ok" || r.LastError != "" {
				t.Errorf("rule %s (group %s): health %q, error %q", r.Name, g.Name, r.Health, r.LastError)
			}
		}
	}
	if got != want {
		t.Errorf("prometheus has %d rules, the file %d", got, want)
	}
}

func (p *promServer) waitFiring(t *testing.T, name, what string) {
	t.Helper()
	p.waitFor(t, what+": "+name+" firing", func() bool {
		a := p.alert(t, name)
		return a != nil && a.State == "firing"
	})
}

func (p *promServer) waitResolved(t *testing.T, name, what string) {
	t.Helper()
	p.waitFor(t, what+": "+name+" resolved", func() bool { return p.alert(t, name) == nil })
}

// waitFor polls cond until it holds, failing the test after 30s: a
// generous bound for a scrape and an evaluation a second each, on a
// loaded machine.
func (p *promServer) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s; alerts: %+v", what, p.alerts(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
