package rules

import (
	"errors"
	"reflect"

	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/vm"
)

// exprCompiler compiles the expressions of one load (a set or an overlay)
// under one expr configuration. expr.Compile builds a configuration for
// every expression: a fresh table of the builtins, and engine.Env's
// fields looked up again by reflection as the expression names them.
// That was about a quarter of compiling the default rules, which a
// server's start waits for. Sharing it changes nothing compiled: the
// checker, optimizer and compiler only read the configuration, and the
// lookups it caches are of one type (TestExprCompilerMatchesExpr).
//
// Not safe for concurrent use: the cache is written as expressions name
// fields. Each load makes its own.
type exprCompiler struct {
	base *conf.Config
}

func newExprCompiler() *exprCompiler {
	// What expr.Compile does with the options, once.
	c := conf.CreateNew()
	for _, op := range exprOptions() {
		op(c)
	}
	for name := range c.Disabled {
		delete(c.Builtins, name)
	}
	c.Check()
	return &exprCompiler{base: c}
}

// compile is expr.Compile(input, exprOptions(expr.AsKind(kind))...).
func (x *exprCompiler) compile(input string, kind reflect.Kind) (*vm.Program, error) {
	// A shallow copy for the expected kind: the tables and the cache
	// stay shared.
	c := *x.base
	c.Expect, c.ExpectAny = kind, true
	tree, err := checker.ParseCheck(input, &c)
	if err != nil {
		return nil, err
	}
	if c.Optimize {
		if err := optimizer.Optimize(&tree.Node, &c); err != nil {
			var fe *file.Error
			if errors.As(err, &fe) {
				return nil, fe.Bind(tree.Source)
			}
			return nil, err
		}
	}
	return compiler.Compile(tree, &c)
}
