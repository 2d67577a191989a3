package node_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riskgate/riskgate/api/httpapi"
	"github.com/riskgate/riskgate/api/service"
	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/node"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestZeroConfig: the zero Config is a working node: the memory store, the
// embedded rules, the bundled breached-password list. Close is
// idempotent.
func TestZeroConfig(t *testing.T) {
	n, err := node.New(context.Background(), node.Config{}, node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	d, err := n.Service().Score(context.Background(), engine.Attempt{IP: "81.2.69.160", UserID: "u", PasswordSHA1: sha1Hex("password")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Signals.Password.Status != "breached" || d.RulesVersion != n.Rules().Set().Version() || n.Rules().Snapshot().Origin != "embedded" {
		t.Errorf("decision: password %q, rules %s", d.Signals.Password.Status, d.RulesVersion)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSecrets: a store that outlives the process refuses a random HMAC
// secret; a secret file is read as the token files are (surrounding white
// space is not part of it) and must be long enough; the error names the
// file, never the secret.
func TestSecrets(t *testing.T) {
	rds := redistest.Start(t)
	t.Setenv("RISKGATE_HMAC_SECRET", "")
	ctx := context.Background()
	if _, err := node.New(ctx, node.Config{Store: rds.URL}, node.WithLogger(quiet())); err == nil || !strings.Contains(err.Error(), "stable secret") {
		t.Errorf("redis with a random secret: %v", err)
	}
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("  tiny-S3CRET \n"), 0o600)
	cfg := node.Config{EngineConfig: node.EngineConfig{HMACSecretFile: short}}
	if _, err := node.New(ctx, cfg, node.WithLogger(quiet())); err == nil || !strings.Contains(err.Error(), short) || strings.Contains(err.Error(), "S3CRET") {
		t.Errorf("a short secret: %v", err)
	}
	// The same secret, with and without a trailing newline, keys
	// identifiers alike: a profile learned under one is found under the
	// other.
	spaced, bare := filepath.Join(dir, "spaced"), filepath.Join(dir, "bare")
	os.WriteFile(spaced, []byte("a-long-enough-secret-0123\n"), 0o600)
	os.WriteFile(bare, []byte("a-long-enough-secret-0123"), 0o600)
	cfg = node.Config{Store: rds.URL, EngineConfig: node.EngineConfig{HMACSecretFile: spaced}}
	n, err := node.New(ctx, cfg, node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Service().Score(ctx, engine.Attempt{IP: "81.2.69.160", UserID: "carol", Result: engine.ResultPasswordOK}); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.HMACSecretFile = bare
	n, err = node.New(ctx, cfg, node.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	if _, err := n.Service().Profile(ctx, "", "carol"); err != nil {
		t.Errorf("the profile under the same secret: %v", err)
	}
}

// events records, in order, what the plug-ins saw.
type events struct {
	mu  sync.Mutex
	all []string
}

func (e *events) add(s string) { e.mu.Lock(); e.all = append(e.all, s); e.mu.Unlock() }

func (e *events) list() []string { e.mu.Lock(); defer e.mu.Unlock(); return slices.Clone(e.all) }

// sink is an observer with a buffer to flush: the node closes it.
type sink struct {
	ev      *events
	decided int
	mu      sync.Mutex
}

func (s *sink) Decided(_ *engine.Attempt, d *engine.Decision, _ time.Duration) {
	s.mu.Lock()
	s.decided++
	s.mu.Unlock()
}
func (s *sink) Reported(*engine.Outcome, *engine.Pending) {}
func (s *sink) StoreCall(string, time.Duration, error)    {}
func (s *sink) Failed(string, string, error)              {}
func (s *sink) Close(context.Context) error               { s.ev.add("sink closed"); return nil }

// stream is a runner, as a Kafka consumer would be: it scores through the
// service until the node stops, then flushes.
type stream struct {
	ev     *events
	scored chan struct{}
}

func (s *stream) Name() string { return "stream" }

func (s *stream) Run(ctx context.Context, svc *service.Service) error {
	if _, err := svc.Score(ctx, engine.Attempt{IP: "81.2.69.160", UserID: "from-the-stream"}); err != nil {
		return err
	}
	close(s.scored)
	<-ctx.Done()
	s.ev.add("stream flushed")
	return nil
}

// TestPlugIns: an observer, a runner and an HTTP route plug into a node;
// the route is served and authenticated at its operation's level; the
// runner scores through the service and is stopped, and the sink closed
// after it, in one ordered shutdown.
func TestPlugIns(t *testing.T) {
	ev := &events{}
	sk := &sink{ev: ev}
	st := &stream{ev: ev, scored: make(chan struct{})}
	hook := func(svc *service.Service) []httpapi.Route {
		return []httpapi.Route{{Method: "POST", Path: "/v1/hooks/test", Op: service.OpScore, Handler: func(w http.ResponseWriter, r *http.Request) {
			if _, err := svc.Score(r.Context(), engine.Attempt{IP: "81.2.69.160", UserID: "from-the-hook"}); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}}}
	}
	scoringToken := filepath.Join(t.TempDir(), "scoring")
	os.WriteFile(scoringToken, []byte("scoring-token-0123456789\n"), 0o600)
	cfg := node.Config{HTTP: node.HTTPConfig{Addr: "127.0.0.1:0"}, Auth: node.AuthConfig{ScoringTokenFile: scoringToken}}
	n, err := node.New(context.Background(), cfg, node.WithLogger(quiet()), node.WithObserver(sk), node.WithRunner(st), node.WithRoutes(hook))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs, wait, err := n.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-st.scored
	post := func(token string) int {
		req, _ := http.NewRequest("POST", "http://"+addrs.HTTP+"/v1/hooks/test", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code != http.StatusUnauthorized {
		t.Errorf("the hook without the scoring token: %d", code)
	}
	if code := post("scoring-token-0123456789"); code != http.StatusNoContent {
		t.Errorf("the hook with the scoring token: %d", code)
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if sk.decided != 2 {
		t.Errorf("the sink saw %d decisions, want 2 (stream and hook)", sk.decided)
	}
	if got := ev.list(); !slices.Equal(got, []string{"stream flushed", "sink closed"}) {
		t.Errorf("shutdown order %v", got)
	}
}
