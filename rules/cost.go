package rules

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/expr-lang/expr/ast"

	"github.com/riskgate/riskgate/engine"
)

// The cost bound. A rule runs on every login, so a rule that loops over a
// large range (all(1..999, {all(1..999, {...})}) is a million steps) would
// take scoring down for everyone. Compile estimates each expression's cost
// from its syntax tree, before it is handed to the fast path (box.go) or
// the VM, so the bound covers both: a step is one node evaluated, and a
// predicate (all, any, map, filter, ...) costs its collection's length
// times its body. A built string (repeat, replace, +, join, sprintf)
// costs a step per bytesPerStep of the length it may reach, so repeat's
// count and sprintf's format must be constants and reduce cannot build a
// string. A range's bounds must be constants so that its length is
// known; a collection from the attempt (attributes, lists) is bounded by
// what an attempt may carry. A step took about 45 ns on the VM on the
// reference machine (2 cores), so MaxRuleCost is about 0.1 ms per login
// and MaxSetCost about 0.5 ms; the default rules take about 600 steps in
// all, none over 50.
const (
	// MaxRuleCost is the most steps one rule's expressions may take.
	MaxRuleCost = 2_000
	// MaxSetCost is the most steps a whole ruleset may take per login.
	MaxSetCost = 10_000
	// maxRangeLen is the longest range a rule may build.
	maxRangeLen = 10_000
	// unknownLen bounds a collection read from the attempt or the signals.
	unknownLen = engine.MaxAttributes
	// unknownStrLen bounds a string read from the attempt or the signals:
	// the longest an attempt may carry (the user agent).
	unknownStrLen = engine.MaxUserAgentLen
	// bytesPerStep is the string a step may build: a built string (repeat,
	// replace, +, join, sprintf, ...) costs its length over this, so that
	// repeat(attempt.user_agent, 100000), 100 MB a login, is refused.
	bytesPerStep = 256
)

// exprCost estimates the steps evaluating n takes, or fails naming what
// cannot be bounded.
func exprCost(n ast.Node) (int64, error) {
	var c costWalker
	cost := c.cost(n)
	if c.err != nil {
		return 0, c.err
	}
	return cost, nil
}

type costWalker struct {
	err error
	// vars are the bounds on the lengths of the strings let declares.
	vars map[string]int64
	// accStr is set in the body of a reduce whose #acc may be a string.
	accStr bool
	lens   map[ast.Node]int64
}

func (c *costWalker) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// predicates are the builtins that evaluate a closure per element.
var predicates = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"count": true, "sum": true, "find": true, "findIndex": true, "findLast": true,
	"findLastIndex": true, "groupBy": true, "sortBy": true, "reduce": true,
}

// saturating arithmetic: a nest of loops must not overflow into a small cost.
func addCost(a, b int64) int64 { return min(a+b, 1<<50) }
func mulCost(a, b int64) int64 {
	if a != 0 && b > (1<<50)/a {
		return 1 << 50
	}
	return a * b
}

func (c *costWalker) cost(n ast.Node) int64 {
	if n == nil || c.err != nil {
		return 0
	}
	total := c.nodeCost(n)
	if builds(n) {
		total = addCost(total, c.strLen(n)/bytesPerStep)
	}
	return total
}

func (c *costWalker) nodeCost(n ast.Node) int64 {
	switch n := n.(type) {
	case *ast.VariableDeclaratorNode:
		total := addCost(1, c.cost(n.Value))
		if isString(n.Value) {
			old, had := c.vars[n.Name]
			if c.vars == nil {
				c.vars = map[string]int64{}
			}
			c.vars[n.Name] = c.strLen(n.Value)
			defer func() {
				if had {
					c.vars[n.Name] = old
				} else {
					delete(c.vars, n.Name)
				}
			}()
		}
		return addCost(total, c.cost(n.Expr))
	case *ast.BuiltinNode:
		if predicates[n.Name] && len(n.Arguments) >= 2 {
			if n.Name == "reduce" {
				defer func(was bool) { c.accStr = was }(c.accStr)
				c.accStr = accMayBeString(n.Arguments)
			}
			total := addCost(c.cost(n.Arguments[0]), 1)
			body := int64(1)
			for _, a := range n.Arguments[1:] {
				body = addCost(body, c.cost(a))
			}
			return addCost(total, mulCost(c.length(n.Arguments[0]), body))
		}
		total := int64(1)
		for _, a := range n.Arguments {
			total = addCost(total, c.cost(a))
			// sort, uniq, join, concat, ...: a pass over the collection.
			if isCollection(a) {
				total = addCost(total, c.length(a))
			}
		}
		return total
	case *ast.BinaryNode:
		total := addCost(addCost(1, c.cost(n.Left)), c.cost(n.Right))
		if n.Operator == ".." {
			total = addCost(total, c.length(n)) // builds the list
		}
		return total
	}
	total := int64(1)
	for _, ch := range children(n) {
		total = addCost(total, c.cost(ch))
	}
	return total
}

