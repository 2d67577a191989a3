package rules

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// An Overlay is one tenant's rules layered on the shared ruleset: rules of
// its own, shared rules it disables by id, and thresholds of its own. Its
// files have the shared files' format, plus a disable: list:
//
//	version: acme-2026-06          # optional label
//	thresholds: {step_up: 30, deny: 70}
//	disable: [new-device-new-country]
//	rules:
//	  - id: acme-contractors
//	    description: Contractor accounts log in from the office only.
//	    when: attempt.attributes["role"] == "contractor" && !ip.in_list["office"]
//	    action: deny
//
// An overlay rule with a shared rule's id replaces that rule for the
// tenant. An overlay is versioned on its own ("tenant:acme@sha256:…"), and
// the ruleset a tenant's logins are decided by names both: "<shared
// version> + tenant:acme@sha256:…". It is immutable.
type Overlay struct {
	tenant     string
	version    string
	rules      []Rule
	disable    []disabled
	thresholds *Thresholds
}

type disabled struct {
	id, file string
	line     int
}

// CompileOverlay compiles a tenant's overlay files. Like Compile, every
// problem of every file is reported, each an *Error, and nothing is
// returned unless all compile. Unlike a shared ruleset, an overlay may hold
// no rules (only thresholds, or only disabled rules), and when it sets
// thresholds it sets both.
func CompileOverlay(tenant string, srcs ...Source) (*Overlay, error) {
	if !ValidTenant(tenant) {
		return nil, fmt.Errorf("%w: tenant %.80q: want 1-64 letters, digits, '-', '_' or '.', not starting with '.'", ErrInvalid, tenant)
	}
	var errs ErrorList
	o := &Overlay{tenant: tenant}
	seen := map[string]string{}
	disabledAt := map[string]string{}
	var thresholdsFrom, label, labelFrom string
	var thresholdsLine int
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
			if t.StepUp == nil || t.Deny == nil {
				errs = append(errs, fileError(src.Name, t.line, "thresholds", "thresholds: a tenant overlay sets both step_up and deny"))
			} else if *t.StepUp <= 0 || *t.StepUp > *t.Deny || *t.Deny > MaxScore {
				errs = append(errs, fileError(src.Name, t.line, "thresholds", "thresholds: want 0 < step_up <= deny <= %d, got step_up %d, deny %d", MaxScore, *t.StepUp, *t.Deny))
			} else {
				o.thresholds = &Thresholds{StepUp: *t.StepUp, Deny: *t.Deny}
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
		for _, n := range doc.Disable {
			if n.Kind != yaml.ScalarNode || !validID(n.Value) {
				errs = append(errs, fileError(src.Name, n.Line, "disable", "disable: want rule ids, got %.64q", n.Value))
				continue
			}
			if prev, dup := disabledAt[n.Value]; dup {
				errs = append(errs, fileError(src.Name, n.Line, "disable", "disable: %q already disabled at %s", n.Value, prev))
				continue
			}
			disabledAt[n.Value] = fmt.Sprintf("%s:%d", src.Name, n.Line)
			o.disable = append(o.disable, disabled{id: n.Value, file: src.Name, line: n.Line})
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
			if r.Locked {
				// A lock binds the tenants; nothing is layered on an
				// overlay for it to bind.
				errs = append(errs, &Error{File: src.Name, Line: doc.Rules[i].lineOf("locked"), Rule: r.ID, Field: "locked", Err: errors.New("locked: only a shared rule is locked (against the tenants' overlays); an overlay's rules are its tenant's own: remove it")})
				continue
			}
			if prev, dup := seen[r.ID]; dup {
				errs = append(errs, &Error{File: src.Name, Line: r.Line, Rule: r.ID, Field: "id", Err: fmt.Errorf("duplicate id, first defined at %s", prev)})
				continue
			}
			seen[r.ID] = fmt.Sprintf("%s:%d", src.Name, r.Line)
			o.rules = append(o.rules, r)
		}
	}
	// An overlay's own rules are bounded as a ruleset's are, whatever the
	// shared set: the tenant's logins run them all (Check bounds them with
	// the shared rules).
	if len(errs) == 0 {
		if err := setCost(o.rules); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	o.version = "tenant:" + tenant + "@" + version(label, srcs)
	return o, nil
}

// Tenant is the overlay's tenant.
func (o *Overlay) Tenant() string { return o.tenant }

// Version identifies the overlay by its content:
// "tenant:acme@sha256:…", or "tenant:acme@label@sha256:…" when its files
// set a version: label.
func (o *Overlay) Version() string { return o.version }

// Rules returns the overlay's own rules.
func (o *Overlay) Rules() []Rule { return o.rules }

// Disabled returns the ids of the shared rules the overlay disables.
func (o *Overlay) Disabled() []string {
	ids := make([]string, len(o.disable))
	for i, d := range o.disable {
		ids[i] = d.id
	}
	return ids
}

// Thresholds returns the overlay's thresholds, if it sets them.
func (o *Overlay) Thresholds() (Thresholds, bool) {
	if o.thresholds == nil {
		return Thresholds{}, false
	}
	return *o.thresholds, true
}

// Check reports what of the overlay does not fit the shared set: a
// disabled id the shared set does not have (a typo, or a rule since
// removed), and a tenant's ruleset (the shared rules with the overlay's)
// over MaxSetCost, which every login of the tenant would run. A put
// refuses such an overlay; a load keeps it and logs the problems, so that
// a change of the shared rules never breaks a tenant.
func (o *Overlay) Check(shared *Set) ErrorList {
	ids := make(map[string]bool, len(shared.rules))
	for _, r := range shared.rules {
		ids[r.ID] = true
	}
	var errs ErrorList
	for _, d := range o.disable {
		if !ids[d.id] {
			errs = append(errs, &Error{File: d.file, Line: d.line, Field: "disable", Err: fmt.Errorf("disable: the shared ruleset %s has no rule %q%s", shared.version, d.id, suggestRule(d.id, shared))})
		}
	}
	if err := o.composedCost(shared); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// Locked reports what of the overlay overrides a rule the shared set
// locks (locked: true): a disable: of it, or a rule of the overlay with
// its id, which would replace it. Each names the overlay's file and line,
// the tenant and the rule. Unlike Check's problems, these are never only
// logged: an overlay with any is refused wherever it is read (a start, a
// reload, a put, rules check), and one in force when the shared set comes
// to lock the rule is layered without its override (Compose) and its
// tenant reported rejected until the overlay is fixed.
func (o *Overlay) Locked(shared *Set) ErrorList {
	var locked map[string]bool
	for _, r := range shared.rules {
		if r.Locked {
			if locked == nil {
				locked = map[string]bool{}
			}
			locked[r.ID] = true
		}
	}
	if locked == nil {
		return nil
	}
	var errs ErrorList
	for _, d := range o.disable {
		if locked[d.id] {
			errs = append(errs, &Error{File: d.file, Line: d.line, Rule: d.id, Field: "disable", Err: fmt.Errorf("disable: tenant %s cannot disable a locked rule: the shared ruleset %s locks it (locked: true)", o.tenant, shared.version)})
		}
	}
	for _, r := range o.rules {
		if locked[r.ID] {
			errs = append(errs, &Error{File: r.File, Line: r.Line, Rule: r.ID, Field: "id", Err: fmt.Errorf("id: tenant %s cannot replace a locked rule: the shared ruleset %s locks it (locked: true); give the tenant's rule an id of its own", o.tenant, shared.version)})
		}
	}
	return errs
}

// composedCost refuses a tenant's ruleset over MaxSetCost, naming the
// overlay's costliest rule: the shared rules are not the tenant's to
// change.
func (o *Overlay) composedCost(shared *Set) *Error {
	var total int64
	for _, r := range Compose(shared, o).rules {
		total = addCost(total, r.Cost)
	}
	if total <= MaxSetCost || len(o.rules) == 0 {
		return nil
	}
	top := 0
	for i := range o.rules {
		if o.rules[i].Cost > o.rules[top].Cost {
			top = i
		}
	}
	r := &o.rules[top]
	return &Error{File: r.File, Line: r.Line, Rule: r.ID, Field: "when", Err: fmt.Errorf(
		"the tenant's ruleset (the shared rules with this overlay's) is too costly: about %d steps per login, more than %d; the overlay's costliest rule is %q (about %d steps)", total, MaxSetCost, r.ID, r.Cost)}
}

// suggestRule is ` (did you mean "x"?)` for the shared rule id nearest to
// id, when one is near.
func suggestRule(id string, shared *Set) string {
	names := make([]string, len(shared.rules))
	for i, r := range shared.rules {
		names[i] = r.ID
	}
	if s := nearest(id, names); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// Compose layers an overlay on the shared set: the shared rules in their
// order, less the disabled ones, each replaced by the overlay's rule of
// the same id if it has one, then the overlay's other rules; the
// overlay's thresholds if it sets them. A locked shared rule is never
// disabled nor replaced, whatever the overlay says (the overlay's rule of
// its id is left out): an overlay that says so is refused where it is
// read (Locked), and this keeps the lock for one already in force when
// the shared set locks the rule. The compiled programs are shared,
// nothing is compiled again. A nil overlay is the shared set itself.
func Compose(shared *Set, o *Overlay) *Set {
	if o == nil {
		return shared
	}
	off := make(map[string]bool, len(o.disable))
	for _, d := range o.disable {
		off[d.id] = true
	}
	own := make(map[string]int, len(o.rules))
	for i, r := range o.rules {
		own[r.ID] = i
	}
	used := make([]bool, len(o.rules))
	rules := make([]Rule, 0, len(shared.rules)+len(o.rules))
	for _, r := range shared.rules {
		if i, ok := own[r.ID]; ok {
			used[i] = true
			if !r.Locked {
				rules = append(rules, o.rules[i])
				continue
			}
		}
		if !off[r.ID] || r.Locked {
			rules = append(rules, r)
		}
	}
	for i, r := range o.rules {
		if !used[i] {
			rules = append(rules, r)
		}
	}
	th := shared.thresholds
	if o.thresholds != nil {
		th = *o.thresholds
	}
	s := &Set{rules: rules, thresholds: th, version: shared.version + " + " + o.version, vms: sync.Pool{New: func() any { return new(vm.VM) }}}
	return s.withConds()
}

// SplitVersion splits a decision's rules_version into the shared set's
// version and the tenant overlay's ("" when none).
func SplitVersion(v string) (shared, overlay string) {
	shared, overlay, _ = strings.Cut(v, " + ")
	return shared, overlay
}
