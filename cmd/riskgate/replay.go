package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/node"
)

type replayCmd struct {
	In           string `help:"JSONL events to replay (default: standard input)." short:"i" placeholder:"FILE"`
	Out          string `help:"Where to write one decision per attempt as JSONL (default: standard output)." short:"o" placeholder:"FILE"`
	AutoOutcomes bool   `help:"Report the outcome the person would produce after each decision (a step-up passes per step_up_passes), so baselines learn as with real traffic."`
	Summary      string `help:"Write the per-label summary as JSON to this file." placeholder:"FILE"`
	NoSignals    bool   `help:"Leave the feature values out of the output."`
	Seed         uint64 `help:"Seed for decision ids: the same input and seed give the same output." default:"1"`

	node.EngineConfig `embed:""`
}

func (c *replayCmd) Run(ctx context.Context) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := node.New(ctx, node.Config{EngineConfig: c.EngineConfig}, node.WithLogger(log),
		node.WithEngine(func(o *engine.Options) { o.NewID = engine.SeededIDs(c.Seed) }))
	if err != nil {
		return err
	}
	defer n.Close(context.Background())

	var in io.Reader = os.Stdin
	if c.In != "" && c.In != "-" {
		f, err := os.Open(c.In)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	var out io.Writer = os.Stdout
	if c.Out != "" && c.Out != "-" {
		f, err := os.Create(c.Out)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	sum, err := replay.Run(ctx, n.Engine(), in, out, replay.Options{AutoOutcomes: c.AutoOutcomes, NoSignals: c.NoSignals})
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
