package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/internal/redistest"
	"github.com/riskgate/riskgate/node"
)

// TestAttacks replays generated attacks, with ordinary traffic mixed in,
// through nodes assembled on each store, with the default signals and
// rules. Each attack must be detected and the ordinary traffic must not be
// challenged: the attack-window signals work the same on every store.
func TestAttacks(t *testing.T) {
	t.Run("memory", func(t *testing.T) { runAttacks(t, func(int) string { return "memory" }) })
	t.Run("redis", func(t *testing.T) {
		srv := redistest.Start(t)
		// A database of its own for each attack (Redis has 16).
		runAttacks(t, func(i int) string { return fmt.Sprintf("%s/%d", srv.URL, i+1) })
	})
}

func runAttacks(t *testing.T, store func(i int) string) {
	tests := []struct {
		name string
		f    func(t *testing.T, e *engine.Engine)
	}{
		{"CredentialStuffingFromFewAddresses", testStuffing},
		{"StuffingSpreadOverASubnet", testSubnetStuffing},
		{"PasswordSprayFromManyAddresses", testSpray},
		{"SlowBruteForceOverADay", testSlowBruteForce},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Generous: the test is about detection, not the fallback
			// when the store is slow.
			cfg := node.Config{Store: store(i), StoreTimeout: 5 * time.Second}
			cfg.Breached = "none"
			n, err := node.New(context.Background(), cfg, node.WithSecret([]byte("attack-test-secret-0123")),
				node.WithLogger(slog.New(slog.DiscardHandler)), node.WithEngine(func(o *engine.Options) { o.NewID = engine.SeededIDs(7) }))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Close(context.Background()) })
			tt.f(t, n.Engine())
		})
	}
}

const browser = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

var attackStart = time.Date(2026, 4, 6, 8, 0, 0, 0, time.UTC)

// traffic is a mixed stream: attack attempts and ordinary logins of a
// population of users, each from their own address and device.
type traffic struct {
	t                        *testing.T
	e                        *engine.Engine
	legit, legitStopped      int
	attack, attackStopped    int
	attackDenied             int
	firstStopped, lastMissed int
	users                    int
}

func newTraffic(t *testing.T, e *engine.Engine, users int) *traffic {
	tr := &traffic{t: t, e: e, users: users, firstStopped: -1, lastMissed: -1}
	// A week of history for every user, so their logins are ordinary.
	for d := range 7 {
		for u := range users {
			tr.ordinary(u, attackStart.Add(time.Duration(d-7)*24*time.Hour+time.Duration(u)*time.Second), false)
		}
	}
	return tr
}

func (tr *traffic) ordinary(u int, at time.Time, count bool) {
	tr.t.Helper()
	lat, lon := 48.85+float64(u%10)/100, 2.35
	a := engine.Attempt{Time: at, UserID: fmt.Sprintf("user-%d", u), Username: fmt.Sprintf("user%d@example.com", u),
		IP: fmt.Sprintf("81.2.%d.%d", 1+u/200, 1+u%200), UserAgent: browser, DeviceID: fmt.Sprintf("device-%d", u),
		Result: engine.ResultPasswordOK, Geo: &engine.GeoHint{Country: "FR", Lat: &lat, Lon: &lon}}
	d, err := tr.e.Score(context.Background(), a)
	if err != nil {
		tr.t.Fatal(err)
	}
	if count {
		tr.legit++
		if d.Action != engine.ActionAllow {
			tr.legitStopped++
			tr.t.Errorf("ordinary login of user %d at %s: %s %v", u, at.Format(time.TimeOnly), d.Action, reasonIDs(d.Reasons))
		}
	}
}

func (tr *traffic) attempt(i int, a engine.Attempt) engine.Decision {
	tr.t.Helper()
	d, err := tr.e.Score(context.Background(), a)
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.attack++
	if d.Action == engine.ActionAllow {
		tr.lastMissed = i
	} else {
		tr.attackStopped++
		if d.Action == engine.ActionDeny {
			tr.attackDenied++
		}
		if tr.firstStopped < 0 {
			tr.firstStopped = i
		}
	}
	return d
}

func reasonIDs(rs []engine.Reason) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.RuleID)
	}
	return ids
}

func (tr *traffic) report(minStopped float64) {
	tr.t.Helper()
	rate := float64(tr.attackStopped) / float64(tr.attack)
	tr.t.Logf("attack: %d attempts, %.1f%% stopped (%d denied), first stopped #%d, last missed #%d; ordinary: %d logins, %d challenged",
		tr.attack, 100*rate, tr.attackDenied, tr.firstStopped, tr.lastMissed, tr.legit, tr.legitStopped)
	if rate < minStopped {
		tr.t.Errorf("only %.1f%% of the attack stopped, want at least %.0f%%", 100*rate, 100*minStopped)
	}
	if tr.legit == 0 {
		tr.t.Error("no ordinary traffic was mixed in")
	}
}

