// Command riskgate is the risk-based authentication engine: one binary whose
// subcommands serve the API, replay and simulate traffic, check and test rules,
// and build breached-password filters. It only parses flags and wires packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kong"

	_ "github.com/riskgate/riskgate/cmd/riskgate/internal/serveahead" // the built-in rules' compile, during package initialisation
	"github.com/riskgate/riskgate/internal/pretouch"
)

// cli is the command tree. Each subcommand lives in its own file.
type cli struct {
	Backtest backtestCmd `cmd:"" help:"Replay a capture or a labelled stream through the candidate rules and the baseline, and report what would change."`
	Breached breachedCmd `cmd:"" help:"Build, verify and inspect breached-password filter files."`
	Replay   replayCmd   `cmd:"" help:"Score a JSONL stream of attempts and outcomes, in order, and write the decisions."`
	Rules    rulesCmd    `cmd:"" help:"Check rule files, run rule tests, list rule fields."`
	Simulate simulateCmd `cmd:"" help:"Write a labelled stream of simulated logins and attacks (replay format) and the GeoIP databases that locate it."`
	Serve    serveCmd    `cmd:"" help:"Run the service: gRPC and HTTP/JSON APIs, metrics, live rules."`
	Version  versionCmd  `cmd:"" help:"Print the version and exit."`
	// Completion writes the shell completion script.
	Completion completionCmd `cmd:"" help:"Write the shell completion script (bash, zsh, fish)."`

	VersionFlag kong.VersionFlag `name:"version" help:"Print the version and exit."`
}

// startGCPercent is the collector's target for the start of serve: that
// of --gc-percent by default.
const startGCPercent = 400

// serveCLI is cli with serve alone, for `riskgate serve`: the same
// command, flags and help (TestServeCLI).
type serveCLI struct {
	Serve       serveCmd         `cmd:"" help:"Run the service: gRPC and HTTP/JSON APIs, metrics, live rules."`
	VersionFlag kong.VersionFlag `name:"version" help:"Print the version and exit."`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var c cli
	var tree any = &c
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		// Kong builds and interpolates the help of the whole tree up
		// front, a few milliseconds of a start of some tens: a server's
		// (re)start builds its own command's only.
		tree = &serveCLI{}
		// pretouch mapped the heap in early in package initialisation,
		// if its probe found faults dear; the heap's mapping may have
		// grown since (internal/pretouch).
		_, _ = pretouch.Heap()
		if os.Getenv("GOGC") == "" {
			// The collector's target from the first allocation, not from
			// once the flags are read: at the runtime's default, the
			// start (flags, rules) ran two collections of a small heap.
			// serveCmd.Run sets the configured one.
			debug.SetGCPercent(startGCPercent)
		}
	}
	parser, err := kong.New(tree,
		kong.Name("riskgate"),
		kong.Description("Risk-based adaptive authentication: allow, step up or deny each login, with reasons."),
		kong.Vars{"version": versionString()},
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "riskgate:", err)
		os.Exit(1)
	}
	k, err := parser.Parse(os.Args[1:])
	if err == nil {
		err = refuseNegative(k)
	}
	if err != nil {
		// The one useful line and where to read more, not the whole usage.
		fmt.Fprintf(os.Stderr, "riskgate: error: %v\n%s\n", err, usageHint(err, k))
		os.Exit(80) // kong's exit code for a usage error
	}
	if err := k.Run(); err != nil {
		var logged loggedError
		if !errors.As(err, &logged) {
			fmt.Fprintln(os.Stderr, "riskgate:", err)
		}
		code := 1
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			code = ec.ExitCode() // backtest's failed gates: 3
		}
		os.Exit(code)
	}
}

// usageHint points to the help of the command the error is about.
func usageHint(err error, k *kong.Context) string {
	cmd := "riskgate"
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		k = pe.Context
	}
	if k != nil {
		if sel := k.Selected(); sel != nil {
			cmd += " " + sel.Path()
		}
	}
	return fmt.Sprintf("Run %q for usage.", cmd+" --help")
}
