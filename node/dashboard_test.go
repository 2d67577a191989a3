package node_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kfake"

	kstream "github.com/riskgate/riskgate/api/stream"
	"github.com/riskgate/riskgate/breached"
	"github.com/riskgate/riskgate/enrich/geoip/geoipgen"
	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/node"
)

// metricRef is a metric named in a panel's query, with its label matchers
// when it has some.
var metricRef = regexp.MustCompile(`\b((?:riskgate|go|process)_[a-z0-9_]+)(\{[^}]*\})?`)

// offDashboard are the riskgate metrics a node exports that no panel
// shows, on purpose, each with the reason. A metric a node exports that
// has no panel and is not named here (or in offDashboardFamilies) fails
// TestDashboardMetricsExist: give it a panel, or say here why on-call
// does not need one. None today: every riskgate metric has its panel.
var offDashboard = map[string]string{}

// offDashboardFamilies are the families, by prefix, left off but for the
// few the Process row shows. They are client_golang's collectors', not
// riskgate's, and change with its version and the platform: listed one
// by one, an upgrade of client_golang would fail the test.
var offDashboardFamilies = map[string]string{
	// The Process row shows the heap in use and the goroutines; the
	// rest of the runtime's metrics (GC pauses, memstats, go_info,
	// go_build_info) are for profiling a node, not for on-call.
	"go_": "the Go runtime's and the build's",
	// The Process row shows CPU; memory, file descriptors and start
	// time are the host monitoring's (node_exporter, the kubelet).
	"process_": "the process's, as the operating system sees it",
}

// TestDashboardMetricsExist: every metric the Grafana dashboard queries is
// one a node exports, so a renamed metric cannot leave a panel silently
// empty; and every metric a node exports has a panel, or is left off on
// purpose (offDashboard), so a new one cannot go unseen.
//
// A node registers its metrics as it is assembled, whether they have a
// series yet or not (a Kafka write never refused, an alert file never
// reopened), so the metrics exported are read from the descriptions of
// the collectors it registers (describingRegistry), and from a scrape
// after one call. Two nodes have every part with metrics between them:
// one with GeoIP databases, IP lists, a breached-password filter file,
// the Redis store, a Kafka broker, alerts to a file and a capture; one
// with the memory store, whose metrics are its own. The identity server's
// client metrics (api/client/clientprom, riskgate_client_*) are not a
// node's: they belong on the identity server's dashboard.
func TestDashboardMetricsExist(t *testing.T) {
	dash := readDashboard(t)
	exported, _ := exportedMetrics(t)

	queried := 0
	onDashboard := map[string]bool{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range metricRef.FindAllStringSubmatch(tg.Expr, -1) {
				name := m[1]
				queried++
				base := name
				for _, suf := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(name, suf); ok && exported[b] {
						base = b
					}
				}
				if !exported[base] {
					t.Errorf("panel %q queries %s, which riskgate does not export", p.Title, name)
				}
				onDashboard[base] = true
			}
		}
	}
	if queried < 30 {
		t.Errorf("only %d metric references found: is the dashboard empty?", queried)
	}

	// Every metric a node exports has its panel, or a reason not to.
	var missing []string
	for name := range exported {
		if onDashboard[name] || offDashboard[name] != "" || offFamily(name) {
			continue
		}
		missing = append(missing, name)
	}
	slices.Sort(missing)
	for _, name := range missing {
		t.Errorf("riskgate exports %s, which no panel queries: add a panel to deploy/grafana/riskgate.json, or add it to offDashboard with the reason", name)
	}
	for name := range offDashboard {
		switch {
		case !exported[name]:
			t.Errorf("offDashboard names %s, which riskgate no longer exports", name)
		case onDashboard[name]:
			t.Errorf("offDashboard names %s, which a panel queries now", name)
		}
	}
}

