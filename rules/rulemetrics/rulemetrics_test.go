package rulemetrics_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/rulemetrics"
)

func rule(id string) string {
	return fmt.Sprintf("rules:\n  - id: %s\n    description: d\n    when: 'ip.failures_10m > 3'\n    score: 10\n", id)
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// exposition is what /metrics shows of a Manager's loads: the gauges, and
// the reload counter with every trigger and result, loads as given
// ("trigger/result" → count), the rest 0.
func exposition(version string, healthy bool, at time.Time, ruleCount int, loads map[string]int, stale ...string) string {
	var b strings.Builder
	b.WriteString("# HELP riskgate_rules Rules in the ruleset in force.\n# TYPE riskgate_rules gauge\n")
	fmt.Fprintf(&b, "riskgate_rules %d\n", ruleCount)
	b.WriteString("# HELP riskgate_rules_last_reload_success 1 while the rule files load: 0 while the last load of the shared rules, the tenants folder or a tenant's overlay was rejected, or while a file or folder given to --rules is deleted (what was in force stays). A put through the API that is rejected is refused to its caller and changes nothing here.\n# TYPE riskgate_rules_last_reload_success gauge\n")
	ok := 0
	if healthy {
		ok = 1
	}
	fmt.Fprintf(&b, "riskgate_rules_last_reload_success %d\n", ok)
	b.WriteString("# HELP riskgate_rules_last_reload_timestamp_seconds Unix time of the last load or reload of the rules (from their files, or a put through the API put in force), successful or not.\n# TYPE riskgate_rules_last_reload_timestamp_seconds gauge\n")
	fmt.Fprintf(&b, "riskgate_rules_last_reload_timestamp_seconds %d\n", at.Unix())
	b.WriteString("# HELP riskgate_rules_reloads_total Rules loads and reloads, by trigger (startup, file, signal, api) and result: success, unchanged, failure (rule files that did not load: the files are not what is in force), or, for api only, rejected (a put whose rules did not compile, refused to its caller; nothing changed).\n# TYPE riskgate_rules_reloads_total counter\n")
	for _, trigger := range []string{"api", "file", "signal", "startup"} {
		results := []string{"failure", "success", "unchanged"}
		if trigger == "api" {
			results = []string{"failure", "rejected", "success", "unchanged"}
		}
		for _, result := range results {
			fmt.Fprintf(&b, "riskgate_rules_reloads_total{result=%q,trigger=%q} %d\n", result, trigger, loads[trigger+"/"+result])
		}
	}
	if len(stale) > 0 {
		b.WriteString("# HELP riskgate_rules_tenant_overlay_stale Tenants whose overlay files (or the whole tenants folder) the last reload rejected, by tenant: each keeps its last good overlay (or, without one, the shared rules) until its files load. No series while every overlay loads; past 100 tenants, the rest are counted under tenant=\"other\".\n# TYPE riskgate_rules_tenant_overlay_stale gauge\n")
		for _, tenant := range stale {
			fmt.Fprintf(&b, "riskgate_rules_tenant_overlay_stale{tenant=%q} 1\n", tenant)
		}
	}
	b.WriteString("# HELP riskgate_rules_version_info The ruleset in force: 1 for its version label.\n# TYPE riskgate_rules_version_info gauge\n")
	fmt.Fprintf(&b, "riskgate_rules_version_info{version=%q} 1\n", version)
	return b.String()
}

// TestCollector: the series a Manager's loads export, through a registry
// as /metrics serves them, over a start, a rejected reload, a reload to
// another version (its one version series replaces the last), a tenant's
// overlay rejected and then fixed.
func TestCollector(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rules.yaml")
	tenants := filepath.Join(dir, "tenants")
	write(t, file, rule("r1"))
	write(t, filepath.Join(tenants, "acme", "o.yaml"), "disable: [r1]\n")
	now := time.Unix(1700000000, 0)
	m, err := rules.NewManager(rules.Options{Paths: []string{file}, TenantsDir: tenants,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(rulemetrics.New(m))
	loads := map[string]int{"startup/success": 1}
	check := func(step string, healthy bool, ruleCount int, stale ...string) {
		t.Helper()
		want := exposition(m.Set().Version(), healthy, now, ruleCount, loads, stale...)
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
			t.Errorf("%s: %v", step, err)
		}
	}
	check("start", true, 1)

	now = now.Add(time.Second)
	write(t, file, "rules: [\n")
	if _, err := m.Reload(rules.TriggerFile); err == nil {
		t.Fatal("a broken file reloaded")
	}
	loads["file/failure"]++
	check("rejected", false, 1)

	now = now.Add(time.Second)
	before := m.Set().Version()
	write(t, file, rule("r1")+"  - id: r2\n    description: d\n    when: 'ip.failures_10m > 5'\n    score: 10\n")
	if _, err := m.Reload(rules.TriggerSignal); err != nil {
		t.Fatal(err)
	}
	if m.Set().Version() == before {
		t.Fatal("the version did not change")
	}
	loads["signal/success"]++
	check("another version", true, 2)

	now = now.Add(time.Second)
	write(t, filepath.Join(tenants, "acme", "o.yaml"), "disable: [\n")
	if _, err := m.Reload(rules.TriggerFile); err == nil {
		t.Fatal("a broken overlay reloaded")
	}
	loads["file/failure"]++   // the overlay
	loads["file/unchanged"]++ // the shared rules
	stats := m.LoadStats()
	if len(stats.Stale) != 1 {
		t.Fatalf("the rejected overlay is not stale: %+v", stats)
	}
	check("overlay rejected", false, 2, "acme")

	now = now.Add(time.Second)
	write(t, filepath.Join(tenants, "acme", "o.yaml"), "disable: [r2]\n")
	if _, err := m.Reload(rules.TriggerFile); err != nil {
		t.Fatal(err)
	}
	loads["file/unchanged"]++
	check("overlay fixed", true, 2)
}
