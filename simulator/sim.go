package simulator

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
)

// Labels of the simulated traffic.
const (
	LabelLegit              = "legit"
	LabelCredentialStuffing = "credential_stuffing"
	LabelPasswordSpray      = "password_spray"
	LabelAccountTakeover    = "account_takeover"
	LabelImpossibleTravel   = "impossible_travel"
	LabelBruteForce         = "brute_force"
)

// Labels lists every label, legitimate first.
var Labels = []string{LabelLegit, LabelCredentialStuffing, LabelPasswordSpray, LabelAccountTakeover, LabelImpossibleTravel, LabelBruteForce}

// Config sizes a simulation. Start from DefaultConfig.
type Config struct {
	Seed uint64
	// Users is the number of accounts; Days the measured period, preceded
	// by WarmupDays of unlabelled ordinary traffic that builds the
	// baselines a deployed engine would already have.
	Users, Days, WarmupDays int
	// Start is the first day of the measured period (UTC).
	Start  time.Time
	Tenant string
	// Shares of users: with a common (breached) password, with a consumer
	// VPN, signing up during the measured period.
	BreachedUserShare, VPNUserShare, NewUserShare float64
	// BusyOffice makes the first BusyOffice users staff of one busy
	// office: 8 NAT addresses in one /24, everyone logging in within 45
	// minutes of 9:00 each workday from their work laptop. With as many
	// as Users it is a workforce tenant, the company's own sign-in.
	BusyOffice int
	Attacks    Attacks
}

// Attacks is the attack mix. A count of zero disables the attack; a
// negative count takes the default, scaled to the number of users and
// days.
type Attacks struct {
	StuffingWaves    int // credential-stuffing waves
	StuffingAttempts int // attempts per wave
	SprayCampaigns   int // password-spraying campaigns
	SprayAccounts    int // accounts per campaign
	Takeovers        int // targeted account takeovers (victims)
	Hijacks          int // session hijacks from another continent
	BruteForce       int // accounts under slow distributed brute force
	// Crude attacks (burst.go), off unless asked for: they take no
	// default, a negative count is none.
	StuffingBursts int // fast stuffing bursts from one data centre /24
	FastBruteForce int // accounts guessed fast from one server
}

// DefaultConfig is the benchmark's world: 2,000 users, three weeks of
// history, four measured weeks, every attack at its default size.
func DefaultConfig() Config {
	return Config{
		Seed: 1, Users: 2000, Days: 28, WarmupDays: 21, Start: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		BreachedUserShare: 0.015, VPNUserShare: 0.07, NewUserShare: 0.03,
		Attacks: Attacks{-1, -1, -1, -1, -1, -1, -1, 0, 0},
	}
}

// scaled resolves the default attack counts.
func (c Config) scaled() Config {
	a := &c.Attacks
	def := func(v *int, d int) {
		if *v < 0 {
			*v = d
		}
	}
	def(&a.StuffingWaves, max(1, c.Days/10))
	def(&a.StuffingAttempts, c.Users*3/2)
	def(&a.SprayCampaigns, max(1, c.Days/14))
	def(&a.SprayAccounts, min(c.Users, max(50, c.Users/4)))
	def(&a.Takeovers, max(10, c.Users/20))
	def(&a.Hijacks, max(10, c.Users/20))
	def(&a.BruteForce, max(2, min(8, c.Users/250)))
	return c
}

