package engine

import (
	"sync"
	"time"
)

// RuleFailures is an Observer that counts, by rule, the attempts on which
// a rule failed at run time (the engine counts such a rule as not
// matched), with the first failure's message: the expression's error
// class and position, never an attempt's values. Tools that run rules on
// behalf of an analyst (rule tests, backtests) report them with it: a
// rule that failed on every attempt otherwise reads as one that matched
// none. Only failures reach it, so it costs a Score nothing otherwise.
type RuleFailures struct {
	mu    sync.Mutex
	n     map[string]int
	first map[string]string
	order []string
}

// NewRuleFailures returns an empty count.
func NewRuleFailures() *RuleFailures {
	return &RuleFailures{n: map[string]int{}, first: map[string]string{}}
}

// Failed implements Observer: a failure of stage "rule" is counted.
func (f *RuleFailures) Failed(stage, name string, err error) {
	if stage != "rule" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[name]++; f.n[name] == 1 {
		f.first[name] = err.Error()
		f.order = append(f.order, name)
	}
}

// Of returns how many times the rule failed and the first failure's
// message.
func (f *RuleFailures) Of(rule string) (n int, first string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[rule], f.first[rule]
}

// Rules returns the rules that failed, in the order of their first
// failure.
func (f *RuleFailures) Rules() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

// Reset forgets every failure.
func (f *RuleFailures) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.n)
	clear(f.first)
	f.order = f.order[:0]
}

// Decided implements Observer.
func (*RuleFailures) Decided(*Attempt, *Decision, time.Duration) {}

// Reported implements Observer.
func (*RuleFailures) Reported(*Outcome, *Pending) {}

// StoreCall implements Observer.
func (*RuleFailures) StoreCall(string, time.Duration, error) {}
