package rules

import (
	"reflect"
	"slices"
	"unsafe"

	"github.com/expr-lang/expr/ast"

	"github.com/riskgate/riskgate/engine"
)

// This file is the rule evaluation fast path. expr's VM reads struct
// fields through reflect (FetchField: a reflect.Value per field, a type
// switch per operator), which was the largest part of evaluating the
// default rules. Most rules are conjunctions of comparisons between env
// fields and constants, so compileFast turns the type-checked expression
// of such a rule into Go closures that read the fields at their offsets
// and compare them with the constants' own types: the same language and the
// same results (TestFastMatchesVM compares the two on random
// environments), at a fraction of the cost. A rule with anything the fast
// path does not know (function calls, maps, closures, let, ...) keeps the VM.

// envValue returns env as an interface holding an engine.Env value, not a
// pointer, without copying it.
//
// Why: expr reads struct fields through reflect. From a pointer the fields
// are addressable, and reflect copies every field it hands out to the heap
// (an allocation per field read per rule); from a value it points into the
// value instead. Boxing the value the ordinary way copies the whole Env
// (about 900 bytes) to the heap on every Score, which is most of what Score
// allocates. So the interface is built by hand: its type word is
// engine.Env's and its data word points at env, exactly what boxing would
// produce had the copy been made there.
//
// This is sound because the interface never outlives the evaluation (the
// VM's stack is cleared at the start of each run, and no value read from
// it is kept: matched rules only yield bools and freshly built strings),
// and env is not modified while the rules run. The test
// TestEnvValueMatchesCopy checks the result against an ordinary copy.
func envValue(env *engine.Env) any {
	var x any
	e := (*eface)(unsafe.Pointer(&x))
	e.typ = envType
	e.data = unsafe.Pointer(env)
	return x
}

type eface struct {
	typ, data unsafe.Pointer
}

var envType = func() unsafe.Pointer {
	var x any = engine.Env{}
	return (*eface)(unsafe.Pointer(&x)).typ
}()

// envField is where a leaf of the environment lives in engine.Env.
type envField struct {
	off  uintptr
	kind reflect.Kind // Bool, Int, Float64, String, or Slice for []string
}

// envFields maps every leaf path a rule can name ("geo.new_country",
// "ip.failures_10m") to its field, resolving names the way expr does: by
// the expr tag, and through embedded structs.
var envFields = func() map[string]envField {
	m := map[string]envField{}
	var walk func(t reflect.Type, prefix string, off uintptr)
	walk = func(t reflect.Type, prefix string, off uintptr) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Tag.Get("expr")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			switch {
			case f.Anonymous && f.Type.Kind() == reflect.Struct:
				walk(f.Type, prefix, off+f.Offset)
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, prefix+name+".", off+f.Offset)
			case f.Type == reflect.TypeFor[[]string]():
				m[prefix+name] = envField{off + f.Offset, reflect.Slice}
			default:
				switch k := f.Type.Kind(); k {
				case reflect.Bool, reflect.Int, reflect.Float64, reflect.String:
					if f.Type.PkgPath() == "" { // not a named type with methods of its own
						m[prefix+name] = envField{off + f.Offset, k}
					}
				}
			}
		}
	}
	walk(reflect.TypeFor[engine.Env](), "", 0)
	return m
}()

func at[T any](e *engine.Env, off uintptr) *T { return (*T)(unsafe.Add(unsafe.Pointer(e), off)) }

// fastExpr is a compiled subexpression: exactly one of the functions is
// set, according to kind. A constant also has its value in c.
type fastExpr struct {
	kind  reflect.Kind
	b     func(*engine.Env) bool
	i     func(*engine.Env) int
	f     func(*engine.Env) float64
	s     func(*engine.Env) string
	ss    func(*engine.Env) []string
	field *envField // set when the expression is a plain field read
	c     any       // the value of a constant, else nil
	// and and or are the operands of a chain of && or of || (a && b && c
	// parses as (a && b) && c), flattened: see chain.
	and, or []func(*engine.Env) bool
}

// compileFast returns the rule condition as a closure, or nil when the
// expression uses something the fast path does not implement.
func compileFast(n ast.Node) func(*engine.Env) bool {
	x, ok := fastCompile(n)
	if !ok || x.kind != reflect.Bool {
		return nil
	}
	return x.b
}

