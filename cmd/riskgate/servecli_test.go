package main

import (
	"bytes"
	"testing"

	"github.com/alecthomas/kong"
)

// TestServeCLI: `riskgate serve` parsed with the serve-only tree has the
// same help, so the same flags, as with the whole tree.
func TestServeCLI(t *testing.T) {
	help := func(tree any, args ...string) string {
		var out bytes.Buffer
		p, err := kong.New(tree, kong.Name("riskgate"),
			kong.Description("Risk-based adaptive authentication: allow, step up or deny each login, with reasons."),
			kong.Vars{"version": versionString()}, kong.Writers(&out, &out), kong.Exit(func(int) {}))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = p.Parse(args)
		return out.String()
	}
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "--version"}} {
		whole, alone := help(&cli{}, args...), help(&serveCLI{}, args...)
		if whole != alone || len(whole) < 100 && args[1] == "--help" {
			t.Errorf("%v: the serve-only tree differs:\n%s\nwhole tree:\n%s", args, alone, whole)
		}
	}
}
