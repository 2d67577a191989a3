// Package serveflags builds kong's model of `riskgate serve`'s flags
// while the binary's other packages are still being initialised.
//
// Kong builds a command's model by reflection over its struct, tags and
// help (106 flags: about 0.9 MB in 9,000 allocations, 1.5 ms on a warm
// machine and 4-7 ms where page faults are dear), and main could only do
// it once package initialisation was over, while the machine's second
// core sat idle through most of it. The model needs the flags' types, but
// main's serve command embeds node.Config, whose package is initialised
// near the end: so this package holds a copy of those types (flags.go,
// generated from main's by `go test ./cmd/riskgate -run
// TestServeFlagsMirror -update`, which fails when the two differ), imports
// only kong and the standard library, and is initialised before
// kafka-go's protocol packages, the Prometheus client and gRPC. main
// parses into the copy and copies the values into its own command
// (main's parseServeArgs).
//
// Only serve pays: other commands build their trees in main as before.
package serveflags

import (
	"os"
	"runtime/debug"

	"github.com/alecthomas/kong"
)

// StartGCPercent is the collector's target from the start of `serve`
// until it applies --gc-percent: at the runtime's default, the start's
// allocations (kong's model, kafka-go's protocol tables, the rules)
// ran collections of a heap of a few megabytes.
const StartGCPercent = 400

// Name and Description are the command line's, here so that the model
// built ahead and main's trees say the same.
const (
	Name        = "riskgate"
	Description = "Risk-based adaptive authentication: allow, step up or deny each login, with reasons."
)

type built struct {
	cli    *CLI
	parser *kong.Kong
	err    error
}

// ahead receives the model built during initialisation; nil unless the
// command is serve.
var ahead chan built

func init() {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		return
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(StartGCPercent)
	}
	ahead = make(chan built, 1)
	go func() { ahead <- build() }()
}

func build() built {
	c := &CLI{}
	p, err := kong.New(c, kong.Name(Name), kong.Description(Description), MapOnce)
	return built{c, p, err}
}

// Parser returns serve's command tree and kong's parser of it: the one
// built during initialisation when the command is serve (waiting for it
// if need be), else a new one. Options are applied to the parser before
// it is returned.
func Parser(opts ...kong.Option) (*CLI, *kong.Kong, error) {
	var b built
	if ahead != nil {
		b = <-ahead
		ahead = nil
	} else {
		b = build()
	}
	if b.err != nil {
		return nil, nil, b.err
	}
	for _, o := range opts {
		if err := o.Apply(b.parser); err != nil {
			return nil, nil, err
		}
	}
	return b.cli, b.parser, nil
}
