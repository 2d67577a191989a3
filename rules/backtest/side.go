package backtest

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/rules"
)

// side is one ruleset's run: its own engine, store and player.
type side struct {
	index   int
	holder  *replay.CapturedRules
	store   *memstore.Store
	player  *replay.Player
	follow  bool // put a capture's rules records in force (the baseline)
	failed  bool
	shadow  *replay.ShadowTally
	matches map[string]int // enforced matches by rule
	shadows map[string]int // shadow matches by rule
	fails   *engine.RuleFailures
	// versions are the rulesets this side scored with, in order; modes
	// the rules of the last one.
	versions []string
	modes    map[string]string
	cur      *rules.Set
}

func newSide(index int, set *rules.Set, opts *Options) (*side, error) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // the state lives and dies with the run
	keyer, err := engine.NewKeyer(secret)
	if err != nil {
		return nil, err
	}
	s := &side{
		index: index, holder: replay.NewCapturedRules(set), store: memstore.New(memstore.Options{}),
		shadow: replay.NewShadowTally(), matches: map[string]int{}, shadows: map[string]int{},
		fails: engine.NewRuleFailures(),
	}
	e, err := engine.New(engine.Options{
		Store: s.store, Rules: s.holder, Keyer: keyer, Enrichers: opts.Enrichers, Signals: opts.Signals(),
		Observers: []engine.Observer{s.fails},
		Logger:    opts.Logger, NewID: engine.SeededIDs(uint64(index) + 1),
		// attempt_id is not an idempotency key here: the stream holds
		// each attempt once (a capture, the attempts the live engine
		// scored), and remembering decisions costs memory and time.
		RetryEntries: -1,
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("backtest: %w", err)
	}
	s.player = replay.NewPlayer(e, replay.PlayerOptions{AutoOutcomes: opts.AutoOutcomes})
	s.use(set)
	return s, nil
}

func (s *side) close() { s.store.Close(context.Background()) }

// use notes the set in force.
func (s *side) use(set *rules.Set) {
	if s.cur == set {
		return
	}
	s.cur = set
	if n := len(s.versions); n == 0 || s.versions[n-1] != set.Version() {
		s.versions = append(s.versions, set.Version())
	}
	s.modes = map[string]string{}
	for _, r := range set.Rules() {
		s.modes[r.ID] = r.Mode.String()
	}
}

// run scores a batch. After a failure it only marks batches done, so that
// the pipeline drains.
func (s *side) run(ctx context.Context, b *batch) {
	defer b.wg.Done()
	if s.failed || ctx.Err() != nil {
		return
	}
	res := b.res[s.index]
	for i := range b.events {
		ev := &b.events[i]
		var err error
		switch ev.Kind {
		case replay.KindRules:
			if s.follow && b.sets[i] != nil {
				s.holder.Use(b.sets[i])
				s.use(b.sets[i])
			}
		case replay.KindOutcome:
			err = s.player.Outcome(ctx, ev)
		case replay.KindAttempt:
			var d engine.Decision
			d, err = s.player.Attempt(ctx, ev)
			if err == nil {
				res[i] = result{action: d.Action, score: d.Score, reasons: d.Reasons, shadow: d.Shadow, th: s.cur.Thresholds()}
				s.count(ev, &d)
			}
		}
		if err != nil {
			b.err[s.index], b.errAt[s.index], s.failed = err, i, true
			return
		}
	}
}

func (s *side) count(ev *replay.Event, d *engine.Decision) {
	for i := range d.Reasons {
		s.matches[d.Reasons[i].RuleID]++
	}
	if len(d.Shadow) > 0 {
		for i := range d.Shadow {
			s.shadows[d.Shadow[i].RuleID]++
		}
		th := s.cur.Thresholds()
		s.shadow.Add(ev.Ordinal, d, &th)
	}
}
