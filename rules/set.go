package rules

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/riskgate/riskgate/engine"
)

// Mode says whether a rule changes decisions.
type Mode uint8

// Modes.
const (
	Enforce Mode = iota
	Shadow
)

func (m Mode) String() string {
	if m == Shadow {
		return "shadow"
	}
	return "enforce"
}

func parseMode(s string) (Mode, error) {
	switch s {
	case "enforce":
		return Enforce, nil
	case "shadow":
		return Shadow, nil
	}
	return 0, fmt.Errorf("unknown mode %q (want enforce or shadow)", s)
}

// Rule is one compiled rule.
type Rule struct {
	ID          string
	Description string
	When        string
	Action      engine.Action
	Score       int
	Mode        Mode
	Alert       bool
	// Notify is the notification kind the rule gives a decision
	// ("new_device"); empty when it gives none.
	Notify string
	Tags   []string
	// Locked says that no tenant overlay may disable or replace the rule
	// (locked: true in a shared rule file; docs/tenants.md).
	Locked bool
	File   string
	Line   int
	// Cost is the estimated steps of one evaluation (cost.go).
	Cost int64

	when   *vm.Program
	fast   func(*engine.Env) bool // when as Go closures (box.go); nil: run when on the VM
	reason *vm.Program            // optional: a string expression for the message
}

// Thresholds turn the summed score into an action.
type Thresholds struct {
	StepUp int
	Deny   int
}

// DefaultThresholds are the thresholds of a ruleset whose files set none
// (or set one of the two): step_up from 40, deny from 90, those of the
// built-in rules (rules/default.yaml), which docs/rules-reference.md
// documents.
func DefaultThresholds() Thresholds { return defaultThresholds }

var defaultThresholds = Thresholds{StepUp: 40, Deny: 90}

// MaxScore caps the summed score.
const MaxScore = 100

// Set is a compiled ruleset. It is immutable and safe for concurrent use.
type Set struct {
	rules []Rule
	// conds are the rules' fast-path conditions in rule order, and
	// onVM has the bits of the rules the VM runs; set with rules
	// (withConds). See Evaluate.
	conds      []func(*engine.Env) bool
	onVM       ruleBits
	thresholds Thresholds
	version    string
	vms        sync.Pool // *vm.VM
}

var _ engine.Ruleset = (*Set)(nil)

// compile options shared by every rule: typed against engine.Env so that a
// misspelt field or a string compared to a number fails at load, not at the
// first login that reaches the rule.
// now() is disabled because a rule must decide the same way in a replay as
// it did live: rules read the attempt's own time (attempt.hour).
func exprOptions(extra ...expr.Option) []expr.Option {
	opts := append([]expr.Option{
		expr.Env(engine.Env{}),
		expr.Optimize(true),
		expr.DisableBuiltin("now"),
	}, functionOptions()...)
	return append(opts, extra...)
}

