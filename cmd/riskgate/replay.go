package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/rules"
)

type replayCmd struct {
	In            string `help:"JSONL events to replay: a file (gzip is fine), a capture folder, or standard input (default)." short:"i" placeholder:"FILE|DIR"`
	Out           string `help:"Where to write one decision per attempt as JSONL (default: standard output)." short:"o" placeholder:"FILE"`
	AutoOutcomes  bool   `help:"Report the outcome the person would produce after each decision (a step-up passes per step_up_passes), so baselines learn as with real traffic."`
	Summary       string `help:"Write the per-label summary as JSON to this file." placeholder:"FILE"`
	NoSignals     bool   `help:"Leave the feature values out of the output."`
	Seed          uint64 `help:"Seed for decision ids: the same input and seed give the same output." default:"1"`
	CapturedRules bool   `help:"Replay a capture under the rules it was scored with (its rules records, in force where they were live) instead of --rules." name:"captured-rules"`

	engineFlags `embed:""`
}

func (c *replayCmd) Run(ctx context.Context) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store := memstore.New(memstore.Options{})
	defer store.Close(context.Background())
	b, err := c.build(ctx, store, false, log, func(o *engine.Options) { o.NewID = engine.SeededIDs(c.Seed) })
	if err != nil {
		return err
	}
	defer b.Close()

	in, err := replay.Open(c.In)
	if err != nil {
		return err
	}
	defer in.Close()
	var out io.Writer = os.Stdout
	if c.Out != "" && c.Out != "-" {
		f, err := os.Create(c.Out)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	opts := replay.Options{AutoOutcomes: c.AutoOutcomes, NoSignals: c.NoSignals, Thresholds: thresholdsOf(b.rules)}
	if c.CapturedRules {
		opts.OnRules = func(rec *replay.RulesRecord) error { return putCapturedRules(b.rules, rec) }
	}
	sum, err := replay.Run(ctx, b.engine, in, out, opts)
	if err != nil {
		return err
	}
	if sum.Empty() {
		return nil
	}
	fmt.Fprint(os.Stderr, sum.Table())
	if c.Summary != "" {
		data, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(c.Summary, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// thresholdsOf gives the replay the thresholds of the rules in force, for
// what the shadow rules would have done.
func thresholdsOf(h *rules.Holder) func(string) (rules.Thresholds, bool) {
	return func(version string) (rules.Thresholds, bool) {
		set := h.Set()
		return set.Thresholds(), set.Version() == version
	}
}

// putCapturedRules puts a capture's rules record in force.
func putCapturedRules(h *rules.Holder, rec *replay.RulesRecord) error {
	if len(rec.Files) == 0 {
		return fmt.Errorf("--captured-rules: the capture holds only the version of the rules it was scored with (%s), not their files: give --rules", rec.Version)
	}
	srcs := make([]rules.Source, len(rec.Files))
	for i, f := range rec.Files {
		srcs[i] = rules.Source{Name: f.Name, Data: []byte(f.Data)}
	}
	set, err := rules.Compile(srcs...)
	if err != nil {
		return fmt.Errorf("--captured-rules: version %s: %w", rec.Version, err)
	}
	h.Swap(set)
	return nil
}
