package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md's reference table")

// parseServe parses a serve command line as main does, without running it.
func parseServe(t *testing.T, args ...string) (*serveCmd, error) {
	t.Helper()
	var c cli
	k, err := kong.New(&c, kong.Name("riskgate"), kong.BindTo(context.Background(), (*context.Context)(nil)), kong.Exit(func(int) { t.Fatal("exit") }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Parse(append([]string{"serve"}, args...))
	return &c.Serve, err
}

// serveModel is kong's model of the serve command, as main's tree has it.
func serveModel(t *testing.T) *kong.Node {
	t.Helper()
	var c cli
	k, err := kong.New(&c, kong.Name("riskgate"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range k.Model.Children {
		if n.Name == "serve" {
			return n
		}
	}
	t.Fatal("no serve command")
	return nil
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigPrecedence: flags override environment variables, which
// override the file, which overrides the defaults; nested and flat keys,
// lists, durations and booleans all come through.
func TestConfigPrecedence(t *testing.T) {
	cfg := writeFile(t, "riskgate.yaml", `
http:
  addr: 127.0.0.1:1001          # overridden by the flag
  tls:
    client_auth: require
grpc:
  addr: 127.0.0.1:1002          # overridden by the environment
  reflection: false
metrics:
  addr: 127.0.0.1:1003          # from the file
auth:
  admin_cert_names: [soc-admin, ops]
rules: [a.yaml, b.yaml]
rules_debounce: 2s
shutdown:
  timeout: 42s
max_speed: 900
memory:
  max_users: 5
`)
	t.Setenv("RISKGATE_GRPC_ADDR", "127.0.0.1:2002")
	t.Setenv("RISKGATE_SHUTDOWN_DELAY", "3s")
	c, err := parseServe(t, "--config", cfg, "--http-addr", "127.0.0.1:3001")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"http-addr (flag)", c.HTTP.Addr, "127.0.0.1:3001"},
		{"grpc-addr (env)", c.GRPC.Addr, "127.0.0.1:2002"},
		{"metrics-addr (file)", c.Metrics.Addr, "127.0.0.1:1003"},
		{"metrics-max-tenants (default)", c.Metrics.MaxTenants, 100},
		{"http-tls-client-auth (file, nested)", c.HTTP.TLS.ClientAuth, "require"},
		{"grpc-reflection (file, bool)", c.GRPC.Reflection, false},
		{"admin-cert-names (file, list)", strings.Join(c.Auth.AdminCertNames, ","), "soc-admin,ops"},
		{"rules (file, engine flag)", strings.Join(c.Rules, ","), "a.yaml,b.yaml"},
		{"rules-debounce (file, duration)", c.RulesDebounce, 2 * time.Second},
		{"shutdown-timeout (file)", c.Shutdown.Timeout, 42 * time.Second},
		{"shutdown-delay (env)", c.Shutdown.Delay, 3 * time.Second},
		{"max-speed (file, engine flag)", c.MaxSpeed, 900.0},
		{"memory-max-users (file, nested)", c.Memory.MaxUsers, 5},
		{"store (default)", c.Store, "memory"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	// The flag beats the environment too.
	c, err = parseServe(t, "--config", cfg, "--grpc-addr", "127.0.0.1:4002")
	if err != nil || c.GRPC.Addr != "127.0.0.1:4002" {
		t.Errorf("flag over env: %v %v", c.GRPC.Addr, err)
	}
	// And without a file, the defaults.
	t.Setenv("RISKGATE_GRPC_ADDR", "")
	os.Unsetenv("RISKGATE_GRPC_ADDR")
	c, err = parseServe(t)
	if err != nil || c.HTTP.Addr != "127.0.0.1:8080" || c.GRPC.Addr != "127.0.0.1:9090" || !c.GRPC.Reflection || c.Shutdown.Timeout != 15*time.Second {
		t.Errorf("defaults: %+v %v", c, err)
	}
}

// TestConfigErrors: a misspelt key (with the nearest known one), a list for a single value and a bad
// value are errors naming the file and line.
func TestConfigErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"http:\n  adr: x\n", "riskgate.yaml:2: unknown key \"http.adr\"; did you mean \"http.addr\"?"},
		{"htp:\n  addr: x\n", "riskgate.yaml:1: unknown key \"htp\"; did you mean \"http\"?"},
		{"grpc:\n  addr: [a, b]\n", "riskgate.yaml:2: grpc.addr: want a single value"},
		{"shutdown:\n  timeout: soon\n", "riskgate.yaml:2: shutdown.timeout: want a duration with its unit"},
		{"shutdown:\n  timeout: 15\n", "riskgate.yaml:2: shutdown.timeout: want a duration with its unit, such as 15s or 250ms, not \"15\""},
		{"max_speed: fast\n", "riskgate.yaml:1: max_speed: want a number, not \"fast\""},
		{"memory:\n  max_users: 1e6\n", "riskgate.yaml:2: memory.max_users: want a whole number, not \"1e6\""},
		{"metrics:\n  max_tenants: 2.5\n", "riskgate.yaml:2: metrics.max_tenants: want a whole number"},
		// Negative values the flag does not admit, named where they are
		// written (refuseNegative would name the flag alone).
		{"memory:\n  max_users: -4\n", "riskgate.yaml:2: memory.max_users: -4 is negative; it takes 0 or more"},
		{"http:\n  addr: a:1\nstore_timeout: -1s\n", "riskgate.yaml:3: store_timeout: -1s is negative; it takes 0 or more"},
		{"memory:\n  max_retries: -2\n", "riskgate.yaml:2: memory.max_retries: -2 is negative; it takes -1 or a value of 0 or more"},
		// Durations too short to mean anything, named there too.
		{"rules_poll: 100ms\n", "riskgate.yaml:1: rules_poll: 100ms is under a second; a poll takes 1s or more (negative: never)"},
		{"alerts:\n  notify_hold_ttl: 30us\n", "riskgate.yaml:2: alerts.notify_hold_ttl: 30us is under a millisecond"},
		{"- a\n", "want a mapping"},
		{"http:\n  addr: 127.0.0.1:0\n---\nstore_timeout: -1s\n", "riskgate.yaml:3: a configuration file holds one YAML document"},
		{"http:\n  addr: a:1\nhttp:\n  addr: b:2\n", "riskgate.yaml:3: http given twice (first at line 1)"},
		{"http:\n  addr: a:1\n  addr: b:2\n", "riskgate.yaml:3: http.addr given twice"},
		{"admin_token: hunter2\n", "unknown key \"admin_token\""},
		// Syntax errors name their line too: the first line (where
		// yaml's own text has none), a tab, a quote never closed, a key
		// out of line.
		{"\thttp: x\n", "riskgate.yaml:1: found character that cannot start any token (a tab: YAML indents with spaces)"},
		{"http:\n\taddr: x\n", "riskgate.yaml:2: found character that cannot start any token (a tab"},
		{"http: \"x\nmax_speed: 3\n", "riskgate.yaml:1: found unexpected end of stream: the quoted string opened on this line is never closed"},
		{"max_speed: 3\nhttp:\n  addr: \"x\n", "riskgate.yaml:3: found unexpected end of stream"},
		{"http:\n  addr: x\n   bad: y\n", "riskgate.yaml:3: mapping values are not allowed in this context"},
		{"http:\n  addr: a:1\n  tls:\n    cert: c\n key: k\n", "riskgate.yaml:5: did not find expected key"},
		{"max_speed: 3\nhttp: [a\n", "riskgate.yaml:2: did not find expected ',' or ']'"},
	} {
		_, err := parseServe(t, "--config", writeFile(t, "riskgate.yaml", c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.yaml, err, c.want)
		}
	}
	// Negative values a flag's help gives a meaning are taken.
	c, err := parseServe(t, "--config", writeFile(t, "riskgate.yaml", "rules_poll: -1s\nmemory:\n  max_retries: -1\n"))
	if err != nil || c.RulesPoll != -time.Second || c.Memory.MaxRetries != -1 {
		t.Errorf("admitted negatives: %v", err)
	}
	// An empty file is fine.
	if _, err := parseServe(t, "--config", writeFile(t, "riskgate.yaml", "# nothing\n")); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

// TestBreachedPollSettings: --breached-poll is set like --geoip-poll, by
// the flag (a negative value written with =), RISKGATE_BREACHED_POLL or
// the file's breached_poll, and defaults to a minute.
func TestBreachedPollSettings(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  string
		want time.Duration
	}{
		{"default", nil, "", time.Minute},
		{"flag", []string{"--breached-poll", "10s"}, "", 10 * time.Second},
		{"flag, never", []string{"--breached-poll=-1s"}, "", -time.Second},
		{"environment", nil, "5s", 5 * time.Second},
		{"config file", []string{"--config", writeFile(t, "riskgate.yaml", "breached_poll: 30s\n")}, "", 30 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("RISKGATE_BREACHED_POLL", tt.env)
			}
			c, err := parseServe(t, tt.args...)
			if err != nil || c.BreachedPoll != tt.want {
				t.Errorf("%v: %v, %v; want %v", tt.args, c.BreachedPoll, err, tt.want)
			}
		})
	}
}