// Compile builds a Set from sources. Every problem in every file is
// reported, each an *Error with its file and line; nothing is returned
// unless all compile. The set's version is derived from the sources'
// content alone, so the same rules have the same version wherever they
// were loaded from.
func Compile(srcs ...Source) (*Set, error) {
	var errs ErrorList
	s := &Set{thresholds: defaultThresholds}
	seen := map[string]string{}
	var thresholdsFrom string
	var thresholdsLine int
	label, labelFrom := "", ""
	x := newExprCompiler()
	for _, src := range srcs {
		doc, perrs := parse(src)
		errs = append(errs, perrs...)
		if doc == nil {
			continue
		}
		label, labelFrom = labelOf(src, doc, label, labelFrom, &errs)
		if t := doc.Thresholds; t != nil {
			if thresholdsFrom != "" {
				errs = append(errs, fileError(src.Name, t.line, "thresholds", "thresholds already set in %s:%d", thresholdsFrom, thresholdsLine))
			}
			thresholdsFrom, thresholdsLine = src.Name, t.line
			if t.StepUp != nil {
				s.thresholds.StepUp = *t.StepUp
			}
			if t.Deny != nil {
				s.thresholds.Deny = *t.Deny
			}
		}
		defMode := Enforce
		if doc.Settings.DefaultMode != "" {
			m, err := parseMode(doc.Settings.DefaultMode)
			if err != nil {
				errs = append(errs, fileError(src.Name, 0, "settings.default_mode", "settings.default_mode: %v", err))
			}
			defMode = m
		}
		if len(doc.Rules) == 0 {
			errs = append(errs, fileError(src.Name, 0, "rules", "no rules"))
		}
		if len(doc.Disable) > 0 {
			errs = append(errs, fileError(src.Name, doc.Disable[0].Line, "disable", "disable: only a tenant overlay disables rules; remove the rule from the shared set instead"))
		}
		for i := range doc.Rules {
			r, rerrs := compileRule(x, src.Name, &doc.Rules[i], defMode)
			if d := &doc.Rules[i]; d.broken != nil {
				errs = append(errs, d.otherErrors(rerrs)...) // its decode errors are in perrs
				continue
			}
			if rerrs != nil {
				errs = append(errs, rerrs...)
				continue
			}
			if prev, dup := seen[r.ID]; dup {
				errs = append(errs, &Error{File: src.Name, Line: r.Line, Rule: r.ID, Field: "id", Err: fmt.Errorf("duplicate id, first defined at %s", prev)})
				continue
			}
			seen[r.ID] = fmt.Sprintf("%s:%d", src.Name, r.Line)
			s.rules = append(s.rules, r)
		}
	}
	if err := setCost(s.rules); err != nil {
		errs = append(errs, err)
	}
	th := s.thresholds
	if th.StepUp <= 0 || th.Deny <= 0 || th.StepUp > th.Deny || th.Deny > MaxScore {
		errs = append(errs, fileError(orDefault(thresholdsFrom), thresholdsLine, "thresholds", "thresholds: want 0 < step_up <= deny <= %d, got step_up %d, deny %d", MaxScore, th.StepUp, th.Deny))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	s.version = version(label, srcs)
	s.vms.New = func() any { return new(vm.VM) }
	return s.withConds(), nil
}

// version identifies a ruleset by its content: a hash of the files' bytes
// in load order, and not of their names, so that the same rules embedded,
// copied to a folder or put through the API have the same version, and
// any edit gives a new one. The files' version: label, when they set one,
// stays in front for people: "strict-2026-05@sha256:8a44967283eb".
func version(label string, srcs []Source) string {
	h := sha256.New()
	var n [8]byte
	for _, src := range srcs {
		binary.BigEndian.PutUint64(n[:], uint64(len(src.Data)))
		h.Write(n[:])
		h.Write(src.Data)
	}
	v := "sha256:" + hex.EncodeToString(h.Sum(nil))[:12]
	if label != "" {
		v = label + "@" + v
	}
	return v
}

func orDefault(name string) string {
	if name == "" {
		return "(defaults)"
	}
	return name
}

func compileRule(x *exprCompiler, name string, d *ruleDoc, defMode Mode) (Rule, ErrorList) {
	var errs ErrorList
	at := func(line int, field, format string, args ...any) {
		errs = append(errs, &Error{File: name, Line: line, Rule: d.ID, Field: field, Err: fmt.Errorf(format, args...)})
	}
	r := Rule{ID: d.ID, Description: strings.TrimSpace(d.Description), Score: d.Score, Alert: d.Alert, Notify: d.Notify, Tags: d.Tags, Locked: d.Locked, File: name, Line: d.line, Mode: defMode}
	if !validID(d.ID) {
		at(d.lineOf("id"), "id", "id %q: want 1-64 characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit", d.ID)
	}
	if r.Description == "" {
		at(d.lineOf("description"), "description", "description: required: it is the sentence the decision gives as the reason")
	}
	actionErr := false
	var err error
	if r.Action, err = parseAction(d.Action); err != nil {
		at(d.lineOf("action"), "action", "action: %v", err)
		actionErr = true
	}
	if d.Mode != "" {
		if r.Mode, err = parseMode(d.Mode); err != nil {
			at(d.lineOf("mode"), "mode", "mode: %v", err)
		}
	}
	if d.Score < -MaxScore || d.Score > MaxScore {
		at(d.lineOf("score"), "score", "score %d out of range [-%d, %d]", d.Score, MaxScore, MaxScore)
	}
	if d.Notify != "" && !validNotify(d.Notify) {
		at(d.lineOf("notify"), "notify", "notify %q: want a notification kind of 1-32 characters of a-z, 0-9 and '_', starting with a letter (new_device, new_country)", d.Notify)
	}
	if r.Action == engine.ActionNone && !actionErr && d.Score == 0 && d.Notify == "" {
		at(d.line, "", "neither an action, a score nor a notify: the rule could never change anything")
	}
	if d.When.Kind == 0 || strings.TrimSpace(d.When.Value) == "" {
		at(d.line, "when", "when: required")
	} else if d.When.Kind != yaml.ScalarNode {
		at(d.When.Line, "when", "when: want an expression string")
	} else {
		r.When = d.When.Value
		if r.when, err = x.compile(r.When, reflect.Bool); err != nil {
			at(exprLine(&d.When, err), "when", "when: %v", explain(err, r.When))
		} else if r.Cost, err = ruleCost("when", r.when.Node(), 0); err != nil {
			at(d.When.Line, "when", "%v", err)
		} else {
			r.fast = compileFast(r.when.Node())
		}
	}
	if d.Reason.Kind != 0 {
		if d.Reason.Kind != yaml.ScalarNode {
			at(d.Reason.Line, "reason", "reason: want an expression string")
		} else if r.reason, err = x.compile(d.Reason.Value, reflect.String); err != nil {
			at(exprLine(&d.Reason, err), "reason", "reason: %v", explain(err, d.Reason.Value))
		} else if r.Cost, err = ruleCost("reason", r.reason.Node(), r.Cost); err != nil {
			at(d.Reason.Line, "reason", "%v", err)
		}
	}
	for _, t := range d.Tags {
		if !validID(t) {
			at(d.lineOf("tags"), "tags", "tag %q: want a-z, 0-9, '-', '_' or '.'", t)
		}
	}
	return r, errs
}

// exprLine maps an expr error's line inside the expression to the file.
func exprLine(n *yaml.Node, err error) int {
	var fe *file.Error
	if !errors.As(err, &fe) || fe.Line < 1 {
		return n.Line
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Line + fe.Line // block scalars start on the next line
	}
	return n.Line + fe.Line - 1
}

// Version identifies the set by its content: "sha256:" and a hash of the
// files' bytes, behind the files' version: label when they set one
// ("strict-2026-05@sha256:8a44967283eb").
func (s *Set) Version() string { return s.version }

// Rules returns the compiled rules in evaluation order.
func (s *Set) Rules() []Rule { return s.rules }

// Thresholds returns the score thresholds.
func (s *Set) Thresholds() Thresholds { return s.thresholds }

// Current makes a Set its own engine.Rules, for callers that never reload.
func (s *Set) Current() engine.Ruleset { return s }

// Evaluate implements engine.Ruleset. The VM is reused, and the environment
// is handed to expr without copying it (see envValue), so that evaluating
// the rules allocates nothing but the reasons it returns.
//
// The fast rules' conditions run first, in a loop of their own that keeps
// little live across their calls, and only the rules that matched, and
// those the VM runs, are visited after, in rule order. Visiting every
// rule in one loop with all the verdict's state live cost as much again
// as the conditions: each value was reloaded after each call (Go's
// calling convention saves no register), and most of a Score's rules are
// a call that answers false. The conditions read env only, which no rule
// changes, so running them ahead of the VM's rules answers the same. A
// set of more rules than ruleBits holds (an overlay's hundreds) takes
// every rule in turn instead.
func (s *Set) Evaluate(env *engine.Env, v *engine.Verdict) {
	ev := evaluation{s: s, box: envValue(env), action: engine.ActionNone}
	if len(s.conds) == len(s.rules) && len(s.rules) <= len(ruleBits{})*64 {
		todo := s.onVM
		for i, f := range s.conds {
			if f != nil && f(env) {
				todo[i>>6] |= 1 << (i & 63)
			}
		}
		for w, b := range todo {
			for ; b != 0; b &= b - 1 {
				ev.rule(v, &s.rules[w<<6|bits.TrailingZeros64(b)], true)
			}
		}
	} else {
		for i := range s.rules {
			r := &s.rules[i]
			ev.rule(v, r, r.fast != nil && r.fast(env))
		}
	}
	ev.finish(v)
}

// ruleBits has a bit for each of a set's rules, by index.
type ruleBits [4]uint64

// evaluation is the state of one Evaluate, but for the verdict, which
// its methods take apart: escape analysis does not tell fields apart, and
// the set and the VM's environment leak to the heap (the pool, the VM),
// which the caller's verdict would have followed.
type evaluation struct {
	s      *Set
	box    any
	m      *vm.VM // taken from the pool only for a rule the fast path cannot run
	score  int
	action engine.Action
}

// rule applies r: a fast rule as matched says, a rule on the VM as the VM
// answers.
func (ev *evaluation) rule(v *engine.Verdict, r *Rule, matched bool) {
	if r.fast == nil {
		if ev.m == nil {
			ev.m = ev.s.vms.Get().(*vm.VM)
		}
		out, err := ev.m.Run(r.when, ev.box)
		if err != nil {
			v.Errors = append(v.Errors, engine.RuleError{RuleID: r.ID, Err: runtimeError("when", err)})
			return
		}
		matched, _ = out.(bool)
	}
	if !matched {
		return
	}
	reason := engine.Reason{RuleID: r.ID, Action: r.Action, Score: r.Score, Message: r.Description, Tags: r.Tags, Alert: r.Alert, Notify: r.Notify}
	if r.reason != nil {
		if ev.m == nil {
			ev.m = ev.s.vms.Get().(*vm.VM)
		}
		if msg, err := ev.m.Run(r.reason, ev.box); err != nil {
			v.Errors = append(v.Errors, engine.RuleError{RuleID: r.ID, Err: runtimeError("reason", err)})
		} else if str, _ := msg.(string); str != "" {
			reason.Message = str
		}
	}
	if r.Mode == Shadow {
		if v.Shadow == nil {
			v.Shadow = make([]engine.Reason, 0, 4)
		}
		v.Shadow = append(v.Shadow, reason)
		return
	}
	if v.Reasons == nil {
		v.Reasons = make([]engine.Reason, 0, 4)
	}
	v.Reasons = append(v.Reasons, reason)
	ev.score += r.Score
	ev.action = ev.action.Stronger(r.Action)
	v.Alert = v.Alert || r.Alert
	if r.Notify != "" && !slices.Contains(v.Notify, r.Notify) {
		v.Notify = append(v.Notify, r.Notify)
	}
}

// finish returns the VM and sets the verdict's score and action.
func (ev *evaluation) finish(v *engine.Verdict) {
	s := ev.s
	if ev.m != nil {
		s.vms.Put(ev.m)
	}
	score, action := min(max(ev.score, 0), MaxScore), ev.action
	switch {
	case score >= s.thresholds.Deny:
		action = action.Stronger(engine.ActionDeny)
	case score >= s.thresholds.StepUp:
		action = action.Stronger(engine.ActionStepUp)
	}
	v.Score, v.Action = score, action
}

// withConds sets s.conds and s.onVM from s.rules, and returns s.
func (s *Set) withConds() *Set {
	s.conds = make([]func(*engine.Env) bool, len(s.rules))
	s.onVM = ruleBits{}
	for i := range s.rules {
		s.conds[i] = s.rules[i].fast
		if s.conds[i] == nil && i < len(s.onVM)*64 {
			s.onVM[i>>6] |= 1 << (i & 63)
		}
	}
	return s
}
