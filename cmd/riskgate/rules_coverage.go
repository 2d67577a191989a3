package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/node"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/backtest"
	"github.com/riskgate/riskgate/signals"
	"github.com/riskgate/riskgate/simulator"
)

// coverageFlags are rules check's warnings about rules that match nothing
// or everything on real or simulated traffic.
type coverageFlags struct {
	In        string `help:"Replay this capture or replay stream (riskgate simulate's output) through the rules and warn about rules that match none or every one of its attempts." placeholder:"FILE"`
	Scenarios bool   `help:"The same warnings on the built-in simulated scenarios: 300 users over a week, with every simulated attack, a fast stuffing burst and a fast brute force."`

	GeoIP               node.GeoIPConfig `embed:""`
	node.PasswordConfig `embed:""`
}

func (f *coverageFlags) run(ctx context.Context, set *rules.Set) error {
	if f.In == "" && !f.Scenarios {
		return nil
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	check, closePw, err := node.BreachChecker(f.PasswordConfig, log)
	if err != nil {
		return err
	}
	defer closePw()
	sigs := func() []engine.Signal { return signals.Default(signals.Config{MaxSpeedKMH: 1000, Breached: check}) }
	if f.In != "" {
		enrichers, closeGeo, err := node.Enrichers(f.GeoIP, log)
		if err != nil {
			return err
		}
		defer closeGeo()
		in, err := replay.Open(f.In)
		if err != nil {
			return err
		}
		defer in.Close()
		rep, err := backtest.Run(ctx, in, backtest.Options{Candidate: set, Baseline: set, Enrichers: enrichers, Signals: sigs, Samples: -1, Logger: log})
		if err != nil {
			return err
		}
		if rep.Attempts == 0 {
			// "Every rule matched some but not all" of nothing was a pass.
			return fmt.Errorf("--in %s: holds no attempts: nothing to check the rules' coverage on", inputName(f.In))
		}
		ws := backtest.Coverage(rep)
		if len(f.GeoIP.IPLists) == 0 {
			backtest.NeedsLists(ws, set, "give the server's with --ip-list NAME=FILE")
		}
		if err := backtest.WriteCoverage(os.Stdout, f.In, ws); err != nil {
			return err
		}
	}
	if f.Scenarios {
		cfg := simulator.DefaultConfig()
		cfg.Users, cfg.Days, cfg.WarmupDays = 300, 7, 14
		// The crude attacks too, which the benchmark's world leaves out:
		// the burst rules are for them.
		cfg.Attacks.StuffingBursts, cfg.Attacks.FastBruteForce = 1, 1
		out, err := simulator.Generate(ctx, cfg)
		if err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "riskgate-scenarios-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		paths, err := out.Geo.Write(filepath.Join(dir, "geo"))
		if err != nil {
			return err
		}
		enrichers, closeGeo, err := node.Enrichers(node.GeoIPConfig{City: []string{paths.City}, ASN: []string{paths.ASN}, Anonymous: []string{paths.Anonymous}, CacheSize: 10000, Poll: -1}, log)
		if err != nil {
			return err
		}
		defer closeGeo()
		var stream bytes.Buffer
		if err := out.WriteJSONL(&stream); err != nil {
			return err
		}
		rep, err := backtest.Run(ctx, &stream, backtest.Options{Candidate: set, Baseline: set, Enrichers: enrichers, Signals: sigs, AutoOutcomes: true, Samples: -1, Logger: log})
		if err != nil {
			return err
		}
		ws := backtest.Coverage(rep)
		backtest.NeedsLists(ws, set, "the scenarios have none; check it on a capture with --in and --ip-list")
		if err := backtest.WriteCoverage(os.Stdout, "the simulated scenarios", ws); err != nil {
			return err
		}
	}
	return nil
}
