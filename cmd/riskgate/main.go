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
	"syscall"

	"github.com/alecthomas/kong"

	_ "github.com/riskgate/riskgate/cmd/riskgate/internal/serveahead" // the built-in rules' compile, during package initialisation
	"github.com/riskgate/riskgate/cmd/riskgate/internal/serveflags"
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run, err := parse(ctx, os.Args[1:])
	var usage usageError
	switch {
	case errors.As(err, &usage):
		// The one useful line and where to read more, not the whole usage.
		fmt.Fprintf(os.Stderr, "riskgate: error: %v\n%s\n", usage.error, usageHint(usage.error, usage.k))
		os.Exit(80) // kong's exit code for a usage error
	case err != nil:
		fmt.Fprintln(os.Stderr, "riskgate:", err)
		os.Exit(1)
	}
	if err := run(); err != nil {
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

// usageError is a command line refused, by kong or by riskgate's checks
// of the values: main exits 80 with a hint of where to read more.
type usageError struct {
	error
	k *kong.Context // nil when the command was not made out
}

// parse reads the command line and returns the command to run. serve is
// parsed with the model of its flags that internal/serveflags built
// during package initialisation (parseServeArgs); the other commands with the
// whole tree.
func parse(ctx context.Context, args []string) (run func() error, err error) {
	if len(args) > 0 && args[0] == "serve" {
		// pretouch mapped the heap in early in package initialisation,
		// if its probe found faults dear; the heap's mapping may have
		// grown since (internal/pretouch).
		_, _ = pretouch.Heap()
		c, err := parseServeArgs(args)
		if err != nil {
			return nil, err
		}
		return func() error { return c.Run(ctx) }, nil
	}
	parser, err := kong.New(&cli{},
		kong.Name(serveflags.Name),
		kong.Description(serveflags.Description),
		kong.Vars{"version": versionString()},
		kong.BindTo(ctx, (*context.Context)(nil)),
		serveflags.MapOnce,
	)
	if err != nil {
		return nil, err
	}
	k, err := parser.Parse(args)
	if err == nil {
		err = refuseNegative(k)
	}
	if err != nil {
		return nil, usageError{err, k}
	}
	return func() error { return k.Run() }, nil
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
