package engine

import (
	"errors"
	"sync"
	"time"
)

// RuleFailures is an Observer that counts, by rule, the attempts on which
// a rule failed at run time, with the first failure's message: the
// expression's error class and position, never an attempt's values.
// A rule whose when failed counts as not matched; one whose reason failed
// matched, with its description for message. Tools that run rules on
// behalf of an analyst (rule tests, backtests) report them with it: a
// rule that failed on every attempt otherwise reads as one that matched
// none. Only failures reach it, so it costs a Score nothing otherwise.
type RuleFailures struct {
	mu    sync.Mutex
	n     map[string]*RuleFailure
	order []string
}

// RuleFailure is one rule's failures.
type RuleFailure struct {
	When   int    // attempts on which its when failed: not matched
	Reason int    // matches on which its reason failed: the description given
	First  string // the first failure's message ("when: conversion error at line 1, column 1")
}

// RuleFieldError is an error of one part of a rule (its when or its
// reason), as rules.RuntimeError is.
type RuleFieldError interface {
	error
	RuleField() string
}

// NewRuleFailures returns an empty count.
func NewRuleFailures() *RuleFailures { return &RuleFailures{n: map[string]*RuleFailure{}} }

// Failed implements Observer: a failure of stage "rule" is counted, as
// its reason's when the error says so (FieldError), else as its when's.
func (f *RuleFailures) Failed(stage, name string, err error) {
	if stage != "rule" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.n[name]
	if r == nil {
		r = &RuleFailure{First: err.Error()}
		f.n[name] = r
		f.order = append(f.order, name)
	}
	if fe, ok := errors.AsType[RuleFieldError](err); ok && fe.RuleField() == "reason" {
		r.Reason++
	} else {
		r.When++
	}
}

// Of returns the rule's failures (zero when it never failed).
func (f *RuleFailures) Of(rule string) RuleFailure {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.n[rule]; r != nil {
		return *r
	}
	return RuleFailure{}
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
	f.order = f.order[:0]
}

// Decided implements Observer.
func (*RuleFailures) Decided(*Attempt, *Decision, time.Duration) {}

// Reported implements Observer.
func (*RuleFailures) Reported(*Outcome, *Pending) {}

// StoreCall implements Observer.
func (*RuleFailures) StoreCall(string, time.Duration, error) {}