func fastConst(v any) (fastExpr, bool) {
	switch c := v.(type) {
	case bool:
		return fastExpr{kind: reflect.Bool, b: func(*engine.Env) bool { return c }, c: c}, true
	case int:
		return fastExpr{kind: reflect.Int, i: func(*engine.Env) int { return c }, c: c}, true
	case float64:
		return fastExpr{kind: reflect.Float64, f: func(*engine.Env) float64 { return c }, c: c}, true
	case string:
		return fastExpr{kind: reflect.String, s: func(*engine.Env) string { return c }, c: c}, true
	}
	return fastExpr{}, false
}

func fastCompile(n ast.Node) (fastExpr, bool) {
	switch n := n.(type) {
	case *ast.BoolNode:
		return fastConst(n.Value)
	case *ast.IntegerNode:
		return fastConst(n.Value)
	case *ast.FloatNode:
		return fastConst(n.Value)
	case *ast.StringNode:
		return fastConst(n.Value)
	case *ast.ConstantNode:
		return fastConst(n.Value)
	case *ast.MemberNode:
		return fastMember(n)
	case *ast.UnaryNode:
		return fastUnary(n)
	case *ast.BinaryNode:
		return fastBinary(n)
	}
	return fastExpr{}, false
}

// memberPath returns "a.b.c" for a chain of plain property reads rooted
// at an identifier of the environment.
func memberPath(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		return n.Value, true
	case *ast.MemberNode:
		if n.Optional || n.Method {
			return "", false
		}
		prop, ok := n.Property.(*ast.StringNode)
		if !ok {
			return "", false
		}
		base, ok := memberPath(n.Node)
		return base + "." + prop.Value, ok
	}
	return "", false
}

func fastMember(n *ast.MemberNode) (fastExpr, bool) {
	path, ok := memberPath(n)
	if !ok {
		return fastExpr{}, false
	}
	f, ok := envFields[path]
	if !ok {
		return fastExpr{}, false
	}
	x := fastExpr{kind: f.kind, field: &f}
	off := f.off
	switch f.kind {
	case reflect.Bool:
		x.b = func(e *engine.Env) bool { return *at[bool](e, off) }
	case reflect.Int:
		x.i = func(e *engine.Env) int { return *at[int](e, off) }
	case reflect.Float64:
		x.f = func(e *engine.Env) float64 { return *at[float64](e, off) }
	case reflect.String:
		x.s = func(e *engine.Env) string { return *at[string](e, off) }
	case reflect.Slice:
		x.ss = func(e *engine.Env) []string { return *at[[]string](e, off) }
	}
	return x, true
}

func fastUnary(n *ast.UnaryNode) (fastExpr, bool) {
	x, ok := fastCompile(n.Node)
	if !ok {
		return fastExpr{}, false
	}
	switch n.Operator {
	case "!", "not":
		if x.kind != reflect.Bool {
			return fastExpr{}, false
		}
		if x.field != nil {
			off := x.field.off
			return fastExpr{kind: reflect.Bool, b: func(e *engine.Env) bool { return !*at[bool](e, off) }}, true
		}
		b := x.b
		return fastExpr{kind: reflect.Bool, b: func(e *engine.Env) bool { return !b(e) }}, true
	case "-":
		switch x.kind {
		case reflect.Int:
			i := x.i
			return fastExpr{kind: reflect.Int, i: func(e *engine.Env) int { return -i(e) }}, true
		case reflect.Float64:
			f := x.f
			return fastExpr{kind: reflect.Float64, f: func(e *engine.Env) float64 { return -f(e) }}, true
		}
	case "+":
		if x.kind == reflect.Int || x.kind == reflect.Float64 {
			return x, true
		}
	}
	return fastExpr{}, false
}

func fastBinary(n *ast.BinaryNode) (fastExpr, bool) {
	l, ok := fastCompile(n.Left)
	if !ok {
		return fastExpr{}, false
	}
	if n.Operator == "in" {
		return fastIn(l, n.Right)
	}
	r, ok := fastCompile(n.Right)
	if !ok {
		return fastExpr{}, false
	}
	switch n.Operator {
	case "&&", "and":
		if l.kind != reflect.Bool || r.kind != reflect.Bool {
			return fastExpr{}, false
		}
		and := append(operands(l, l.and), operands(r, r.and)...)
		return fastExpr{kind: reflect.Bool, b: chain(and, true), and: and}, true
	case "||", "or":
		if l.kind != reflect.Bool || r.kind != reflect.Bool {
			return fastExpr{}, false
		}
		or := append(operands(l, l.or), operands(r, r.or)...)
		return fastExpr{kind: reflect.Bool, b: chain(or, false), or: or}, true
	case "==", "!=", "<", "<=", ">", ">=":
		return fastCompare(n.Operator, l, r)
	case "+", "-", "*", "/":
		return fastArith(n.Operator, l, r)
	}
	return fastExpr{}, false
}

