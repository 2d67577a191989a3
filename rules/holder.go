package rules

import (
	"embed"
	"sync/atomic"

	"github.com/riskgate/riskgate/engine"
)

// Holder holds the ruleset in force and swaps it atomically: a Score in
// flight finishes on the set it started with, the next one sees the new
// set, and nobody waits.
type Holder struct {
	cur atomic.Pointer[Set]
}

var _ engine.Rules = (*Holder)(nil)

// NewHolder returns a Holder serving s.
func NewHolder(s *Set) *Holder {
	h := &Holder{}
	h.cur.Store(s)
	return h
}

// Current implements engine.Rules.
func (h *Holder) Current() engine.Ruleset { return h.cur.Load() }

// Set returns the set in force.
func (h *Holder) Set() *Set { return h.cur.Load() }

// Swap puts s in force and returns the set it replaces.
func (h *Holder) Swap(s *Set) *Set { return h.cur.Swap(s) }

//go:embed default.yaml
var defaultFS embed.FS

// DefaultSource is the embedded default ruleset, used when no rule file is
// given.
func DefaultSource() Source {
	data, err := defaultFS.ReadFile("default.yaml")
	if err != nil {
		panic("rules: embedded default.yaml missing: " + err.Error())
	}
	return Source{Name: "default.yaml (embedded)", Data: data}
}

// Default compiles the embedded default ruleset.
func Default() (*Set, error) { return Compile(DefaultSource()) }
