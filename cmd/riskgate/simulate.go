package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/riskgate/riskgate/simulator"
)

type simulateCmd struct {
	Seed       uint64  `help:"Seed: the same seed and flags give the same stream, byte for byte." default:"1"`
	Users      int     `help:"Accounts." default:"2000"`
	Days       int     `help:"Days of labelled traffic, attacks included." default:"28"`
	WarmupDays int     `help:"Days of unlabelled ordinary traffic before them, which build the baselines a running engine would have." default:"21"`
	Start      string  `help:"First day of the labelled traffic (UTC)." default:"2026-03-02" placeholder:"YYYY-MM-DD"`
	Tenant     string  `help:"Tenant of every attempt (default: none, i.e. \"default\")."`
	Out        string  `help:"Where to write the JSONL stream (default: standard output)." short:"o" placeholder:"FILE"`
	GeoDir     string  `help:"Write the GeoIP databases that locate the simulated addresses (city.mmdb, asn.mmdb, anonymous.mmdb) into this folder." placeholder:"DIR"`
	Breached   float64 `name:"breached-users" help:"Share of users whose password is a common, breached one." default:"0.015"`
	VPN        float64 `name:"vpn-users" help:"Share of users with a consumer VPN." default:"0.07"`
	NewUsers   float64 `name:"new-users" help:"Share of users who sign up during the labelled period (no history)." default:"0.03"`
	BusyOffice int     `name:"busy-office" help:"Users (the first ones) who work at one busy office: 8 NAT addresses in one /24, all logging in within 45 minutes of 9:00 each workday from their work laptop. As many as --users makes a workforce tenant." default:"0"`

	StuffingWaves    int `help:"Credential-stuffing waves (-1: one per 10 days)." default:"-1"`
	StuffingAttempts int `help:"Attempts per stuffing wave (-1: 1.5 per user)." default:"-1"`
	SprayCampaigns   int `help:"Password-spraying campaigns (-1: one per 14 days)." default:"-1"`
	SprayAccounts    int `help:"Accounts per spraying campaign (-1: a quarter of the users)." default:"-1"`
	Takeovers        int `help:"Targeted account takeovers (-1: one per 20 users)." default:"-1"`
	Hijacks          int `help:"Session hijacks from another continent (-1: one per 20 users)." default:"-1"`
	BruteForce       int `help:"Accounts under slow distributed brute force (-1: one per 250 users, 2 to 8)." default:"-1"`
	StuffingBursts   int `help:"Fast credential-stuffing bursts from a few servers of one /24: 400 to 600 attempts in 10 to 15 minutes (none by default; rules check --scenarios has one)." default:"0"`
	FastBruteForce   int `help:"Accounts guessed fast from one server: a guess every 1 to 3 minutes for up to 3 hours (none by default; rules check --scenarios has one)." default:"0"`
}

// Validate refuses a share out of 0 to 1, naming its flag.
func (c *simulateCmd) Validate() error {
	for _, s := range []struct {
		flag  string
		share float64
	}{{"--breached-users", c.Breached}, {"--vpn-users", c.VPN}, {"--new-users", c.NewUsers}} {
		if !(s.share >= 0 && s.share <= 1) {
			return fmt.Errorf("%s %v: want a share of users from 0 to 1 (0.015 is 1.5%%)", s.flag, s.share)
		}
	}
	return nil
}

func (c *simulateCmd) Run(ctx context.Context) error {
	start, err := time.Parse("2006-01-02", c.Start)
	if err != nil {
		return fmt.Errorf("--start: %w", err)
	}
	if start.IsZero() {
		// simulator.Config takes a zero Start for none given ("no start
		// date"); this one was given, and is out of range as 1999 is.
		return fmt.Errorf("--start %s: the stream must lie within the years 2000 to 9999", c.Start)
	}
	cfg := simulator.Config{
		Seed: c.Seed, Users: c.Users, Days: c.Days, WarmupDays: c.WarmupDays, Start: start, Tenant: c.Tenant,
		BreachedUserShare: c.Breached, VPNUserShare: c.VPN, NewUserShare: c.NewUsers, BusyOffice: c.BusyOffice,
		Attacks: simulator.Attacks{
			StuffingWaves: c.StuffingWaves, StuffingAttempts: c.StuffingAttempts, SprayCampaigns: c.SprayCampaigns,
			SprayAccounts: c.SprayAccounts, Takeovers: c.Takeovers, Hijacks: c.Hijacks, BruteForce: c.BruteForce,
			StuffingBursts: c.StuffingBursts, FastBruteForce: c.FastBruteForce,
		},
	}
	out, err := simulator.Generate(ctx, cfg)
	if err != nil {
		return err
	}
	if c.GeoDir != "" {
		if _, err := out.Geo.Write(c.GeoDir); err != nil {
			return err
		}
	}
	w := os.Stdout
	if c.Out != "" && c.Out != "-" {
		f, err := os.Create(c.Out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	// Writing a large stream takes seconds (a million lines, a gigabyte):
	// a SIGINT or SIGTERM then stops it as it stops the generation, rather
	// than being answered with the whole file and exit status 0.
	if err := out.WriteJSONL(ctxWriter{ctx, w}); err != nil {
		if w != os.Stdout {
			removePartial(w)
		}
		return err
	}
	if w != os.Stdout {
		if err := w.Close(); err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
	}
	counts := out.Counts()
	labels := make([]string, 0, len(counts))
	for l := range counts {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		name := l
		if name == "" {
			name = "(warm-up)"
		}
		fmt.Fprintf(os.Stderr, "%-22s %8d\n", name, counts[l])
	}
	return nil
}

// ctxWriter fails its writes once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// removePartial removes an --out file whose writing stopped: the lines
// written are in time order and would replay as a stream that merely
// ended early. Not a FIFO or a device someone reads from.
func removePartial(f *os.File) {
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		_ = os.Remove(f.Name())
	}
}