// TestDashboardLayout: the panels keep the dashboard's conventions (the
// datasource variable, the job selector on every metric, a description)
// and its grid: no panel past the 24 columns, none over another (Grafana
// would push one down, out of its row).
func TestDashboardLayout(t *testing.T) {
	dash := readDashboard(t)
	ids := map[int]string{}
	for i, p := range dash.Panels {
		if prev, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q have the same id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is not inside the 24 columns", p.Title, g)
		}
		for _, q := range dash.Panels[:i] {
			if o := q.GridPos; g.X < o.X+o.W && o.X < g.X+g.W && g.Y < o.Y+o.H && o.Y < g.Y+g.H {
				t.Errorf("panel %q (%+v) overlaps panel %q (%+v)", p.Title, g, q.Title, o)
			}
		}
		if p.Type == "row" {
			if g.X != 0 || g.W != 24 || g.H != 1 {
				t.Errorf("row %q: gridPos %+v, want the whole width, one unit high", p.Title, g)
			}
			continue
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %q, want ${datasource}", p.Title, p.Datasource.UID)
		}
		if strings.TrimSpace(p.Description) == "" {
			t.Errorf("panel %q has no description: say what it shows, what a bad value means and what to do", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q, query %s: datasource %q, want ${datasource}", p.Title, tg.RefID, tg.Datasource.UID)
			}
			for _, br := range []string{"()", "{}", "[]"} {
				if strings.Count(tg.Expr, br[:1]) != strings.Count(tg.Expr, br[1:]) {
					t.Errorf("panel %q, query %s: unbalanced %s in %s", p.Title, tg.RefID, br, tg.Expr)
				}
			}
			for _, m := range metricRef.FindAllStringSubmatch(tg.Expr, -1) {
				if !strings.Contains(m[2], `job=~"$job"`) {
					t.Errorf("panel %q, query %s: %s without job=~\"$job\"", p.Title, tg.RefID, m[1])
				}
			}
		}
	}
}

type dashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		ID          int    `json:"id"`
		Type        string `json:"type"`
		Title       string `json:"title"`
		Description string `json:"description"`
		Datasource  struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		GridPos struct {
			X, Y, W, H int
		} `json:"gridPos"`
		Targets []struct {
			RefID      string `json:"refId"`
			Expr       string `json:"expr"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "riskgate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash dashboard
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	return dash
}

func offFamily(name string) bool {
	for prefix := range offDashboardFamilies {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// exportedMetrics assembles the nodes that between them have every part
// with metrics (see TestDashboardMetricsExist), registered as riskgate
// serve registers them, and returns the names of the metrics they export,
// and the first node's /metrics after its one call (TestPromtoolMetrics
// lints it).
func exportedMetrics(t *testing.T) (map[string]bool, []byte) {
	t.Helper()
	labels, scrape := exportedMetricLabels(t)
	names := make(map[string]bool, len(labels))
	for name := range labels {
		names[name] = true
	}
	return names, scrape
}

// exportedMetricLabels is exportedMetrics with the label names of each
// metric: the alerting rules' test (node/alertrules_test.go) checks their
// matchers and groupings by them.
func exportedMetricLabels(t *testing.T) (map[string]map[string]bool, []byte) {
	t.Helper()
	labels, scrape, _ := exportedNodeMetrics(t)
	return labels, scrape
}

// exportedNodeMetrics is exportedMetricLabels with the series the nodes
// export before any call or event: what /metrics serves (their
// registries gathered) once they are assembled, the first node started,
// before its one call. TestAlertRulesSeriesExistAtStart checks them.
func exportedNodeMetrics(t *testing.T) (map[string]map[string]bool, []byte, []*dto.MetricFamily) {
	t.Helper()
	rds := redistest.Start(t)
	dir := t.TempDir()
	geo, err := geoipgen.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "corp.txt")
	// A Tor exit list: its series (kind="tor") are what
	// RiskgateTorExitListStale and the Data age panel select.
	tor := filepath.Join(dir, "tor-exits.txt")
	plain := filepath.Join(dir, "passwords.txt")
	filter := filepath.Join(dir, "breached.rgbf")
	for name, content := range map[string]string{list: "10.0.0.0/8\n", tor: "192.0.2.7\n", plain: "hunter2\nletmein\n"} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := breached.Build(context.Background(), filter, []breached.Input{{Path: plain, Format: breached.FormatPlain}}, breached.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	// A Kafka broker, for the stream's metrics.
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "attempts", "decisions", "alerts"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	cfg := node.Config{
		HTTP: node.HTTPConfig{Addr: "127.0.0.1:0"}, GRPC: node.GRPCConfig{Addr: "127.0.0.1:0"}, Store: rds.URL,
		Kafka: kstream.Options{
			Brokers: kc.ListenAddrs(), AttemptsTopic: "attempts", DecisionsTopic: "decisions", AlertsTopic: "alerts",
			SessionTimeout: time.Second,
		},
		Capture: node.CaptureConfig{Dir: filepath.Join(dir, "capture")},
		EngineConfig: node.EngineConfig{
			GeoIP:          node.GeoIPConfig{City: []string{geo.City}, ASN: []string{geo.ASN}, IPLists: map[string]string{"corp": list}, TorExits: tor},
			PasswordConfig: node.PasswordConfig{Breached: filter},
		},
	}
	cfg.Alerts.File = filepath.Join(dir, "alerts.jsonl")
	// TLS on the gRPC listener, for the certificates' metrics (the HTTP
	// listener, which the test calls, stays plain), and the Kratos hook,
	// a route the alerts watch.
	cfg.GRPC.TLS.Cert, cfg.GRPC.TLS.Key = writeSelfSigned(t, dir)
	cfg.GRPC.TLS.ClientCA = cfg.GRPC.TLS.Cert // for the TLS files' expiry
	cfg.Kratos.TokenFile = filepath.Join(dir, "kratos.token")
	if err := os.WriteFile(cfg.Kratos.TokenFile, []byte("dashboard-test-kratos-token-0123"), 0o600); err != nil {
		t.Fatal(err)
	}
	kratos, err := node.KratosRoutes(&cfg, quiet())
	if err != nil || kratos == nil {
		t.Fatalf("kratos routes: %v", err)
	}
	reg := newDescribingRegistry()
	// As riskgate serve registers them beside the node's.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewBuildInfoCollector())
	n, err := node.New(context.Background(), cfg, node.WithRegistry(reg), node.WithSecret([]byte("dashboard-test-secret-0123")), node.WithLogger(quiet()), node.WithRoutes(kratos))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs, wait, err := n.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = wait() }()
	atStart, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+addrs.HTTP+"/v1/score", "application/json",
		strings.NewReader(`{"ip":"81.2.69.160","user_id":"u","username":"u","result":"password_ok"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("score: %s", resp.Status)
	}
	scrape := getMetrics(t, "http://"+addrs.HTTP)

	// The memory store's metrics are its own: a second node, assembled
	// only.
	mreg := newDescribingRegistry()
	m, err := node.New(context.Background(), node.Config{}, node.WithRegistry(mreg), node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	memAtStart, err := mreg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	atStart = append(atStart, memAtStart...)
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	names := map[string]map[string]bool{}
	for _, r := range []*describingRegistry{reg, mreg} {
		if err := r.labels(names); err != nil {
			t.Fatal(err)
		}
	}
	// One metric of each part: a part the nodes no longer assemble would
	// leave its metrics out of the check without a word.
	for _, want := range []string{"riskgate_decisions_total", "riskgate_store_up", "riskgate_redis_flushes_total",
		"riskgate_memory_entries", "riskgate_geoip_reloads_total", "riskgate_iplist_prefixes", "riskgate_breached_entries",
		"riskgate_kafka_consumer_lag", "riskgate_alerts_sent_total", "riskgate_notifications_published_total",
		"riskgate_alert_reopens_total", "riskgate_capture_files", "riskgate_tls_certificate_expiry_timestamp_seconds",
		"riskgate_rules_version_info", "go_goroutines", "process_cpu_seconds_total"} {
		if names[want] == nil {
			t.Fatalf("the nodes export no %s: is a part missing from the test's nodes?", want)
		}
	}
	return names, scrape, atStart
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key into dir, and returns their paths.
func writeSelfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "riskgate test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for name, b := range map[string]*pem.Block{cert: {Type: "CERTIFICATE", Bytes: der}, key: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(name, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key
}

// describingRegistry is a registry that remembers the description of
// every collector registered on it: the names of the metrics it exports,
// whether they have a series yet or not.
type describingRegistry struct {
	*prometheus.Registry
	mu    sync.Mutex
	descs []*prometheus.Desc
}

func newDescribingRegistry() *describingRegistry {
	return &describingRegistry{Registry: prometheus.NewRegistry()}
}

func (r *describingRegistry) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range ch {
		r.descs = append(r.descs, d)
	}
	return nil
}

