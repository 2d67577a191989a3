package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	kstream "github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/node"
	"github.com/riskgate/riskgate/rules"
)

var metricName = regexp.MustCompile(`\b(?:riskgate|go|process)_[a-z0-9_]+`)

// TestDashboardMetricsExist: every metric the Grafana dashboard queries is
// one a node exports, so a renamed metric cannot leave a panel silently
// empty, and every rules metric a node exports has a panel. The node is
// assembled with every part that has metrics (GeoIP databases, IP lists, a
// breached-password filter file, the Redis store, the rules, a tenant
// whose overlay is stale) and serves a few calls, so that every vector has
// a series.
func TestDashboardMetricsExist(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "riskgate.json"))
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

	rds := redistest.Start(t)
	dir := t.TempDir()
	geo, err := geoipgen.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "corp.txt")
	plain := filepath.Join(dir, "passwords.txt")
	filter := filepath.Join(dir, "breached.rgbf")
	for name, content := range map[string]string{list: "10.0.0.0/8\n", plain: "hunter2\nletmein\n"} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := breached.Build(context.Background(), filter, []breached.Input{{Path: plain, Format: breached.FormatPlain}}, breached.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	// The default rules, one that matches every attempt and one that fails
	// at run time, so that matches and a failed stage are counted.
	set, err := rules.Compile(rules.DefaultSource(), rules.Source{Name: "more.yaml", Data: []byte(
		"rules:\n  - id: regex-from-input\n    description: A pattern from the attempt.\n    when: attempt.user_agent matches attempt.username\n    score: 1\n" +
			"  - id: everyone\n    description: Every attempt.\n    when: \"true\"\n    score: 1\n")})
	if err != nil {
		t.Fatal(err)
	}
	// A Kafka broker, for the streams row: one attempt goes through it.
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "attempts", "decisions", "alerts"),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	// A tenant whose overlay cannot be read (a file over the size bound):
	// the node starts on the shared rules for it and reports it stale.
	tenants := filepath.Join(dir, "tenants")
	if err := os.MkdirAll(filepath.Join(tenants, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tenants, "acme", "big.yaml"), []byte("# "+strings.Repeat("x", rules.MaxFileSize)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{
		HTTP: node.HTTPConfig{Addr: "127.0.0.1:0"}, GRPC: node.GRPCConfig{Addr: "127.0.0.1:0"}, Store: rds.URL,
		Kafka: kstream.Options{
			Brokers: kc.ListenAddrs(), AttemptsTopic: "attempts", DecisionsTopic: "decisions", AlertsTopic: "alerts",
			SessionTimeout: time.Second,
		},
		Alerts: node.AlertsConfig{Log: true},
		EngineConfig: node.EngineConfig{
			GeoIP:          node.GeoIPConfig{City: []string{geo.City}, ASN: []string{geo.ASN}, IPLists: map[string]string{"corp": list}},
			PasswordConfig: node.PasswordConfig{Breached: filter},
			RulesTenants:   tenants,
		},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n, err := node.New(context.Background(), cfg, node.WithRegistry(reg), node.WithRuleset(set),
		node.WithSecret([]byte("dashboard-test-secret-0123")), node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs, wait, err := n.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); wait() }()

	resp, err := http.Post("http://"+addrs.HTTP+"/v1/score", "application/json",
		strings.NewReader(`{"ip":"81.2.69.160","user_id":"u","username":"(","result":"password_ok"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	conn, err := grpc.NewClient(addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := pb.NewRiskServiceClient(conn).Report(context.Background(), &pb.ReportRequest{DecisionId: "unknown", Outcome: pb.Outcome_OUTCOME_LOGIN_FAILED}); err == nil {
		t.Fatal("an unknown decision was reported")
	}

	w := &kafka.Writer{Addr: kafka.TCP(kc.ListenAddrs()...), RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), kafka.Message{Topic: "attempts",
		Value: []byte(`{"ip":"81.2.69.160","user_id":"k","username":"k","result":"password_bad"}`)}); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for !known["riskgate_kafka_consumer_lag"] || !known["riskgate_alerts_sent_total"] {
		if time.Now().After(deadline) {
			t.Fatal("the attempt produced to Kafka was not committed, or no alert was sent")
		}
		time.Sleep(50 * time.Millisecond)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			known[mf.GetName()] = true
		}
	}
	queried := 0
	onDashboard := map[string]bool{}
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
				if !known[base] {
					t.Errorf("panel %q queries %s, which riskgate does not export", p.Title, name)
				}
				onDashboard[base] = true
			}
		}
	}
	// Every rules metric has its panel: one added to the rules (a tenant
	// running on a stale overlay) must not go unseen on the dashboard.
	for name := range known {
		if strings.HasPrefix(name, "riskgate_rule") && !onDashboard[name] {
			t.Errorf("riskgate exports %s, which no panel queries", name)
		}
	}
	if queried < 30 {
		t.Errorf("only %d metric references found: is the dashboard empty?", queried)
	}
}
