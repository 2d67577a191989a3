package replay

import (
	"fmt"
	"sync/atomic"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/rules"
)

// CapturedRules is the engine.Rules of a replay that follows a capture's
// rules records: the ruleset in force is swapped where the live one was.
// It is safe for concurrent use.
type CapturedRules struct {
	cur atomic.Pointer[rules.Set]
}

var _ engine.Rules = (*CapturedRules)(nil)

// NewCapturedRules returns rules serving initial until a record says
// otherwise.
func NewCapturedRules(initial *rules.Set) *CapturedRules {
	r := &CapturedRules{}
	r.cur.Store(initial)
	return r
}

// Current implements engine.Rules.
func (r *CapturedRules) Current() engine.Ruleset { return r.cur.Load() }

// Set returns the set in force.
func (r *CapturedRules) Set() *rules.Set { return r.cur.Load() }

// Use puts set in force.
func (r *CapturedRules) Use(set *rules.Set) { r.cur.Store(set) }

// Put compiles a capture's rules record and puts it in force. A record
// that holds only the version (the capture sink could not get the files)
// cannot be replayed.
func (r *CapturedRules) Put(rec *RulesRecord) error {
	set, err := rec.Compile()
	if err != nil {
		return err
	}
	r.Use(set)
	return nil
}

// Thresholds gives Options.Thresholds the thresholds of the set in force
// when it has this version.
func (r *CapturedRules) Thresholds(version string) (rules.Thresholds, bool) {
	set := r.Set()
	return set.Thresholds(), set.Version() == version
}

// Compile compiles the record's rule files.
func (rec *RulesRecord) Compile() (*rules.Set, error) {
	if len(rec.Files) == 0 {
		return nil, fmt.Errorf("the capture holds only the version of the rules it was scored with (%s), not their files", rec.Version)
	}
	srcs := make([]rules.Source, len(rec.Files))
	for i, f := range rec.Files {
		srcs[i] = rules.Source{Name: f.Name, Data: []byte(f.Data)}
	}
	set, err := rules.Compile(srcs...)
	if err != nil {
		return nil, fmt.Errorf("the capture's rules (version %s) do not compile: %w", rec.Version, err)
	}
	return set, nil
}