func isCollection(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.ArrayNode:
		return true
	case *ast.BinaryNode:
		return n.Operator == ".."
	case *ast.BuiltinNode:
		return n.Name == "filter" || n.Name == "map"
	}
	return false
}

// length bounds the number of elements of a collection expression.
func (c *costWalker) length(n ast.Node) int64 {
	switch n := n.(type) {
	case *ast.ArrayNode:
		return int64(len(n.Nodes))
	case *ast.ConstantNode:
		v := reflect.ValueOf(n.Value)
		switch v.Kind() {
		case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
			return int64(v.Len())
		}
		return 1
	case *ast.BinaryNode:
		if n.Operator != ".." {
			return unknownLen
		}
		lo, ok1 := intConst(n.Left)
		hi, ok2 := intConst(n.Right)
		if !ok1 || !ok2 {
			if c.err == nil {
				c.err = errors.New("a range's bounds must be integer constants, so that its cost is known")
			}
			return 0
		}
		l := max(hi-lo+1, 0)
		if l > maxRangeLen && c.err == nil {
			c.err = fmt.Errorf("range %d..%d has %d elements, more than %d", lo, hi, l, maxRangeLen)
		}
		return l
	case *ast.BuiltinNode:
		switch n.Name {
		case "filter", "map", "sortBy", "sort", "uniq", "reverse", "keys", "values", "toPairs":
			if len(n.Arguments) > 0 {
				return c.length(n.Arguments[0])
			}
		case "split", "splitAfter":
			if len(n.Arguments) > 0 {
				return c.strLen(n.Arguments[0]) + 1
			}
		case "concat":
			var l int64
			for _, a := range n.Arguments {
				l = addCost(l, c.length(a))
			}
			return l
		}
	}
	return unknownLen
}

func intConst(n ast.Node) (int64, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return int64(n.Value), true
	case *ast.ConstantNode:
		if v, ok := n.Value.(int); ok {
			return int64(v), true
		}
	case *ast.UnaryNode:
		if v, ok := intConst(n.Node); ok && n.Operator == "-" {
			return -v, true
		}
	}
	return 0, false
}

// children returns the direct subexpressions of n.
func children(n ast.Node) []ast.Node {
	switch n := n.(type) {
	case *ast.UnaryNode:
		return []ast.Node{n.Node}
	case *ast.ChainNode:
		return []ast.Node{n.Node}
	case *ast.MemberNode:
		return []ast.Node{n.Node, n.Property}
	case *ast.SliceNode:
		return []ast.Node{n.Node, n.From, n.To}
	case *ast.CallNode:
		return append([]ast.Node{n.Callee}, n.Arguments...)
	case *ast.PredicateNode:
		return []ast.Node{n.Node}
	case *ast.ConditionalNode:
		return []ast.Node{n.Cond, n.Exp1, n.Exp2}
	case *ast.VariableDeclaratorNode:
		return []ast.Node{n.Value, n.Expr}
	case *ast.SequenceNode:
		return n.Nodes
	case *ast.ArrayNode:
		return n.Nodes
	case *ast.MapNode:
		return n.Pairs
	case *ast.PairNode:
		return []ast.Node{n.Key, n.Value}
	}
	return nil
}

// ruleCost adds the cost of a rule's expression (field: when or reason) to
// the rule's cost so far, and refuses a rule over MaxRuleCost.
func ruleCost(field string, n ast.Node, sofar int64) (int64, error) {
	c, err := exprCost(n)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	total := addCost(sofar, c)
	if total > MaxRuleCost {
		return 0, fmt.Errorf("%s: too costly: about %d steps per login, more than %d (a predicate such as all, any, map or filter costs its collection's length times its body; a string built by repeat, replace, + or sprintf, a step per %d bytes)", field, total, MaxRuleCost, bytesPerStep)
	}
	return total, nil
}

// setCost refuses a ruleset whose rules together are over MaxSetCost,
// naming the costliest.
func setCost(rs []Rule) *Error {
	var total int64
	top := -1
	for i := range rs {
		total = addCost(total, rs[i].Cost)
		if top < 0 || rs[i].Cost > rs[top].Cost {
			top = i
		}
	}
	if total <= MaxSetCost {
		return nil
	}
	r := &rs[top]
	return &Error{File: r.File, Line: r.Line, Rule: r.ID, Field: "when", Err: fmt.Errorf(
		"the ruleset is too costly: about %d steps per login, more than %d; the costliest rule is %q (about %d steps)", total, MaxSetCost, r.ID, r.Cost)}
}
