package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/riskgate/riskgate/internal/pretouch"
	"github.com/riskgate/riskgate/node"
)

// serveCmd is `riskgate serve`: flags, environment and config file onto a
// node.Config, then the node. Every flag is documented in
// docs/configuration.md, which a test regenerates from node.Config's tags.
type serveCmd struct {
	ConfigFile string `name:"config" help:"YAML configuration file. Flags override RISKGATE_* variables, which override the file." placeholder:"FILE" env:"RISKGATE_CONFIG" type:"existingfile"`

	node.Config `embed:""`
}

// BeforeReset gives every serve flag its RISKGATE_ variable.
func (c *serveCmd) BeforeReset(ctx *kong.Context) error { return serveEnvNames(ctx) }

// BeforeResolve reads the config file, if any, under the flags and the
// environment.
func (c *serveCmd) BeforeResolve(ctx *kong.Context) error { return serveConfigFile(ctx) }

func serveEnvNames(ctx *kong.Context) error {
	setEnvNames(serveFlags(ctx.Selected()))
	return nil
}

func serveConfigFile(ctx *kong.Context) error {
	node := ctx.Selected()
	var path string
	for _, f := range node.Flags {
		if f.Name == "config" {
			path, _ = ctx.FlagValue(f).(string)
		}
	}
	if path == "" {
		return nil
	}
	cf, err := loadConfig(path, configKeys(node.Target, serveFlags(node)))
	if err != nil {
		return err
	}
	ctx.AddResolver(cf.resolver())
	return nil
}

func (c *serveCmd) Run(ctx context.Context) error {
	// A server must outlive the reader of its standard output: with
	// --alerts-file - piped into a reader that exits, Go's runtime would
	// kill the process with SIGPIPE on the next write to fd 1 (or 2),
	// taking the APIs down without a word. Ignored, the write fails with
	// EPIPE and the alert sink retries, counts and logs it like any sink
	// that is down. Only serve does this: the other commands die quietly
	// on a closed pipe, as Unix tools do (riskgate simulate | head).
	signal.Ignore(syscall.SIGPIPE)
	if os.Getenv("GOGC") == "" {
		// internal/serveflags started at its StartGCPercent; node.Serve sets a positive
		// --gc-percent again, 0 is the runtime's default.
		p := c.GCPercent
		if p <= 0 {
			p = 100
		}
		debug.SetGCPercent(p)
	}
	log := c.Log.NewLogger()
	defer cutShutdownOnSecondSignal(log)()
	if d := pretouch.Result(); d.Invalid != "" {
		log.Warn("start-up: "+pretouch.EnvVar+" is not on, off or auto; measured (auto)", "value", d.Invalid, "pretouch", d.On, "fault", d.Fault, "populate_per_page", d.Populate, "err", d.Err)
	} else {
		log.Debug("start-up: pretouch", "mode", d.Mode, "on", d.On, "fault", d.Fault, "populate_per_page", d.Populate, "err", d.Err)
	}
	if c.ConfigFile != "" {
		log.Info("configuration file", "path", c.ConfigFile)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewBuildInfoCollector())
	opts := []node.Option{node.WithLogger(log), node.WithRegistry(reg)}
	kratos, err := node.KratosRoutes(&c.Config, log)
	if err == nil && kratos != nil {
		opts = append(opts, node.WithRoutes(kratos))
	}
	var n *node.Node
	if err == nil {
		n, err = node.New(ctx, c.Config, opts...)
	}
	if err == nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		err = n.Serve(ctx, hup)
	}
	if err != nil {
		// In the log's format (a JSON log has no plain-text line), and
		// not again by main.
		log.Error("riskgate: "+err.Error(), "exit", 1)
		return loggedError{err}
	}
	return nil
}

// loggedError is an error already written to the log: main exits 1
// without printing it again.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }
