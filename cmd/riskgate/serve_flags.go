package main

import (
	"fmt"
	"reflect"

	"github.com/alecthomas/kong"

	"github.com/riskgate/riskgate/cmd/riskgate/internal/serveflags"
)

// parseServeArgs parses `riskgate serve`'s command line with the model of its
// flags that internal/serveflags built during package initialisation, on
// that package's copy of serveCmd's types, and returns the serve command
// holding the values. What kong would have called on serveCmd's methods
// (the hooks, node.Config's Validate) is called here: the copy has no
// methods (TestServeFlagsMirror refuses any other).
func parseServeArgs(args []string) (*serveCmd, error) {
	flags, parser, err := serveflags.Parser(serveOptions()...)
	if err != nil {
		return nil, err
	}
	k, err := parser.Parse(args)
	var c serveCmd
	if err == nil {
		copyFlags(reflect.ValueOf(&c).Elem(), reflect.ValueOf(&flags.Serve).Elem())
		if verr := c.Config.Validate(); verr != nil {
			err = fmt.Errorf("serve: %w", verr) // as kong names a command's validation error
		}
	}
	if err == nil {
		err = refuseNegative(k)
	}
	if err != nil {
		return nil, usageError{err, k}
	}
	return &c, nil
}

// serveOptions are what main's tree gives kong for serve, but
// Name and Description (serveflags'): the version, and serveCmd's hooks.
func serveOptions() []kong.Option {
	return []kong.Option{
		kong.Vars{"version": versionString()},
		kong.WithBeforeReset(onServe(serveEnvNames)),
		kong.WithBeforeResolve(onServe(serveConfigFile)),
	}
}

// onServe makes a hook of serveCmd's into one for kong's options, which
// kong calls at every step of the command line's path: at the command's.
func onServe(hook func(*kong.Context) error) func(*kong.Context, *kong.Path) error {
	return func(ctx *kong.Context, p *kong.Path) error {
		if p.Command == nil {
			return nil
		}
		return hook(ctx)
	}
}

// copyFlags sets dst, of main's types, from src, of serveflags' copy of
// them: the same fields in the same order, of the same types but for the
// structs (TestServeFlagsMirror).
func copyFlags(dst, src reflect.Value) {
	if src.Kind() != reflect.Struct || src.Type() == dst.Type() {
		dst.Set(src)
		return
	}
	for i := range src.NumField() {
		copyFlags(dst.Field(i), src.Field(i))
	}
}