func (r *describingRegistry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// descName reads a metric's name and label names from its description:
// client_golang shows them (Desc.String) and has no accessor.
var descName = regexp.MustCompile(`^Desc\{fqName: "([a-zA-Z_:][a-zA-Z0-9_:]*)", .*constLabels: \{(.*)\}, variableLabels: \{([^{}]*)\}\}$`)

// constLabelName is a constant label's name in a description's
// constLabels (name="value",...).
var constLabelName = regexp.MustCompile(`(?:^|,)([a-zA-Z_][a-zA-Z0-9_]*)="`)

// labels adds the metrics registered, and those a scrape returns (a
// collector may describe less than it collects), to into, each with its
// label names.
func (r *describingRegistry) labels(into map[string]map[string]bool) error {
	add := func(name string, labels ...string) {
		if into[name] == nil {
			into[name] = map[string]bool{}
		}
		for _, l := range labels {
			into[name][l] = true
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.descs {
		m := descName.FindStringSubmatch(d.String())
		if m == nil {
			return fmt.Errorf("no metric name in the description %s", d)
		}
		add(m[1])
		for _, c := range constLabelName.FindAllStringSubmatch(m[2], -1) {
			add(m[1], c[1])
		}
		for _, l := range strings.Split(m[3], ",") {
			// A constrained label shows as c(name).
			if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
				add(m[1], l)
			}
		}
	}
	mfs, err := r.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		add(mf.GetName())
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				add(mf.GetName(), lp.GetName())
			}
		}
	}
	return nil
}
