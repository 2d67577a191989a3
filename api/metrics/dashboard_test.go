package metrics

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

var metricName = regexp.MustCompile(`\b(?:riskgate|go|process)_[a-z0-9_]+`)

// TestDashboardMetricsExist: every metric the Grafana dashboard queries is
// one riskgate exports, so a renamed metric cannot leave a panel silently
// empty. Metrics read from other packages' counters (GeoIP, IP lists,
// breached passwords, Redis) are registered by cmd/riskgate.
func TestDashboardMetricsExist(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "riskgate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := New(reg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Touch every vector so that it is gathered.
	m.Decided(nil, &engine.Decision{Tenant: "t", Action: engine.ActionAllow, Alert: true, Reasons: []engine.Reason{{RuleID: "r"}}}, time.Millisecond)
	m.Failed("signal", "x", nil)
	m.StoreCall("observe", time.Millisecond, os.ErrClosed)
	rm, err := rules.NewManager(rules.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(rm.Collector())
	m.HTTP("GET /x", 200, time.Millisecond)
	m.GRPC("/x", "OK", time.Millisecond)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, mf := range mfs {
		known[mf.GetName()] = true
	}
	wiring, err := os.ReadFile(filepath.Join("..", "..", "cmd", "riskgate", "serve_metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	queried := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, name := range metricName.FindAllString(tg.Expr, -1) {
				queried++
				base := name
				for _, suf := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(name, suf); ok && known[b] {
						base = b
					}
				}
				if !known[base] && !strings.Contains(string(wiring), `"`+name+`"`) {
					t.Errorf("panel %q queries %s, which riskgate does not export", p.Title, name)
				}
			}
		}
	}
	if queried < 30 {
		t.Errorf("only %d metric references found: is the dashboard empty?", queried)
	}
}
