package rules

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

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

// RuleCost is what one rule costs: the estimate Compile bounds, and the
// time one evaluation took when the set was measured.
type RuleCost struct {
	RuleID   string
	Steps    int64         // the estimate (see MaxRuleCost)
	Measured time.Duration // per evaluation, on an empty environment
	// Failed is the rule's failure at run time on the empty environment
	// (a *RuntimeError), nil when it ran: a rule that fails there fails on
	// every login without the fields it reads, counted as not matched,
	// and its Measured is its failure's.
	Failed error
}

// Measure runs every rule on an empty environment and returns the rules'
// costs, the slowest first. Each rule runs for about perRule (at least
// once), so measuring a set of n rules takes about n×perRule.
func (s *Set) Measure(perRule time.Duration) []RuleCost {
	var env engine.Env
	box := envValue(&env)
	m := s.vms.Get().(*vm.VM)
	defer s.vms.Put(m)
	failed := s.runEmpty(m, &env, box) // also a warm-up: the first runs fill caches
	costs := make([]RuleCost, 0, len(s.rules))
	for i := range s.rules {
		r := &s.rules[i]
		start := time.Now()
		n := 0
		for {
			if r.fast != nil {
				r.fast(&env)
			} else {
				_, _ = m.Run(r.when, box)
			}
			n++
			if n >= 1000 || n%16 == 0 && time.Since(start) >= perRule {
				break
			}
		}
		costs = append(costs, RuleCost{RuleID: r.ID, Steps: r.Cost, Measured: time.Since(start) / time.Duration(n), Failed: failed[i]})
	}
	slices.SortStableFunc(costs, func(a, b RuleCost) int { return int(b.Measured - a.Measured) })
	return costs
}

// runEmpty runs every rule's when once on the empty environment env
// (box) and returns each one's failure, nil where it ran.
func (s *Set) runEmpty(m *vm.VM, env *engine.Env, box any) []error {
	failed := make([]error, len(s.rules))
	for i := range s.rules {
		if r := &s.rules[i]; r.fast != nil {
			r.fast(env)
		} else if _, err := m.Run(r.when, box); err != nil {
			failed[i] = runtimeError("when", err)
		}
	}
	return failed
}

// FailingOnEmpty returns the rules that fail at run time on an empty
// attempt, with their failure (RuleCost.Failed; nothing measured), in the
// set's order: each one run once, so cheaply enough to check every
// tenant's overlay.
func (s *Set) FailingOnEmpty() []RuleCost {
	var env engine.Env
	m := s.vms.Get().(*vm.VM)
	defer s.vms.Put(m)
	var out []RuleCost
	for i, err := range s.runEmpty(m, &env, envValue(&env)) {
		if err != nil {
			out = append(out, RuleCost{RuleID: s.rules[i].ID, Steps: s.rules[i].Cost, Failed: err})
		}
	}
	return out
}

// WriteFailing warns, one line each, of the rules of costs that failed at
// run time on the empty attempt (of those named in only, when it is not
// nil), about being what the warnings are about ("tenant acme: ", or
// ""): such a rule fails on every login that lacks what it reads (an
// attribute, a list entry) and counts as not matched, which rules check
// would otherwise pass without a word.
func WriteFailing(w io.Writer, about string, costs []RuleCost, only map[string]bool) {
	for _, c := range costs {
		if c.Failed != nil && (only == nil || only[c.RuleID]) {
			fmt.Fprintf(w, "warning: %srule %q fails at run time on an empty attempt (%v): it fails so on every login without what it reads, and counts as not matched there; guard the expression (rules check --scenarios or --in says on how many logins)\n", about, c.RuleID, c.Failed)
		}
	}
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

// slowestRules names the n slowest rules of a set, for the log line of a
// ruleset put in force: "country-hop 108ns, new-country 54ns". It is a
// slog.LogValuer because measuring takes about 50µs a rule (some 1.5ms
// for the default set, on the path of every install and of the start):
// the set is measured only when the line is written, not at all under
// --log-level warn.
type slowestRules struct {
	set *Set
	n   int
}

func (s slowestRules) LogValue() slog.Value {
	costs := s.set.Measure(50 * time.Microsecond)
	var b strings.Builder
	for i, c := range costs[:min(s.n, len(costs))] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %v", c.RuleID, c.Measured)
	}
	return slog.StringValue(b.String())
}