// operands is x's operands when x is a chain of the same operator (ops),
// else x alone.
func operands(x fastExpr, ops []func(*engine.Env) bool) []func(*engine.Env) bool {
	if ops != nil {
		return slices.Clip(ops) // appended to: each chain has its own
	}
	return []func(*engine.Env) bool{x.b}
}

// chain evaluates a flattened chain of && (all) or || (!all), left to
// right, stopping at the first operand that decides it, as nested
// closures did. Most rules are such a chain, and most of a Score's rules
// stop at their first operand: nested, that first operand was reached
// through a call per operator (a && b && c && d, three), flat in one.
func chain(ops []func(*engine.Env) bool, all bool) func(*engine.Env) bool {
	switch len(ops) {
	case 2:
		a, b := ops[0], ops[1]
		if all {
			return func(e *engine.Env) bool { return a(e) && b(e) }
		}
		return func(e *engine.Env) bool { return a(e) || b(e) }
	case 3:
		a, b, c := ops[0], ops[1], ops[2]
		if all {
			return func(e *engine.Env) bool { return a(e) && b(e) && c(e) }
		}
		return func(e *engine.Env) bool { return a(e) || b(e) || c(e) }
	case 4:
		a, b, c, d := ops[0], ops[1], ops[2], ops[3]
		if all {
			return func(e *engine.Env) bool { return a(e) && b(e) && c(e) && d(e) }
		}
		return func(e *engine.Env) bool { return a(e) || b(e) || c(e) || d(e) }
	}
	return func(e *engine.Env) bool {
		for _, f := range ops {
			if f(e) != all {
				return !all
			}
		}
		return all
	}
}

