package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/node"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/backtest"
	"github.com/riskgate/riskgate/signals"
)

type backtestCmd struct {
	In            string   `help:"The stream: a capture (a capture folder, or one of its files) or a labelled stream from 'riskgate simulate'; gzip is fine; '-' is standard input." short:"i" required:"" placeholder:"FILE|DIR"`
	Rules         []string `help:"The candidate rule files or folders." required:"" placeholder:"PATH" sep:","`
	BaselineRules []string `help:"The rules to compare with (default: the rules the capture was scored with, else the built-in rules)." placeholder:"PATH" sep:","`
	JSON          string   `name:"json" help:"Write the report as JSON to this file ('-': standard output, and the text goes to standard error)." placeholder:"FILE"`
	HTML          string   `name:"html" help:"Write the report as one self-contained HTML page to this file ('-': standard output, and the text goes to standard error)." placeholder:"FILE"`
	MaxFriction   string   `help:"Exit with status 3 when the candidate steps up or denies more than this share of legitimate attempts (0.02 or 2%)." placeholder:"RATE"`
	MinCatch      string   `help:"Exit with status 3 when the candidate stops (steps up or denies) less than this share of attacks (0.95 or 95%)." placeholder:"RATE"`
	Samples       int      `help:"Changed attempts shown per kind of change." default:"5"`
	AutoOutcomes  bool     `help:"For a simulated stream, the person behind each attempt answers a step-up (passes when step_up_passes), as with replay --auto-outcomes. A capture's attempts are answered from its own outcomes either way." default:"true" negatable:""`
	MaxSpeed      float64  `help:"Speed (km/h) above which travel between two logins is impossible." default:"1000"`

	GeoIP               node.GeoIPConfig `embed:""`
	node.PasswordConfig `embed:""`
}

// gateError is a failed --max-friction or --min-catch: exit status 3, so
// that CI tells a rejected rule change from a backtest that could not run.
type gateError struct{ failed []string }

func (g gateError) Error() string { return "backtest: " + strings.Join(g.failed, "; ") }
func (g gateError) ExitCode() int { return 3 }

func (c *backtestCmd) Run(ctx context.Context) error {
	if err := refuseSharedOutputs(output{"--json", c.JSON}, output{"--html", c.HTML}); err != nil {
		return err
	}
	for flag, out := range map[string]string{"--json": c.JSON, "--html": c.HTML} {
		if err := refuseInputAsOutput(c.In, flag, out); err != nil {
			return err
		}
		inputs := dataInputs(node.EngineConfig{Rules: c.Rules, GeoIP: c.GeoIP, PasswordConfig: c.PasswordConfig})
		inputs["--baseline-rules"] = c.BaselineRules
		if err := refuseOverwritingInputs(flag, out, inputs); err != nil {
			return err
		}
	}
	gates := backtest.Gates{MaxFriction: -1, MinCatch: -1}
	var err error
	if gates.MaxFriction, err = parseRate("--max-friction", c.MaxFriction); err != nil {
		return err
	}
	if gates.MinCatch, err = parseRate("--min-catch", c.MinCatch); err != nil {
		return err
	}
	candidate, err := compileRules(c.Rules)
	if err != nil {
		return fmt.Errorf("--rules: %w", err)
	}
	var baseline *rules.Set
	if len(c.BaselineRules) > 0 {
		if baseline, err = compileRules(c.BaselineRules); err != nil {
			return fmt.Errorf("--baseline-rules: %w", err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	enrichers, closeGeo, err := node.Enrichers(c.GeoIP, log)
	if err != nil {
		return err
	}
	defer closeGeo()
	check, closePw, err := node.BreachChecker(c.PasswordConfig, log)
	if err != nil {
		return err
	}
	defer closePw()
	in, err := replay.Open(c.In)
	if err != nil {
		return err
	}
	defer in.Close()
	rep, err := backtest.Run(ctx, in, backtest.Options{
		Candidate: candidate, Baseline: baseline, Enrichers: enrichers, AutoOutcomes: c.AutoOutcomes,
		Samples: c.Samples, Logger: log,
		Signals: func() []engine.Signal {
			return signals.Default(signals.Config{MaxSpeedKMH: c.MaxSpeed, Breached: check})
		},
	})
	if err != nil {
		return err
	}
	if rep.Attempts == 0 {
		// A report of nothing passes every gate: a CI job on an empty
		// or header-only capture would go green having compared nothing.
		return fmt.Errorf("backtest: %s holds no attempts: nothing to compare", inputName(c.In))
	}
	rep.Input.Path = c.In
	rep.Candidate.Paths, rep.Baseline.Paths = c.Rules, c.BaselineRules
	if rep.Live != nil {
		var lacks []string
		for _, x := range []struct {
			none bool
			what string
		}{
			{len(c.GeoIP.City) == 0, "a GeoIP City database (--geoip-city)"},
			{len(c.GeoIP.ASN) == 0, "an ASN database (--geoip-asn)"},
			{len(c.GeoIP.Anonymous) == 0, "an Anonymous-IP database (--geoip-anonymous)"},
			{len(c.GeoIP.IPLists) == 0, "IP lists (--ip-list)"},
		} {
			if x.none {
				lacks = append(lacks, x.what)
			}
		}
		rep.Live.Warning = backtest.LiveWarning(rep.Live, lacks)
	}

	var text io.Writer = os.Stdout
	if c.JSON == "-" || c.HTML == "-" {
		text = os.Stderr // the report on standard output is the JSON or the page alone
	}
	if err := rep.WriteText(text); err != nil {
		return err
	}
	if rep.Live != nil && rep.Live.Warning != "" && text != os.Stderr {
		// Loud: on standard error too, where a pipeline's reader sees it.
		fmt.Fprintf(os.Stderr, "riskgate backtest: warning: %s\n", rep.Live.Warning)
	}
	if c.JSON != "" {
		if err := writeOut(c.JSON, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if c.HTML != "" {
		if err := writeOut(c.HTML, rep.WriteHTML); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	failed, err := rep.Check(gates)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return gateError{failed}
	}
	return nil
}

func compileRules(paths []string) (*rules.Set, error) {
	srcs, err := rules.LoadFiles(paths...)
	if err != nil {
		return nil, err
	}
	return rules.Compile(srcs...)
}

// parseRate reads 0.02 or 2%; "" is no gate (-1). NaN (which every
// comparison of the gate would pass) and infinities are refused with the
// other values out of range.
func parseRate(flag, s string) (float64, error) {
	if s == "" {
		return -1, nil
	}
	v, div := strings.TrimSuffix(strings.TrimSpace(s), "%"), 1.0
	if v != strings.TrimSpace(s) {
		div = 100
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f/div >= 0 && f/div <= 1) {
		return 0, fmt.Errorf("%s %q: want a share from 0 to 1, or a percentage (2%%)", flag, s)
	}
	return f / div, nil
}

// writeOut writes a report to path ("-": standard output).
func writeOut(path string, write func(io.Writer) error) error {
	if path == "-" {
		return write(os.Stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// inputName names an input for a message: standard input, or its path.
func inputName(in string) string {
	if in == "" || in == "-" {
		return "standard input"
	}
	return in
}
