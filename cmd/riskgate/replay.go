package main

import (
	"context"
	"crypto/sha256"
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
	In            string `help:"JSONL events to replay: a file (gzip is fine), a capture folder, or standard input (default)." short:"i" placeholder:"FILE|DIR"`
	Out           string `help:"Where to write one decision per attempt as JSONL (default: standard output)." short:"o" placeholder:"FILE"`
	AutoOutcomes  bool   `help:"Report the outcome the person would produce after each decision (a step-up passes per step_up_passes), so baselines learn as with real traffic."`
	Summary       string `help:"Write the per-label summary as JSON to this file ('-': standard output, when -o is a file)." placeholder:"FILE"`
	NoSignals     bool   `help:"Leave the feature values out of the output."`
	Seed          uint64 `help:"Seed for decision ids: the same input and seed give the same output." default:"1"`
	CapturedRules bool   `help:"Replay a capture under the rules it was scored with (its rules records, in force where they were live) instead of --rules (RISKGATE_RULES is set aside)." name:"captured-rules"`

	envRulesSetAside bool // RISKGATE_RULES, with --captured-rules (Validate)

	node.EngineConfig `embed:""`
}

func (c *replayCmd) Run(ctx context.Context) error {
	decisions := c.Out
	if decisions == "" {
		decisions = "-" // the decisions' default
	}
	if err := refuseSharedOutputs(output{"-o", decisions}, output{"--summary", c.Summary}); err != nil {
		return err
	}
	for flag, out := range map[string]string{"-o": c.Out, "--summary": c.Summary} {
		if err := refuseInputAsOutput(c.In, flag, out); err != nil {
			return err
		}
		if err := refuseOverwritingInputs(flag, out, dataInputs(c.EngineConfig)); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if c.envRulesSetAside {
		fmt.Fprintln(os.Stderr, "riskgate replay: RISKGATE_RULES set aside: --captured-rules replays under the capture's own rules")
	}
	// The rules in force are the replay's own, so that a capture's rules
	// records can swap them (--captured-rules).
	inForce := replay.NewCapturedRules(nil)
	nodeOpts := []node.Option{node.WithLogger(log),
		node.WithEngine(func(o *engine.Options) {
			o.NewID = engine.SeededIDs(c.Seed)
			o.Rules = inForce
		})}
	if c.HMACSecretFile == "" && os.Getenv("RISKGATE_HMAC_SECRET") == "" {
		// The engine signs every decision id with the secret
		// (engine/decisionid.go): the node's random default made the
		// ids, and so the output, differ from run to run whatever
		// --seed said. The replay's state lives and dies with it, so a
		// secret made from the seed keys nothing that outlives it.
		nodeOpts = append(nodeOpts, node.WithSecret(seededSecret(c.Seed)))
	}
	n, err := node.New(ctx, node.Config{EngineConfig: c.EngineConfig}, nodeOpts...)
	if err != nil {
		return err
	}
	defer n.Close(context.Background())
	inForce.Use(n.Rules().Set()) // --rules, or the built-in rules

	in, err := replay.Open(c.In)
	if err != nil {
		return err
	}
	defer in.Close()
	var src io.Reader = in
	if c.CapturedRules {
		if src, err = needCapture(src, c.In); err != nil {
			return err
		}
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
	opts := replay.Options{AutoOutcomes: c.AutoOutcomes, NoSignals: c.NoSignals, Thresholds: inForce.Thresholds}
	if c.CapturedRules {
		opts.OnRules = func(rec *replay.RulesRecord) error {
			if err := inForce.Put(rec); err != nil {
				return fmt.Errorf("--captured-rules: %w", err)
			}
			return nil
		}
	}
	sum, err := replay.Run(ctx, n.Engine(), src, out, opts)
	if err != nil {
		return err
	}
	if !sum.Empty() {
		fmt.Fprint(os.Stderr, sum.Table())
	}
	if st := sum.Stream; st.Backwards > 0 {
		more := ""
		if st.Backwards > 1 {
			more = fmt.Sprintf(" (and %d more attempts after it)", st.Backwards-1)
		}
		fmt.Fprintf(os.Stderr, "riskgate replay: warning: line %d: the attempt is dated before an earlier line's%s. The windows count events by their time and the replay scores in line order: the decisions are live's only if live scored the attempts in this order (a capture's lines are); a stream put together out of order (several nodes' captures, files in the wrong order) should be sorted by time first\n", st.BackwardsLine, more)
	}
	// The summary is written whatever the stream held, so that a CI job
	// never reads an earlier run's: an unlabelled stream without shadow
	// rules gives no labels ({}) and the stream's counts.
	if c.Summary != "" {
		if sum.Labels == nil {
			sum.Labels = map[string]*replay.LabelCounts{}
		}
		data, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return err
		}
		if err := writeOut(c.Summary, func(w io.Writer) error { _, err := w.Write(append(data, '\n')); return err }); err != nil {
			return fmt.Errorf("--summary: %w", err)
		}
	}
	return nil
}

// seededSecret is the HMAC secret of a replay given none: the same for
// the same --seed, so that its decision ids are.
func seededSecret(seed uint64) []byte {
	sum := sha256.Sum256(fmt.Appendf(nil, "riskgate replay secret %d", seed))
	return sum[:]
}