// fastIn is a string's membership in a []string field or a constant
// array, or an int's in a constant array (the optimizer turns constant
// arrays into sets).
func fastIn(l fastExpr, right ast.Node) (fastExpr, bool) {
	if c, ok := right.(*ast.ConstantNode); ok {
		switch set := c.Value.(type) {
		case map[string]struct{}:
			if l.kind == reflect.String {
				needle := l.s
				return fastExpr{kind: reflect.Bool, b: func(e *engine.Env) bool { _, ok := set[needle(e)]; return ok }}, true
			}
		case map[int]struct{}:
			if l.kind == reflect.Int {
				needle := l.i
				return fastExpr{kind: reflect.Bool, b: func(e *engine.Env) bool { _, ok := set[needle(e)]; return ok }}, true
			}
		}
		return fastExpr{}, false
	}
	if l.kind != reflect.String {
		return fastExpr{}, false
	}
	needle := l.s
	switch r := right.(type) {
	case *ast.ArrayNode:
		var vals []string
		for _, n := range r.Nodes {
			s, ok := n.(*ast.StringNode)
			if !ok {
				return fastExpr{}, false
			}
			vals = append(vals, s.Value)
		}
		return fastExpr{kind: reflect.Bool, b: func(e *engine.Env) bool { return contains(vals, needle(e)) }}, true
	}
	x, ok := fastCompile(right)
	if !ok || x.kind != reflect.Slice {
		return fastExpr{}, false
	}
	list := x.ss
	if c, ok := l.c.(string); ok {
		return fastExpr{kind: reflect.Bool, b: func(e *engine.Env) bool { return contains(list(e), c) }}, true
	}
	return fastExpr{kind: reflect.Bool, b: func(e *engine.Env) bool { return contains(list(e), needle(e)) }}, true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func numeric(k reflect.Kind) bool { return k == reflect.Int || k == reflect.Float64 }

// asFloat reads an int or float64 expression as float64, as expr does
// when the operands' types differ.
func asFloat(x fastExpr) func(*engine.Env) float64 {
	if x.kind == reflect.Float64 {
		return x.f
	}
	i := x.i
	return func(e *engine.Env) float64 { return float64(i(e)) }
}

func fastCompare(op string, l, r fastExpr) (fastExpr, bool) {
	switch {
	case l.kind == reflect.Int && r.kind == reflect.Int:
		if l.field != nil && r.c != nil {
			return fastExpr{kind: reflect.Bool, b: intFieldCmp(op, l.field.off, r.c.(int))}, true
		}
		return fastExpr{kind: reflect.Bool, b: cmpFunc(op, l.i, r.i)}, true
	case numeric(l.kind) && numeric(r.kind):
		if l.field != nil && l.kind == reflect.Float64 && r.c != nil {
			return fastExpr{kind: reflect.Bool, b: floatFieldCmp(op, l.field.off, toFloat(r.c))}, true
		}
		return fastExpr{kind: reflect.Bool, b: cmpFunc(op, asFloat(l), asFloat(r))}, true
	case l.kind == reflect.String && r.kind == reflect.String:
		return fastExpr{kind: reflect.Bool, b: cmpFunc(op, l.s, r.s)}, true
	case l.kind == reflect.Bool && r.kind == reflect.Bool && (op == "==" || op == "!="):
		a, b := l.b, r.b
		if op == "==" {
			return fastExpr{kind: reflect.Bool, b: func(e *engine.Env) bool { return a(e) == b(e) }}, true
		}
		return fastExpr{kind: reflect.Bool, b: func(e *engine.Env) bool { return a(e) != b(e) }}, true
	}
	return fastExpr{}, false
}

func toFloat(c any) float64 {
	if i, ok := c.(int); ok {
		return float64(i)
	}
	return c.(float64)
}

type ordered interface{ ~int | ~float64 | ~string }

func cmpFunc[T ordered](op string, a, b func(*engine.Env) T) func(*engine.Env) bool {
	switch op {
	case "==":
		return func(e *engine.Env) bool { return a(e) == b(e) }
	case "!=":
		return func(e *engine.Env) bool { return a(e) != b(e) }
	case "<":
		return func(e *engine.Env) bool { return a(e) < b(e) }
	case "<=":
		return func(e *engine.Env) bool { return a(e) <= b(e) }
	case ">":
		return func(e *engine.Env) bool { return a(e) > b(e) }
	}
	return func(e *engine.Env) bool { return a(e) >= b(e) }
}

// intFieldCmp and floatFieldCmp are the commonest shape of all, a field
// against a constant, in one closure.
func intFieldCmp(op string, off uintptr, c int) func(*engine.Env) bool {
	switch op {
	case "==":
		return func(e *engine.Env) bool { return *at[int](e, off) == c }
	case "!=":
		return func(e *engine.Env) bool { return *at[int](e, off) != c }
	case "<":
		return func(e *engine.Env) bool { return *at[int](e, off) < c }
	case "<=":
		return func(e *engine.Env) bool { return *at[int](e, off) <= c }
	case ">":
		return func(e *engine.Env) bool { return *at[int](e, off) > c }
	}
	return func(e *engine.Env) bool { return *at[int](e, off) >= c }
}

func floatFieldCmp(op string, off uintptr, c float64) func(*engine.Env) bool {
	switch op {
	case "==":
		return func(e *engine.Env) bool { return *at[float64](e, off) == c }
	case "!=":
		return func(e *engine.Env) bool { return *at[float64](e, off) != c }
	case "<":
		return func(e *engine.Env) bool { return *at[float64](e, off) < c }
	case "<=":
		return func(e *engine.Env) bool { return *at[float64](e, off) <= c }
	case ">":
		return func(e *engine.Env) bool { return *at[float64](e, off) > c }
	}
	return func(e *engine.Env) bool { return *at[float64](e, off) >= c }
}

// fastArith is +, -, * (int when both sides are, else float64) and /
// (always float64, as in expr).
func fastArith(op string, l, r fastExpr) (fastExpr, bool) {
	if !numeric(l.kind) || !numeric(r.kind) {
		return fastExpr{}, false
	}
	if op != "/" && l.kind == reflect.Int && r.kind == reflect.Int {
		a, b := l.i, r.i
		var f func(*engine.Env) int
		switch op {
		case "+":
			f = func(e *engine.Env) int { return a(e) + b(e) }
		case "-":
			f = func(e *engine.Env) int { return a(e) - b(e) }
		default:
			f = func(e *engine.Env) int { return a(e) * b(e) }
		}
		return fastExpr{kind: reflect.Int, i: f}, true
	}
	a, b := asFloat(l), asFloat(r)
	var f func(*engine.Env) float64
	switch op {
	case "+":
		f = func(e *engine.Env) float64 { return a(e) + b(e) }
	case "-":
		f = func(e *engine.Env) float64 { return a(e) - b(e) }
	case "*":
		f = func(e *engine.Env) float64 { return a(e) * b(e) }
	default:
		f = func(e *engine.Env) float64 { return a(e) / b(e) }
	}
	return fastExpr{kind: reflect.Float64, f: f}, true
}
