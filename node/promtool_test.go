package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/riskgate/riskgate/api/client"
	"github.com/riskgate/riskgate/node"

	"github.com/riskgate/riskgate/internal/promtooltest"
)

// grafanaBuiltins are the values the test gives Grafana's own variables:
// a plausible choice of each, for the query to parse as PromQL does once
// Grafana has substituted them.
var grafanaBuiltins = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__interval_ms":   "15000",
	"__range":         "1h",
	"__range_s":       "3600",
	"__range_ms":      "3600000",
}

// grafanaVar is a variable reference as Grafana writes one: $name,
// ${name}, ${name:format} or [[name]].
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]`)

// dashboardQuery is one PromQL query of the dashboard: a panel's target,
// or a templating variable's query.
type dashboardQuery struct {
	where  string // the panel (title, id, refId) or the variable
	record string // the recording rule's name, saying where it came from
	expr   string // as the dashboard has it
	promql string // with Grafana's variables substituted
}

// labelValues is Grafana's label_values(selector, label) variable query.
var labelValues = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*(\w+)\s*\)\s*$`)

// dashboardQueries reads every query of deploy/grafana/riskgate.json:
// every panel's targets (those inside collapsed rows too) and the
// templating variables' queries, with the variables substituted.
func dashboardQueries(t *testing.T, path string) []dashboardQuery {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"` // a collapsed row's
	}
	var dash struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name       string          `json:"name"`
				Type       string          `json:"type"`
				Query      json.RawMessage `json:"query"`
				IncludeAll bool            `json:"includeAll"`
				AllValue   string          `json:"allValue"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}

	// The dashboard's own variables take the value "All" gives them, the
	// one on-call opens the dashboard with.
	values := map[string]string{}
	for k, v := range grafanaBuiltins {
		values[k] = v
	}
	for _, v := range dash.Templating.List {
		if v.Type == "datasource" {
			continue // names a data source, never inside a query
		}
		if !v.IncludeAll || v.AllValue == "" {
			t.Fatalf("templating variable %q has no allValue: give the test a value for it", v.Name)
		}
		values[v.Name] = v.AllValue
	}
	substitute := func(where, expr string) string {
		return grafanaVar.ReplaceAllStringFunc(expr, func(ref string) string {
			m := grafanaVar.FindStringSubmatch(ref)
			name := m[1] + m[2] + m[3]
			v, ok := values[name]
			if !ok {
				t.Errorf("%s uses the variable $%s, which the test has no value for: add one to grafanaBuiltins, or define it in the dashboard's templating", where, name)
				return ref
			}
			return v
		})
	}

	var queries []dashboardQuery
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatal(err)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					continue
				}
				where := fmt.Sprintf("panel %q (id %d), query %s", p.Title, p.ID, tg.RefID)
				queries = append(queries, dashboardQuery{
					where:  where,
					record: fmt.Sprintf("dashboard:panel_%d_%s:%s", p.ID, recordSlug(p.Title), recordSlug(tg.RefID)),
					expr:   tg.Expr,
					promql: substitute(where, tg.Expr),
				})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)

	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		// The query is a string, or (Grafana 9 on) an object holding it.
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("templating variable %q: query %s", v.Name, v.Query)
			}
			q = obj.Query
		}
		where := fmt.Sprintf("templating variable %q", v.Name)
		// label_values(selector, label) is Grafana's, not PromQL: the
		// selector is the PromQL part. Other forms are left to whoever
		// adds one.
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("%s: query %q is not label_values(selector, label): teach the test to check it", where, q)
			continue
		}
		queries = append(queries, dashboardQuery{
			where:  where,
			record: "dashboard:variable_" + recordSlug(v.Name),
			expr:   q,
			promql: substitute(where, m[1]),
		})
	}
	return queries
}

var notRecordChar = regexp.MustCompile(`[^a-z0-9]+`)

// recordSlug makes a panel title part of a recording rule's name.
func recordSlug(s string) string {
	return strings.Trim(notRecordChar.ReplaceAllString(strings.ToLower(s), "_"), "_")
}

// promtoolCheckRules writes the queries as recording rules, one group,
// and runs promtool check rules on them; it returns promtool's output,
// and an error when promtool refused them.
func promtoolCheckRules(t *testing.T, promtool string, queries []dashboardQuery) (string, error) {
	t.Helper()
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	type group struct {
		Name  string `json:"name"`
		Rules []rule `json:"rules"`
	}
	g := group{Name: "riskgate_dashboard"}
	for _, q := range queries {
		g.Rules = append(g.Rules, rule{Record: q.record, Expr: q.promql})
	}
	// JSON is YAML: no quoting of PromQL to get wrong.
	data, err := json.MarshalIndent(map[string][]group{"groups": {g}}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtool, "check", "rules", "--lint=all", "--lint-fatal", path).CombinedOutput()
	if err == nil && !strings.Contains(string(out), fmt.Sprintf("SUCCESS: %d rules found", len(queries))) {
		err = fmt.Errorf("promtool did not find the %d rules written", len(queries))
	}
	return string(out), err
}

// TestPromtoolDashboardQueries: every PromQL query of the Grafana
// dashboard (panels' targets, templating variables' queries) parses and
// type-checks as Prometheus' own promtool has it, Grafana's variables
// substituted: a query Prometheus refuses leaves its panel silently
// empty. Each query is a recording rule in a rules file given to
// promtool check rules.
func TestPromtoolDashboardQueries(t *testing.T) {
	promtool := promtooltest.Binary(t)
	path := filepath.Join("..", "deploy", "grafana", "riskgate.json")
	queries := dashboardQueries(t, path)
	if len(queries) < 30 {
		t.Fatalf("only %d queries found in %s: is the dashboard empty?", len(queries), path)
	}
	out, err := promtoolCheckRules(t, promtool, queries)
	if err == nil {
		return
	}
	// Which ones: each query on its own.
	named := 0
	for _, q := range queries {
		if qout, qerr := promtoolCheckRules(t, promtool, []dashboardQuery{q}); qerr != nil {
			named++
			t.Errorf("%s: promtool check rules refuses it: %v\nquery: %s\nas checked: %s\n%s", q.where, qerr, q.expr, q.promql, qout)
		}
	}
	if named == 0 {
		t.Errorf("promtool check rules refuses the dashboard's queries together, none alone: %v\n%s", err, out)
	}
}

// promlintAllowed are the findings of promtool check metrics (promlint)
// accepted on purpose, each line as promtool prints it ("metric problem"),
// with the reason. A finding not listed fails TestPromtoolMetrics: fix
// the metric, or list it here saying why it stays.
var promlintAllowed = map[string]string{}

// TestPromtoolMetrics: a node's /metrics passes Prometheus' own lint
// (promtool check metrics): names, units, suffixes, help texts. A family
// with no series is not in the exposition, and so not linted: two nodes
// between them show most. The memory store's, with the collectors
// riskgate serve registers, after a Score and an outcome over HTTP and
// over gRPC (the scoring path's labelled metrics); and
// TestDashboardMetricsExist's node of every part (GeoIP, IP lists,
// breached passwords, Redis, Kafka, alerts, capture) after its one call.
func TestPromtoolMetrics(t *testing.T) {
	promtool := promtooltest.Binary(t)
	seen := map[string]bool{}
	lint := func(t *testing.T, exposition []byte) {
		t.Helper()
		findings, err := promtoolCheckMetrics(t, promtool, exposition)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range findings {
			seen[f] = true
			if promlintAllowed[f] == "" {
				t.Errorf("promtool check metrics: %s", f)
			}
		}
	}
	memory := t.Run("memory store", func(t *testing.T) { lint(t, memoryNodeMetrics(t)) })
	every := t.Run("every part", func(t *testing.T) {
		_, exposition := exportedMetrics(t) // skips without redis-server
		lint(t, exposition)
	})
	if memory && every {
		for f := range promlintAllowed {
			if !seen[f] {
				t.Errorf("promlintAllowed lists %q, which promtool no longer finds: remove it", f)
			}
		}
	}
}

// memoryNodeMetrics starts a node on the memory store, registered as
// riskgate serve registers it, makes a Score and reports its outcome over
// HTTP and over gRPC, and returns its /metrics.
func memoryNodeMetrics(t *testing.T) []byte {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewBuildInfoCollector())
	cfg := node.Config{HTTP: node.HTTPConfig{Addr: "127.0.0.1:0"}, GRPC: node.GRPCConfig{Addr: "127.0.0.1:0"}}
	n, err := node.New(context.Background(), cfg, node.WithRegistry(reg), node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs, wait, err := n.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = wait() }()

	// Over HTTP: a Score (of a breached password), then its outcome.
	base := "http://" + addrs.HTTP
	var d struct {
		DecisionID string `json:"decision_id"`
		Action     string `json:"action"`
	}
	post(t, base+"/v1/score", `{"ip":"81.2.69.160","user_id":"u","username":"u","result":"password_ok","password_sha1":"`+sha1Hex("password")+`"}`, http.StatusOK, &d)
	outcome := map[string]string{"allow": "login_succeeded", "step_up": "step_up_passed", "deny": "login_failed"}[d.Action]
	post(t, base+"/v1/outcome", `{"decision_id":"`+d.DecisionID+`","outcome":"`+outcome+`"}`, http.StatusNoContent, nil)
	// Over gRPC, with the Go client: a failed login.
	c, err := client.New(client.Options{Target: addrs.GRPC, Failover: client.Deny, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	gd, err := c.Score(cctx, client.Attempt{UserID: "v", Username: "v", IP: "81.2.69.161"}, client.PasswordBad)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Report(cctx, gd, client.LoginFailed); err != nil {
		t.Fatal(err)
	}

	exposition := getMetrics(t, base)
	for _, want := range []string{"riskgate_decisions_total{", "riskgate_outcomes_total{", "riskgate_rule_matches_total{",
		"riskgate_http_requests_total{", "riskgate_grpc_requests_total{", "riskgate_memory_entries{", "go_goroutines ", "process_cpu_seconds_total "} {
		if !bytes.Contains(exposition, []byte(want)) {
			t.Fatalf("/metrics has no %s series: the calls above no longer reach it", strings.TrimRight(want, "{ "))
		}
	}
	return exposition
}

// promtoolCheckMetrics pipes an exposition to promtool check metrics and
// returns its findings, one a line. promtool prints them on stderr and
// exits 3 when it has some; any other failure (1: it could not parse the
// exposition) is an error.
func promtoolCheckMetrics(t *testing.T, promtool string, exposition []byte) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 3:
	default:
		return nil, fmt.Errorf("promtool check metrics: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var findings []string
	for line := range strings.Lines(stderr.String()) {
		if line = strings.TrimSpace(line); line != "" {
			findings = append(findings, line)
		}
	}
	if err != nil && len(findings) == 0 {
		return nil, fmt.Errorf("promtool check metrics exits 3 and prints no finding:\n%s", stdout.String())
	}
	slices.Sort(findings)
	return findings, nil
}

// getMetrics scrapes base's /metrics in the text format, the one promtool
// check metrics reads (as curl gets it: Prometheus itself asks for
// OpenMetrics first, which the node serves too).
func getMetrics(t *testing.T, base string) []byte {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %s %v", base, resp.Status, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("GET %s/metrics: Content-Type %q, want the text format", base, ct)
	}
	return data
}

// post sends a JSON body, wants the status, and decodes the answer into
// v when v is not nil.
func post(t *testing.T, url, body string, status int, v any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("POST %s: %s, want %d: %s", url, resp.Status, status, data)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("POST %s: %v: %s", url, err, data)
		}
	}
}