func (c *Config) validate() error {
	switch {
	case c.Users < 1 || c.Users > 10_000_000:
		return fmt.Errorf("sim: users %d: want 1 to 10,000,000", c.Users)
	case c.Days < 1 || c.Days > 3660:
		return fmt.Errorf("sim: days %d: want 1 to 3660", c.Days)
	case c.WarmupDays < 0 || c.WarmupDays > 3660:
		return fmt.Errorf("sim: warm-up days %d: want 0 to 3660", c.WarmupDays)
	case c.BusyOffice < 0 || c.BusyOffice > c.Users:
		return fmt.Errorf("sim: busy office %d: want 0 to the %d users", c.BusyOffice, c.Users)
	case c.Start.IsZero():
		return errors.New("sim: no start date")
	case c.Start.AddDate(0, 0, -c.WarmupDays).Year() < 2000 || c.Start.AddDate(0, 0, c.Days).Year() > 9999:
		// The engine refuses attempts dated outside these years: a stream
		// that reaches them could not be replayed.
		return fmt.Errorf("sim: start %s with %d warm-up and %d days: the stream must lie within the years 2000 to 9999", c.Start.Format("2006-01-02"), c.WarmupDays, c.Days)
	}
	for _, s := range []struct {
		name  string
		share float64
	}{{"breached-user share", c.BreachedUserShare}, {"VPN-user share", c.VPNUserShare}, {"new-user share", c.NewUserShare}} {
		if !(s.share >= 0 && s.share <= 1) {
			return fmt.Errorf("sim: %s %v: want 0 to 1", s.name, s.share)
		}
	}
	// Attacks on existing accounts need that many accounts: asking for
	// more is a mistake, not something to approximate.
	a := &c.Attacks
	for _, x := range []struct {
		name string
		n    int
	}{{"spray accounts", a.SprayAccounts}, {"takeovers", a.Takeovers}, {"hijacks", a.Hijacks}, {"brute-force accounts", a.BruteForce}, {"fast brute-force accounts", a.FastBruteForce}} {
		if x.n > c.Users {
			return fmt.Errorf("sim: %s %d: more than the %d users", x.name, x.n, c.Users)
		}
	}
	for _, x := range []struct {
		name string
		n    int
	}{{"stuffing waves", a.StuffingWaves}, {"stuffing attempts", a.StuffingAttempts}, {"spray campaigns", a.SprayCampaigns}} {
		if x.n > 100_000_000 {
			return fmt.Errorf("sim: %s %d: want at most 100,000,000", x.name, x.n)
		}
	}
	if a.StuffingBursts > 100_000 {
		return fmt.Errorf("sim: stuffing bursts %d: want at most 100,000", a.StuffingBursts)
	}
	return nil
}

// Output is a generated stream and the databases that describe its
// addresses.
type Output struct {
	Config Config
	Lines  []replay.Line
	Geo    GeoTables
}

// event is an attempt (or an outcome line) before ordering.
type event struct {
	at   time.Time
	src  uint64 // user index, or the attack's stream
	n    int    // order within the source
	tag  string // attempt-id prefix: the label or the attack variant
	line replay.Line
	ref  int // for an outcome line, the index of the attempt it is about
}

// gen holds one generation.
type gen struct {
	cfg                     Config
	w                       *world
	p                       *plan
	users                   []*User
	warmupStart, start, end time.Time
	events                  []event
	legitOK                 []legitRef
	taken                   map[string]bool // usernames in use, lookups only
	hqCity                  int             // the busy office's city: the largest
}

// Generate simulates cfg. The same Config gives the same output, byte for
// byte. The returned Config has the attack counts resolved. A large
// simulation takes a while: every long loop checks ctx, and Generate
// returns ctx's error soon after it is cancelled.
func Generate(ctx context.Context, cfg Config) (*Output, error) {
	cfg = cfg.scaled()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g, err := newGen(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for _, u := range g.users {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		g.legit(u)
	}
	a := cfg.Attacks
	for _, step := range []func(context.Context) error{
		func(ctx context.Context) error { return g.stuffing(ctx, a.StuffingWaves, a.StuffingAttempts) },
		func(ctx context.Context) error { return g.spray(ctx, a.SprayCampaigns, a.SprayAccounts) },
		func(ctx context.Context) error { return g.takeovers(ctx, a.Takeovers) },
		func(ctx context.Context) error { return g.hijacks(ctx, a.Hijacks) },
		func(ctx context.Context) error { return g.bruteForce(ctx, a.BruteForce) },
		func(ctx context.Context) error { return g.bursts(ctx, a.StuffingBursts, a.FastBruteForce) },
	} {
		if err := step(ctx); err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}

	order := make([]int, len(g.events))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		x, y := &g.events[i], &g.events[j]
		return cmp.Or(x.at.Compare(y.at), cmp.Compare(x.src, y.src), cmp.Compare(x.n, y.n))
	})
	out := &Output{Config: cfg, Lines: make([]replay.Line, 0, len(g.events)), Geo: g.p.geoTables()}
	ids := make([]string, len(g.events))
	attempts := 0
	for _, i := range order {
		e := &g.events[i]
		if e.line.Outcome != nil {
			// An outcome always comes after its attempt: the attempt's
			// id is known by now.
			e.line.Outcome.AttemptID = ids[e.ref]
		} else {
			attempts++
			ids[i] = fmt.Sprintf("%s-%07d", e.tag, attempts)
			e.line.AttemptID = ids[i]
		}
		out.Lines = append(out.Lines, e.line)
	}
	return out, nil
}