// TestExampleConfigLoads: deploy/riskgate.example.yaml is valid.
func TestExampleConfigLoads(t *testing.T) {
	if _, err := parseServe(t, "--config", filepath.Join("..", "..", "deploy", "riskgate.example.yaml")); err != nil {
		t.Fatal(err)
	}
}

const (
	refBegin = "<!-- BEGIN GENERATED: riskgate serve flags -->\n"
	refEnd   = "<!-- END GENERATED -->"
)

// TestConfigurationDocs: docs/configuration.md lists every serve flag with
// its variable, key and default. Run with -update after changing a flag.
func TestConfigurationDocs(t *testing.T) {
	node := serveModel(t)
	flags := serveFlags(node)
	setEnvNames(flags)
	ref := configReference(flags, configKeys(node.Target, flags))
	path := filepath.Join("..", "..", "docs", "configuration.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	i, j := strings.Index(doc, refBegin), strings.Index(doc, refEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated markers", path)
	}
	want := doc[:i+len(refBegin)] + ref + doc[j:]
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date with the serve flags: run go test ./cmd/riskgate -run 'TestConfigurationDocs|TestServeFlagsMirror' -update", path)
}

// TestEmptyStoreIsMemory: an empty --store (or store: "" in the file) is the
// in-memory store, as openStore treats it, so it needs no stable HMAC
// secret. The context is already cancelled: Run starts, then shuts down.
func TestEmptyStoreIsMemory(t *testing.T) {
	t.Setenv("RISKGATE_HMAC_SECRET", "")
	c, err := parseServe(t, "--store=", "--http-addr=127.0.0.1:0", "--grpc-addr=127.0.0.1:0", "--log-level=error", "--no-rules-watch", "--gc-percent=0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatalf("serve --store=: %v", err)
	}
}

// TestMaxSpeedMustBeASpeed: --max-speed 0 (by flag or in the file) took
// the default of 1000 km/h, and NaN or an infinity made travel never
// impossible; each is refused naming the flag (a stranger's pass).
func TestMaxSpeedMustBeASpeed(t *testing.T) {
	for _, args := range [][]string{
		{"--max-speed=0"}, {"--max-speed=NaN"}, {"--max-speed=+Inf"},
		{"--config", writeFile(t, "riskgate.yaml", "max_speed: 0\n")},
	} {
		if _, err := parseServe(t, args...); err == nil || !strings.Contains(err.Error(), "--max-speed") {
			t.Errorf("%v: %v, want a refusal naming --max-speed", args, err)
		}
	}
	if c, err := parseServe(t, "--max-speed=300"); err != nil || c.MaxSpeed != 300 {
		t.Errorf("--max-speed=300: %v, %v", err, c.MaxSpeed)
	}
}