// testStuffing: 300 usernames from 3 addresses in 15 minutes, mostly wrong
// passwords, a few right (reused credentials).
func testStuffing(t *testing.T, e *engine.Engine) {
	tr := newTraffic(t, e, 60)
	r := rand.New(rand.NewPCG(1, 1))
	at := attackStart
	for i := range 300 {
		at = at.Add(3 * time.Second)
		res := engine.ResultPasswordBad
		if r.IntN(50) == 0 {
			res = engine.ResultPasswordOK
		}
		tr.attempt(i, engine.Attempt{Time: at, Username: fmt.Sprintf("victim%d@example.com", i), IP: fmt.Sprintf("45.155.205.%d", 10+i%3),
			UserAgent: browser, Result: res})
		if i%5 == 0 {
			tr.ordinary(r.IntN(tr.users), at, true)
		}
	}
	// The first few attempts of each address look like anyone's typo; after
	// that every attempt must be stopped.
	tr.report(0.9)
	if tr.lastMissed > 40 {
		t.Errorf("attempt #%d still allowed: detection must not give up once it started", tr.lastMissed)
	}
}

// testSubnetStuffing: 200 addresses of one /24, two usernames each.
func testSubnetStuffing(t *testing.T, e *engine.Engine) {
	tr := newTraffic(t, e, 60)
	r := rand.New(rand.NewPCG(2, 2))
	at := attackStart
	for i := range 400 {
		at = at.Add(2 * time.Second)
		tr.attempt(i, engine.Attempt{Time: at, Username: fmt.Sprintf("target%d", i), IP: fmt.Sprintf("193.42.33.%d", i/2),
			UserAgent: browser, Result: engine.ResultPasswordBad})
		if i%8 == 0 {
			tr.ordinary(r.IntN(tr.users), at, true)
		}
	}
	tr.report(0.9)
}

// testSpray: one password over 200 accounts from 200 addresses, slowly (one
// attempt a minute), each address and account seen once.
func testSpray(t *testing.T, e *engine.Engine) {
	tr := newTraffic(t, e, 60)
	r := rand.New(rand.NewPCG(3, 3))
	at := attackStart
	const winter = "2e9ec317e197819358fbc43afca7d837f9f2e70e" // SHA-1 of a common season password
	for i := range 200 {
		at = at.Add(time.Minute)
		tr.attempt(i, engine.Attempt{Time: at, UserID: fmt.Sprintf("staff-%d", i), Username: fmt.Sprintf("staff%d@example.com", i),
			IP: fmt.Sprintf("%d.%d.%d.%d", 20+i%50, r.IntN(250), r.IntN(250), 1+r.IntN(250)), UserAgent: browser,
			PasswordSHA1: winter, Result: engine.ResultPasswordBad})
		if i%2 == 0 {
			tr.ordinary(r.IntN(tr.users), at, true)
		}
	}
	tr.report(0.95)
}

// testSlowBruteForce: one account, a failure every 30 minutes for a day,
// each from a new address, under every per-address limit; then the
// attacker logs in with the right password.
func testSlowBruteForce(t *testing.T, e *engine.Engine) {
	tr := newTraffic(t, e, 60)
	r := rand.New(rand.NewPCG(4, 4))
	at := attackStart
	victim := engine.Attempt{UserID: "user-7", Username: "user7@example.com", UserAgent: browser}
	for i := range 48 {
		at = at.Add(30 * time.Minute)
		a := victim
		a.Time, a.IP, a.Result = at, fmt.Sprintf("%d.%d.%d.7", 30+i, r.IntN(250), r.IntN(250)), engine.ResultPasswordBad
		d, err := e.Score(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		if d.Signals.IP.Failures24h != 1 {
			t.Fatalf("per-address failures %d: the attack is meant to stay under per-IP limits", d.Signals.IP.Failures24h)
		}
		for range 3 {
			tr.ordinary(8+r.IntN(tr.users-8), at, true)
		}
	}
	a := victim
	a.Time, a.IP, a.Result = at.Add(10*time.Minute), "185.220.101.4", engine.ResultPasswordOK
	d := tr.attempt(0, a)
	if d.Action == engine.ActionAllow || !hasReason(d.Reasons, "slow-brute-force") {
		t.Errorf("login after a day of distributed failures: %s %v (account failures 24h %d)", d.Action, reasonIDs(d.Reasons), d.Signals.Account.Failures24h)
	}
	tr.report(1)
}

func hasReason(rs []engine.Reason, id string) bool {
	for _, r := range rs {
		if r.RuleID == id {
			return true
		}
	}
	return false
}