// newGen builds the world, the plan and the users of cfg.
func newGen(ctx context.Context, cfg Config) (*gen, error) {
	g := &gen{cfg: cfg, w: newWorld(), taken: map[string]bool{}}
	g.p = newPlan(g.w)
	for ci, c := range g.w.cities {
		if c.homes > g.w.cities[g.hqCity].homes {
			g.hqCity = ci
		}
	}
	g.start = cfg.Start.UTC().Truncate(24 * time.Hour)
	g.warmupStart = g.start.AddDate(0, 0, -cfg.WarmupDays)
	g.end = g.start.AddDate(0, 0, cfg.Days)
	for i := range cfg.Users {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("sim: %w", err)
			}
		}
		g.users = append(g.users, g.newUser(i, g.taken))
	}
	return g, nil
}

// emit queues an attempt and returns its index (-1 when at is past the
// end). passes says whether the person behind it would pass a step-up:
// true for the account owner, false for an attacker.
func (g *gen) emit(src uint64, at time.Time, tag, label string, passes bool, a engine.Attempt) int {
	if !at.Before(g.end) {
		return -1 // an attack that would run past the stream's end is cut there
	}
	a.Time = at.UTC().Truncate(time.Second)
	p := passes
	g.events = append(g.events, event{at: a.Time, src: src, n: len(g.events), tag: tag, ref: -1,
		line: replay.Line{Attempt: a, Label: label, StepUpPasses: &p}})
	return len(g.events) - 1
}

// confirmFraud queues an analyst's confirmed_fraud label for attempt ref,
// one to five days later (the victim calls, the analyst reviews), when
// that falls inside the stream. The engine passes analyst labels to its
// observers only; the replay resolves the attempt by its attempt_id.
func (g *gen) confirmFraud(r *rand.Rand, ref int) {
	if ref < 0 {
		return
	}
	at := g.events[ref].at.Add(between(r, 24*time.Hour, 5*24*time.Hour)).Truncate(time.Second)
	if !at.Before(g.end) {
		return
	}
	g.events = append(g.events, event{at: at, src: g.events[ref].src, n: len(g.events), ref: ref,
		line: replay.Line{Outcome: &replay.Outcome{Outcome: engine.Outcome{Tenant: g.cfg.Tenant, Outcome: engine.ConfirmedFraud, Time: at}}}})
}

// WriteJSONL writes the stream in the replay format, one event a line,
// after a comment saying how it was made.
func (o *Output) WriteJSONL(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	c := o.Config
	a := c.Attacks
	crude := "" // only when asked for: the streams made before they existed stay byte for byte
	if a.StuffingBursts > 0 || a.FastBruteForce > 0 {
		crude = fmt.Sprintf(" --stuffing-bursts %d --fast-brute-force %d", a.StuffingBursts, a.FastBruteForce)
	}
	fmt.Fprintf(bw, "# riskgate simulate --seed %d --users %d --days %d --warmup-days %d --start %s --busy-office %d --stuffing-waves %d --stuffing-attempts %d --spray-campaigns %d --spray-accounts %d --takeovers %d --hijacks %d --brute-force %d%s\n",
		c.Seed, c.Users, c.Days, c.WarmupDays, c.Start.Format("2006-01-02"), c.BusyOffice, a.StuffingWaves, a.StuffingAttempts, a.SprayCampaigns, a.SprayAccounts, a.Takeovers, a.Hijacks, a.BruteForce, crude)
	fmt.Fprintf(bw, "# %d events; lines before %s are unlabelled warm-up traffic. Labels: %v\n", len(o.Lines), c.Start.Format(time.RFC3339), Labels)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range o.Lines {
		var v any = &o.Lines[i]
		if o.Lines[i].Outcome != nil {
			// Outcome lines carry nothing but the outcome.
			v = struct {
				Outcome *replay.Outcome `json:"outcome"`
			}{o.Lines[i].Outcome}
		}
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("sim: write: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sim: write: %w", err)
	}
	return nil
}

// Counts returns the number of attempts per label ("" for warm-up) and
// of outcome lines ("outcome").
func (o *Output) Counts() map[string]int {
	m := map[string]int{}
	for i := range o.Lines {
		if o.Lines[i].Outcome != nil {
			m["outcome"]++
		} else {
			m[o.Lines[i].Label]++
		}
	}
	return m
}
