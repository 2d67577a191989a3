package node_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/riskgate/riskgate/api/gen/riskgate/v1"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/internal/syncbuf"
	"github.com/riskgate/riskgate/node"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/backtest"
)

const captureSecret = "node-capture-secret-0123456789"

// A capture needs a stable secret: with a random one, Forget could not
// find a restarted server's earlier lines.
func TestCaptureNeedsAStableSecret(t *testing.T) {
	t.Setenv("RISKGATE_HMAC_SECRET", "")
	_, err := node.New(context.Background(), node.Config{Capture: node.CaptureConfig{Dir: t.TempDir()}}, node.WithLogger(quiet()))
	if err == nil || !strings.Contains(err.Error(), "--capture-dir needs a stable secret") {
		t.Errorf("capture with a random secret: %v", err)
	}
}

// The capture records the files of every rules version the engine scored
// with, a reload's included, so that --captured-rules can replay them.
func TestCaptureRecordsEveryRulesVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n, err := node.New(ctx, node.Config{Capture: node.CaptureConfig{Dir: dir}}, node.WithSecret([]byte(captureSecret)), node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	score := func(i int) {
		if _, err := n.Service().Score(ctx, engine.Attempt{IP: "81.2.69.160", UserID: fmt.Sprint("u", i), Result: engine.ResultPasswordOK}); err != nil {
			t.Fatal(err)
		}
	}
	score(1)
	put := []rules.Source{{Name: "strict.yaml", Data: []byte("version: strict\nrules:\n  - id: all\n    description: Every attempt.\n    when: \"true\"\n    action: deny\n")}}
	if _, err := n.Service().PutRules("", put); err != nil {
		t.Fatal(err)
	}
	score(2)
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	in, err := replay.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dec := replay.NewDecoder(in)
	var versions []string
	var ev replay.Event
	for dec.Next(&ev) == nil {
		if ev.Kind == replay.KindRules {
			if _, err := ev.Line.Rules.Compile(); err != nil {
				t.Errorf("rules record %s: %v", ev.Line.Rules.Version, err)
			}
			versions = append(versions, ev.Line.Rules.Version)
		}
	}
	if len(versions) != 2 || !strings.HasPrefix(versions[1], "strict") {
		t.Errorf("rules records: %v", versions)
	}
}

// The backtest over gRPC, through a node's server: the admin level, the
// report as `riskgate backtest --json` writes it, and FAILED_PRECONDITION
// on a node without a capture.
func TestBacktestOverGRPC(t *testing.T) {
	actx := captureAdmin(t)
	ctx := context.Background()
	start := func(cfg node.Config) *grpc.ClientConn {
		n, conn := startNodeWith(t, cfg, captureSecret)
		for i := range 20 {
			if _, err := n.Service().Score(ctx, engine.Attempt{IP: "81.2.69.160", UserID: fmt.Sprint("u", i%5), Result: engine.ResultPasswordOK}); err != nil {
				t.Fatal(err)
			}
		}
		return conn
	}
	conn := start(node.Config{Capture: node.CaptureConfig{Dir: t.TempDir(), BacktestMaxAttempts: 15}})
	rc := pb.NewRulesServiceClient(conn)
	req := &pb.BacktestRequest{Files: []*pb.RuleFile{{Name: "deny.yaml", Content: "rules:\n  - id: all\n    description: Every attempt.\n    when: \"true\"\n    action: deny\n"}}}
	if _, err := rc.Backtest(ctx, req); status.Code(err) != codes.Unauthenticated {
		t.Errorf("without the admin token: %v", err)
	}
	resp, err := rc.Backtest(actx, req)
	if err != nil {
		t.Fatal(err)
	}
	var rep backtest.Report
	if err := json.Unmarshal(resp.ReportJson, &rep); err != nil {
		t.Fatal(err)
	}
	// 15: the node's bound, under the capture's 20 attempts.
	if rep.Attempts != 15 || !rep.Input.Truncated || rep.Changed != 15 || rep.Transitions["allow"]["deny"] != 15 || rep.Live == nil || rep.Live.BaselineSame != 15 {
		t.Errorf("report: attempts %d truncated %v changed %d transitions %v live %+v", rep.Attempts, rep.Input.Truncated, rep.Changed, rep.Transitions, rep.Live)
	}
	resp, err = rc.Backtest(actx, &pb.BacktestRequest{MaxAttempts: 4})
	if err != nil || json.Unmarshal(resp.ReportJson, &rep) != nil || rep.Attempts != 4 || rep.Changed != 0 {
		t.Errorf("max_attempts 4, the rules in force: %v, attempts %d changed %d", err, rep.Attempts, rep.Changed)
	}
	_, err = rc.Backtest(actx, &pb.BacktestRequest{Files: []*pb.RuleFile{{Name: "bad.yaml", Content: "rules:\n  - id: x\n    when: geo.new_countyr\n    action: deny\n"}}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "bad.yaml:3") {
		t.Errorf("a candidate that does not compile: %v", err)
	}

	plain := pb.NewRulesServiceClient(start(node.Config{}))
	if _, err := plain.Backtest(actx, req); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "--capture-dir") {
		t.Errorf("a node without a capture: %v", err)
	}
}

