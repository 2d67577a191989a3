package redisstore

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/riskgate/riskgate/engine"
)

// allowRules allows everything while the state is available and steps up
// otherwise. With it the engine learns successful logins and leaves a
// pending decision for attempts scored before the password check.
type allowRules struct{}

func (allowRules) Current() engine.Ruleset { return allowRules{} }
func (allowRules) Version() string         { return "test" }
func (allowRules) Evaluate(env *engine.Env, v *engine.Verdict) {
	v.Action = engine.ActionAllow
	if !env.State.Available {
		v.Action = engine.ActionStepUp
	}
}

// asnEnricher puts every public address in one ASN, so that the ASN
// windows are exercised.
type asnEnricher uint32

func (a asnEnricher) Enrich(_ netip.Addr, e *engine.Enrichment) error {
	e.Network.ASN = uint32(a)
	return nil
}

func newEngine(t testing.TB, s engine.Store, timeout time.Duration) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.Options{
		Store: s, Rules: allowRules{}, Keyer: testKeyer(t), StoreTimeout: timeout,
		Enrichers: []engine.Enricher{asnEnricher(64500)}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func testKeyer(t testing.TB) *engine.Keyer {
	k, err := engine.NewKeyer([]byte("redisstore-test-secret-0123"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// userKey is the key the engine gives user u of attempt.
func userKey(t testing.TB, u string) engine.Key { return testKeyer(t).User("acme", "user-"+u) }

// roundTrips counts the client's network calls: a command or a pipeline
// is one round trip.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// attempt is an ordinary login of user u from its usual place.
func attempt(u string, at time.Time, result engine.Result) engine.Attempt {
	lat, lon := 48.8566, 2.3522
	return engine.Attempt{
		Tenant: "acme", Time: at, UserID: "user-" + u, Username: u + "@example.com", IP: "81.2.69.160",
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		DeviceID:  "laptop-" + u, PasswordSHA1: "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", Result: result,
		Geo: &engine.GeoHint{Country: "FR", Lat: &lat, Lon: &lon},
	}
}

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }
