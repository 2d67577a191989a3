package main

import (
	"fmt"
	"os"

	"github.com/riskgate/riskgate/rules"
)

type rulesCmd struct {
	Check  rulesCheckCmd  `cmd:"" help:"Compile rule files and report every error with file:line."`
	Fields rulesFieldsCmd `cmd:"" help:"Print the reference of every field rules can read (Markdown)."`
}

type rulesCheckCmd struct {
	Paths []string `arg:"" help:"Rule files or folders." type:"path"`
}

func (c *rulesCheckCmd) Run() error {
	srcs, err := rules.LoadFiles(c.Paths...)
	if err != nil {
		return err
	}
	set, err := rules.Compile(srcs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return fmt.Errorf("rules check: %d file(s) rejected", len(srcs))
	}
	th := set.Thresholds()
	fmt.Printf("OK: %d rules in %d file(s), version %s, step_up at %d, deny at %d\n", len(set.Rules()), len(srcs), set.Version(), th.StepUp, th.Deny)
	return nil
}

type rulesFieldsCmd struct{}

func (rulesFieldsCmd) Run() error {
	_, err := os.Stdout.WriteString(rules.Reference())
	return err
}
