package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/riskgate/riskgate/node"
	"github.com/riskgate/riskgate/rules"
	"github.com/riskgate/riskgate/rules/ruletest"
)

type rulesCmd struct {
	Check   rulesCheckCmd   `cmd:"" help:"Compile rule files and report every error with file:line."`
	Test    rulesTestCmd    `cmd:"" help:"Run rule tests (*_test.yaml): a history, an attempt, the expected decision."`
	Fields  rulesFieldsCmd  `cmd:"" help:"Print the reference of every field rules can read (Markdown)."`
	Promote rulesPromoteCmd `cmd:"" help:"Flip a shadow rule to enforce, through a server's admin API or in the rule files, validated and versioned as any change."`
}

type rulesCheckCmd struct {
	Paths        []string `arg:"" help:"Rule files or folders."`
	RulesTenants string   `help:"Also compile the tenants' overlays of this folder (DIR/TENANT/*.yaml, as serve's --rules-tenants), each on the shared rules given." placeholder:"DIR"`

	coverageFlags `embed:""`
}

func (c *rulesCheckCmd) Run(ctx context.Context) error {
	srcs, err := rules.LoadFiles(c.Paths...)
	if err != nil {
		return err
	}
	set, err := rules.Compile(srcs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return fmt.Errorf("rules check: %d of %d file(s) rejected", rejectedFiles(err, len(srcs)), len(srcs))
	}
	th := set.Thresholds()
	fmt.Printf("OK: %d rules in %d file(s), version %s, step_up at %d, deny at %d\n", len(set.Rules()), len(srcs), set.Version(), th.StepUp, th.Deny)
	var steps int64
	for _, r := range set.Rules() {
		steps += r.Cost
	}
	fmt.Printf("cost: about %d steps per login (at most %d; a rule at most %d)\n", steps, rules.MaxSetCost, rules.MaxRuleCost)
	fmt.Println("slowest rules (measured on an empty attempt):")
	costs := set.Measure(time.Millisecond)
	for _, c := range costs[:min(5, len(costs))] {
		fmt.Printf("  %-32s %8v  %5d steps\n", c.RuleID, c.Measured, c.Steps)
	}
	rules.WriteFailing(os.Stdout, "", costs, nil)
	if c.RulesTenants != "" {
		if err := checkTenants(c.RulesTenants, set, os.Stdout, os.Stderr); err != nil {
			return err
		}
	}
	return c.coverageFlags.run(ctx, set)
}

type rulesTestCmd struct {
	Paths []string `arg:"" help:"Rule test files, or folders holding *_test.yaml files."`

	node.PasswordConfig `embed:""`
}

func (c *rulesTestCmd) Run(ctx context.Context) error {
	check, closePw, err := node.BreachChecker(c.PasswordConfig, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer closePw()
	res, err := ruletest.RunPaths(ctx, os.Stdout, ruletest.Options{Breached: check}, c.Paths...)
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range res {
		if !r.Passed() {
			failed++
		}
	}
	fmt.Printf("%d tests, %d failed\n", len(res), failed)
	if failed > 0 {
		return fmt.Errorf("rules test: %d of %d failed", failed, len(res))
	}
	return nil
}

type rulesFieldsCmd struct{}

func (rulesFieldsCmd) Run() error {
	_, err := os.Stdout.WriteString(rules.Reference())
	return err
}

// rejectedFiles is the number of files a compile error names: the
// summary must not blame the files that compiled (every file, when the
// error names none).
func rejectedFiles(err error, files int) int {
	var list rules.ErrorList
	if !errors.As(err, &list) {
		return files
	}
	names := map[string]bool{}
	for _, e := range list {
		names[e.File] = true
	}
	return max(1, len(names))
}
