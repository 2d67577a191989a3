// Command quality measures riskgate's detection quality on simulated
// traffic: it generates a labelled stream with simulator (users with
// homes, devices, habits and travel; credential stuffing, password
// spraying, account takeovers, session hijacks and slow brute force),
// replays it with auto-outcomes through the engine riskgate replay builds
// (in-memory store, GeoIP enrichment on the generated databases, built-in
// hosting ASNs, embedded breached-password filter, the default rules or
// the given ones), and prints, as the Markdown of benchmarks/README.md:
// decisions per label, the targets, the attack variants, the rules
// behind legitimate friction, and the trade-off of the statistical RBA
// score.
//
//	go run ./benchmarks/quality                   # the recorded matrix: seeds 1-5 × 300 users × 10 days, 2,000 users × 28 days
//	go run ./benchmarks/quality -seeds 1-10 -sizes 300x10
//	go run ./benchmarks/quality -seed 3 -users 300 -days 10   # one run, in detail
//
// The matrix reports each figure's worst run and median and judges the
// targets on the worst: a rule set that works on one seed only fails.
//
// The same stream replays through the binary:
//
//	riskgate simulate --geo-dir geo -o sim.jsonl
//	riskgate replay --auto-outcomes -i sim.jsonl --geoip-city geo/city.mmdb \
//	    --geoip-asn geo/asn.mmdb --geoip-anonymous geo/anonymous.mmdb -o decisions.jsonl
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/riskgate/riskgate/simulator"
)

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "quality:", err)
		os.Exit(1)
	}
}

func mainErr() error {
	cfg := simulator.DefaultConfig()
	var rulePaths, jsonOut, decisions, geoDir, seedList, sizeList, officeList string
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "simulation seed")
	flag.IntVar(&cfg.Users, "users", cfg.Users, "accounts")
	flag.IntVar(&cfg.Days, "days", cfg.Days, "labelled days")
	flag.IntVar(&cfg.WarmupDays, "warmup-days", cfg.WarmupDays, "unlabelled days of history before them")
	flag.StringVar(&rulePaths, "rules", "", "comma-separated rule files or folders (default: the embedded default rules)")
	flag.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file")
	flag.StringVar(&decisions, "decisions", "", "write the decision lines, with signals, to this file (large)")
	flag.StringVar(&geoDir, "geo-dir", "", "keep the generated GeoIP databases in this folder (default: a temporary one)")
	flag.StringVar(&seedList, "seeds", "1-5", "matrix: seeds, e.g. 1-5 or 1,7,11")
	flag.StringVar(&sizeList, "sizes", "300x10,2000x28", "matrix: tenant sizes as USERSxDAYS")
	flag.StringVar(&officeList, "offices", "2000x14", "matrix: busy-office workforce tenants as USERSxDAYS (every user at one office behind 8 NAT addresses); empty for none")
	flag.IntVar(&cfg.BusyOffice, "busy-office", 0, "single run: users working at the busy office")
	flag.Parse()
	single := false
	flag.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "seed", "users", "days", "decisions", "busy-office":
			single = true
		}
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o := options{sim: cfg, geoDir: geoDir}
	if rulePaths != "" {
		o.rules = strings.Split(rulePaths, ",")
	}
	if o.geoDir == "" {
		dir, err := os.MkdirTemp("", "riskgate-quality-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.geoDir = dir
	}
	if decisions != "" {
		f, err := os.Create(decisions)
		if err != nil {
			return err
		}
		defer f.Close()
		o.decisions = f
	}
	began := time.Now()
	if !single {
		seeds, err := parseSeeds(seedList)
		if err != nil {
			return err
		}
		sizes, err := parseSizes(sizeList)
		if err != nil {
			return err
		}
		offices, err := parseSizes(officeList)
		if err != nil {
			return err
		}
		for _, o := range offices {
			o.Office = true
			sizes = append(sizes, o)
		}
		cells, err := runMatrix(ctx, o, seeds, sizes, os.Stderr)
		if err != nil {
			return err
		}
		fmt.Printf("Seeds %s at %s and busy offices %s (each after %d days of history), default attack mix; %d runs in %s.\n\n", seedList, sizeList, officeList, cfg.WarmupDays, len(cells), time.Since(began).Round(time.Second))
		met := MatrixMarkdown(os.Stdout, cells)
		if jsonOut != "" {
			if err := writeJSON(jsonOut, cells); err != nil {
				return err
			}
		}
		if !met {
			return fmt.Errorf("a target was missed on the worst run")
		}
		return nil
	}
	rep, err := run(ctx, o)
	if err != nil {
		return err
	}
	c := rep.Config
	a := c.Attacks
	fmt.Printf("Seed %d, %d users, %d labelled days after %d days of history; attacks: %d stuffing waves of %d attempts, %d spraying campaigns over %d accounts, %d takeovers, %d hijacks, %d brute-forced accounts. Replayed in %s.\n\n",
		c.Seed, c.Users, c.Days, c.WarmupDays, a.StuffingWaves, a.StuffingAttempts, a.SprayCampaigns, a.SprayAccounts, a.Takeovers, a.Hijacks, a.BruteForce, time.Since(began).Round(100*time.Millisecond))
	rep.Markdown(os.Stdout)
	if jsonOut != "" {
		return writeJSON(jsonOut, rep)
	}
	return nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