// A node recording a capture decides each tenant by its overlay, as one
// without does: the capture's wrapper of the rules hands the engine the
// tenants' rulesets (it once did not, and every overlay was silently off
// under --capture-dir), and the captured line records the tenant's
// version; the rules record holds the shared files, once.
func TestCaptureKeepsTenantOverlays(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := node.Config{EngineConfig: node.EngineConfig{RulesTenants: "testdata/tenants"}, Capture: node.CaptureConfig{Dir: dir}}
	n, err := node.New(ctx, cfg, node.WithSecret([]byte(captureSecret)), node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := n.Service().TenantRules("acme")
	if err != nil || tr.Overlay == nil {
		t.Fatalf("acme's overlay is not in force: %v", err)
	}
	legacy := map[string]string{"app": "legacy"}
	attempts := []engine.Attempt{
		{Tenant: "acme", IP: "81.2.69.160", UserID: "u1", Result: engine.ResultPasswordOK, Attributes: legacy},
		{Tenant: "default", IP: "81.2.69.160", UserID: "u2", Result: engine.ResultPasswordOK, Attributes: legacy},
		{Tenant: "acme", IP: "81.2.69.160", UserID: "u3", Result: engine.ResultPasswordOK, Attributes: legacy},
	}
	var live []string
	for i, a := range attempts {
		d, err := n.Service().Score(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		overlay := a.Tenant == "acme"
		if got := strings.Contains(d.RulesVersion, " + tenant:acme@"); got != overlay {
			t.Errorf("attempt %d (tenant %s): rules_version %q", i, a.Tenant, d.RulesVersion)
		}
		if overlay && (d.RulesVersion != tr.Set.Version() || d.Action != engine.ActionDeny) {
			t.Errorf("attempt %d (acme, app=legacy): %s under %q, want deny under %q", i, d.Action, d.RulesVersion, tr.Set.Version())
		}
		live = append(live, d.RulesVersion)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	in, err := replay.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dec := replay.NewDecoder(in)
	var captured, records []string
	var ev replay.Event
	for dec.Next(&ev) == nil {
		switch ev.Kind {
		case replay.KindRules:
			if _, err := ev.Line.Rules.Compile(); err != nil {
				t.Errorf("rules record %s: %v", ev.Line.Rules.Version, err)
			}
			records = append(records, ev.Line.Rules.Version)
		case replay.KindAttempt:
			captured = append(captured, ev.Line.Live.RulesVersion)
		}
	}
	if fmt.Sprint(captured) != fmt.Sprint(live) {
		t.Errorf("captured rules versions %q, want the live ones %q", captured, live)
	}
	if shared, _ := rules.SplitVersion(live[0]); len(records) != 1 || records[0] != shared {
		t.Errorf("rules records %q, want the shared version %q once", records, shared)
	}
}

// An erasure through the API over a capture folder that holds files of an
// earlier secret: the user's lines there cannot be found, so the answer is
// FAILED_PRECONDITION saying so (the state is erased), not OK.
func TestForgetOverAnotherSecretsCapture(t *testing.T) {
	actx := captureAdmin(t)
	ctx := context.Background()
	dir := t.TempDir()
	start := func(secret string) (*node.Node, pb.RiskServiceClient) {
		n, conn := startCaptureNode(t, dir, secret)
		return n, pb.NewRiskServiceClient(conn)
	}
	n, _ := start("an-earlier-secret-0123456789")
	scoreErin(t, n)
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, rc := start(captureSecret)
	_, err := rc.Forget(actx, &pb.ForgetRequest{Tenant: "default", UserId: "erin"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "the user's state is erased, their capture lines not") || !strings.Contains(err.Error(), "keyed under key id") {
		t.Errorf("erasure over an earlier secret's capture: %v", err)
	}
}

// A backtest through the API over a capture folder that holds files of an
// earlier secret answered 500 "internal error" (the reason only in the
// server's log); it is FAILED_PRECONDITION saying which key ids and what
// to do.
func TestBacktestOverAnotherSecretsCapture(t *testing.T) {
	actx := captureAdmin(t)
	ctx := context.Background()
	dir := t.TempDir()
	start := func(secret string) (*node.Node, pb.RulesServiceClient) {
		n, conn := startCaptureNode(t, dir, secret)
		scoreErin(t, n)
		return n, pb.NewRulesServiceClient(conn)
	}
	n, _ := start("an-earlier-secret-0123456789")
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_, rc := start(captureSecret)
	_, err := rc.Backtest(actx, &pb.BacktestRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "keyed with another secret") || !strings.Contains(err.Error(), "move those of the other out of "+dir) {
		t.Errorf("backtest over an earlier secret's capture: %v", err)
	}
}

// A backtest through the API over a capture folder holding a damaged file
// (a gzip file cut short) answered 500 "internal error"; it is
// FAILED_PRECONDITION naming the file and saying what to do.
func TestBacktestOverADamagedCapture(t *testing.T) {
	actx := captureAdmin(t)
	dir := t.TempDir()
	n, conn := startCaptureNode(t, dir, captureSecret)
	scoreErin(t, n)
	// The gzip header and the start of a line, then nothing: a copy that
	// stopped short. Its name sorts first, as an hour older file's does.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(`{"capture":{"format":1,"created":"2026-01-01T00:00:00Z","key_id":"0123456789abcdef"}}` + "\n"))
	zw.Close()
	damaged := filepath.Join(dir, "capture-"+time.Now().UTC().Add(-time.Hour).Format("20060102T150405.000000Z")+".jsonl.gz")
	if err := os.WriteFile(damaged, z.Bytes()[:z.Len()/2], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := pb.NewRulesServiceClient(conn).Backtest(actx, &pb.BacktestRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), damaged) || !strings.Contains(err.Error(), "move the damaged file out") {
		t.Errorf("backtest over a damaged capture: %v", err)
	}
}

// A capture whose files hold no attempt (its one user erased) is
// refused as an empty one is, not reported on as a backtest of nothing.
func TestBacktestOfNoAttempts(t *testing.T) {
	actx := captureAdmin(t)
	n, conn := startCaptureNode(t, t.TempDir(), captureSecret)
	scoreErin(t, n)
	if _, err := pb.NewRiskServiceClient(conn).Forget(actx, &pb.ForgetRequest{Tenant: "default", UserId: "erin"}); err != nil {
		t.Fatal(err)
	}
	_, err := pb.NewRulesServiceClient(conn).Backtest(actx, &pb.BacktestRequest{})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "holds no attempt") {
		t.Errorf("backtest of a capture without attempts: %v", err)
	}
}

// startCaptureNode starts a node that captures into dir under secret, with
// a gRPC listener, and returns it with a connection to that listener; both
// end with the test.
func startCaptureNode(t *testing.T, dir, secret string) (*node.Node, *grpc.ClientConn) {
	t.Helper()
	return startNodeWith(t, node.Config{Capture: node.CaptureConfig{Dir: dir}}, secret)
}

// startNodeWith starts a node of cfg, its gRPC server on a free port,
// under secret (with opts: a logger of the test's, say), and dials it.
func startNodeWith(t *testing.T, cfg node.Config, secret string, opts ...node.Option) (*node.Node, *grpc.ClientConn) {
	t.Helper()
	ctx := context.Background()
	cfg.GRPC.Addr = "127.0.0.1:0"
	n, err := node.New(ctx, cfg, append([]node.Option{node.WithSecret([]byte(secret)), node.WithLogger(quiet())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	addrs, wait, err := n.Start(sctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); wait() })
	conn, err := grpc.NewClient(addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return n, conn
}

// captureAdmin gives the nodes the tests start an admin token and returns
// a context that carries it.
func captureAdmin(t *testing.T) context.Context {
	const token = "node-capture-admin-token-0123"
	t.Setenv("RISKGATE_ADMIN_TOKEN", token)
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}

// scoreErin scores one completed login of erin on n.
func scoreErin(t *testing.T, n *node.Node) {
	t.Helper()
	if _, err := n.Service().Score(context.Background(), engine.Attempt{IP: "81.2.69.160", UserID: "erin", Result: engine.ResultPasswordOK}); err != nil {
		t.Fatal(err)
	}
}

// A server's backtest whose baseline no longer reproduces the live
// decisions says so in live.warning, as the command line's does: here
// the deny list the capture was scored with has changed since.
func TestBacktestWarnsWhenTheBaselineDiffers(t *testing.T) {
	actx := captureAdmin(t)
	ctx := context.Background()
	list := filepath.Join(t.TempDir(), "deny.txt")
	writeList := func(addr string) {
		tmp := list + ".new"
		if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, list); err != nil {
			t.Fatal(err)
		}
	}
	writeList("81.2.69.160")
	n, conn := startNodeWith(t, node.Config{
		Capture:      node.CaptureConfig{Dir: t.TempDir()},
		EngineConfig: node.EngineConfig{GeoIP: node.GeoIPConfig{IPLists: map[string]string{"deny": list}}},
	}, captureSecret)
	score := func() engine.Action {
		d, err := n.Service().Score(ctx, engine.Attempt{IP: "81.2.69.160", UserID: "erin", Result: engine.ResultPasswordOK})
		if err != nil {
			t.Fatal(err)
		}
		return d.Action
	}
	for range 5 {
		if a := score(); a != engine.ActionDeny {
			t.Fatalf("an address on the deny list: %s", a)
		}
	}
	rc := pb.NewRulesServiceClient(conn)
	backtestLive := func() *backtest.Live {
		t.Helper()
		resp, err := rc.Backtest(actx, &pb.BacktestRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var rep backtest.Report
		if err := json.Unmarshal(resp.ReportJson, &rep); err != nil || rep.Live == nil {
			t.Fatalf("report: %v, live %+v", err, rep.Live)
		}
		return rep.Live
	}
	if l := backtestLive(); l.BaselineSame != l.Compared || l.Warning != "" {
		t.Fatalf("on the data it was scored with: %+v", l)
	}
	writeList("192.0.2.1")
	deadline := time.Now().Add(10 * time.Second)
	for score() == engine.ActionDeny {
		if time.Now().After(deadline) {
			t.Fatal("the deny list was not reloaded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	l := backtestLive()
	if l.BaselineSame == l.Compared {
		t.Fatalf("the baseline reproduces every live decision after the list changed: %+v", l)
	}
	want := fmt.Sprintf("the baseline reproduces only %d of the %d live decisions", l.BaselineSame, l.Compared)
	if !strings.HasPrefix(l.Warning, want) || !strings.Contains(l.Warning, "as they are now") {
		t.Errorf("live.warning %q, want it to start %q and say the server's data is as it is now", l.Warning, want)
	}
}

// A rule failing in a server's backtest is logged marked backtest=true,
// apart from the live failures the runbooks read the log for.
func TestBacktestFailuresAreMarked(t *testing.T) {
	actx := captureAdmin(t)
	ctx := context.Background()
	var log syncbuf.Buffer
	n, conn := startNodeWith(t, node.Config{Capture: node.CaptureConfig{Dir: t.TempDir()}}, captureSecret,
		node.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if _, err := n.Service().Score(ctx, engine.Attempt{IP: "81.2.69.160", UserID: "erin", Result: engine.ResultPasswordOK, Attributes: map[string]string{"n": "abc"}}); err != nil {
		t.Fatal(err)
	}
	failing := "rules:\n  - id: numeric\n    description: A number attribute.\n    when: int(attempt.attributes[\"n\"]) > 3\n    score: 10\n"
	if _, err := pb.NewRulesServiceClient(conn).Backtest(actx, &pb.BacktestRequest{Files: []*pb.RuleFile{{Name: "c.yaml", Content: failing}}}); err != nil {
		t.Fatal(err)
	}
	var found bool
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, "pipeline stage failed") {
			found = true
			if !strings.Contains(line, "backtest=true") || !strings.Contains(line, "name=numeric") {
				t.Errorf("a backtest's failure logged unmarked: %s", line)
			}
		}
	}
	if !found {
		t.Fatalf("the candidate's failing rule was not logged:\n%s", log.String())
	}
}
