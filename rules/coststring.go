package rules

import (
	"errors"
	"reflect"

	"github.com/expr-lang/expr/ast"
)

// The cost of built strings: a bound on the length of the string an
// expression may build, which its cost pays for a step per bytesPerStep.

// stringBuilders are the builtins whose string can be longer than their
// arguments.
var stringBuilders = map[string]bool{
	"repeat": true, "replace": true, "join": true, "upper": true, "lower": true, "toBase64": true, "toJSON": true,
}

// builds reports whether n builds a new string, whose length its cost
// must pay for.
func builds(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.BinaryNode:
		return n.Operator == "+" && mayBeString(n)
	case *ast.BuiltinNode:
		return stringBuilders[n.Name]
	case *ast.CallNode:
		return isString(n)
	}
	return false
}

func isString(n ast.Node) bool {
	t := n.Type()
	return t != nil && t.Kind() == reflect.String
}

// mayBeString reports whether n is a string or of a type known only at
// run time (reduce's #acc, an element of a list of any).
func mayBeString(n ast.Node) bool {
	t := n.Type()
	return t == nil || t.Kind() == reflect.String || t.Kind() == reflect.Interface
}

// accMayBeString reports whether the accumulator of a reduce may be a
// string: its initial value, else the collection's first element.
func accMayBeString(args []ast.Node) bool {
	if len(args) >= 3 {
		return mayBeString(args[2])
	}
	if b, ok := args[0].(*ast.BinaryNode); ok && b.Operator == ".." {
		return false // integers
	}
	t := args[0].Type()
	if t == nil || t.Kind() == reflect.Interface {
		return true
	}
	if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		k := t.Elem().Kind()
		return k == reflect.String || k == reflect.Interface
	}
	return false
}

// strLen bounds the length in bytes of the string n evaluates to. It is
// remembered: cost asks it of every + of a chain, which would otherwise
// walk the chain again each time.
func (c *costWalker) strLen(n ast.Node) int64 {
	if l, ok := c.lens[n]; ok {
		return l
	}
	l := c.strLenOf(n)
	if c.lens == nil {
		c.lens = map[ast.Node]int64{}
	}
	c.lens[n] = l
	return l
}

func (c *costWalker) strLenOf(n ast.Node) int64 {
	switch n := n.(type) {
	case *ast.StringNode:
		return int64(len(n.Value))
	case *ast.ConstantNode:
		if v, ok := n.Value.(string); ok {
			return int64(len(v))
		}
		return unknownStrLen
	case *ast.IdentifierNode:
		if l, ok := c.vars[n.Value]; ok {
			return l
		}
	case *ast.PointerNode:
		if n.Name == "acc" && c.accStr {
			// reduce's accumulator: a string it builds could double at
			// every element.
			c.fail(errors.New("reduce cannot build a string, whose length would not be known"))
			return 0
		}
	case *ast.ConditionalNode:
		return max(c.strLen(n.Exp1), c.strLen(n.Exp2))
	case *ast.BinaryNode:
		if n.Operator == "+" && mayBeString(n) {
			return addCost(c.strLen(n.Left), c.strLen(n.Right))
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "sprintf" && len(n.Arguments) > 0 {
			return c.sprintfLen(n.Arguments[0], n.Arguments[1:])
		}
	case *ast.BuiltinNode:
		return c.builtinStrLen(n)
	}
	return unknownStrLen
}

// builtinStrLen bounds the string a builtin builds.
func (c *costWalker) builtinStrLen(n *ast.BuiltinNode) int64 {
	arg := func(i int) int64 {
		if i < len(n.Arguments) {
			return c.strLen(n.Arguments[i])
		}
		return 0
	}
	switch n.Name {
	case "repeat":
		if len(n.Arguments) != 2 {
			return unknownStrLen
		}
		count, ok := intConst(n.Arguments[1])
		if !ok {
			c.fail(errors.New("repeat's count must be an integer constant, so that its cost is known"))
			return 0
		}
		return mulCost(arg(0), max(count, 0))
	case "replace":
		// replace(s, old, new): every old, or between every byte when
		// old may be empty, becomes new.
		s, repl := arg(0), arg(2)
		if o, ok := n.Arguments[1].(*ast.StringNode); ok && o.Value != "" {
			return addCost(s, mulCost(s/int64(len(o.Value)), repl))
		}
		return addCost(s, mulCost(s+1, repl))
	case "trim", "trimPrefix", "trimSuffix":
		return arg(0)
	case "upper", "lower":
		return mulCost(arg(0), 3) // an invalid byte becomes U+FFFD
	case "toBase64":
		return arg(0)/3*4 + 4
	case "toJSON":
		if len(n.Arguments) > 0 && isString(n.Arguments[0]) {
			return mulCost(arg(0), 6) + 2 // \u0000
		}
	case "join":
		if len(n.Arguments) > 0 {
			return mulCost(c.length(n.Arguments[0]), addCost(unknownStrLen, arg(1)))
		}
	}
	return unknownStrLen
}

// sprintfLen bounds what sprintf formats: its format must be a constant,
// whose widths and precisions (%0999999d) are counted.
func (c *costWalker) sprintfLen(format ast.Node, args []ast.Node) int64 {
	f, ok := format.(*ast.StringNode)
	if !ok {
		c.fail(errors.New("sprintf's format must be a constant string, so that its cost is known"))
		return 0
	}
	l := int64(len(f.Value))
	var num int64
	for _, r := range f.Value + " " {
		if r >= '0' && r <= '9' {
			num = min(num*10+int64(r-'0'), 1<<40)
			continue
		}
		l, num = addCost(l, num), 0
	}
	for _, a := range args {
		if isString(a) {
			l = addCost(l, c.strLen(a))
		} else {
			l = addCost(l, 32) // a number, a bool
		}
	}
	return l
}
