// Package backtest answers the question analysts are asked before every
// rule change: what would these rules have done to last week's logins? It
// replays one stream (a capture of live traffic, package engine/capture,
// or a labelled stream from riskgate simulate) through two rulesets, each
// on its own engine and state, as two real deployments would have evolved,
// and reports the difference: the transition matrix of actions, the same
// per label, friction and catch rate, per-rule matches and the rules
// behind each change, the shadow rules' would-be effect, score
// histograms and a sample of changed attempts, as text, JSON and one
// self-contained HTML page.
//
// The stream is decoded once and handed to both sides, which score
// concurrently: a diff costs about the time of one replay on two cores.
package backtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/rules"
)

// Options configure a backtest.
type Options struct {
	// Candidate is the ruleset under test. Required.
	Candidate *rules.Set
	// Baseline is the ruleset to compare with. nil: the rules a capture
	// was scored with, as its rules records say (following the live
	// changes), else the built-in rules.
	Baseline *rules.Set
	// Enrichers are shared by both sides (GeoIP, IP lists: safe for
	// concurrent use). Signals builds one side's signals; it is called
	// once per side, since signals keep population statistics.
	Enrichers []engine.Enricher
	Signals   func() []engine.Signal
	// AutoOutcomes answers the step-ups of a simulated stream's attempts
	// as the people behind them would (see replay.Options); a capture's
	// attempts are answered from its own outcomes either way.
	AutoOutcomes bool
	// Samples is the number of changed attempts kept per transition;
	// default 5, negative none.
	Samples int
	// MaxAttempts stops the backtest after this many attempts (the
	// report says it was cut short); 0 reads the whole stream. With a
	// context deadline it bounds a backtest run on request.
	MaxAttempts int
	// Sequential scores the two sides one after the other on one
	// goroutine (for measuring; the default runs them concurrently).
	Sequential bool
	Logger     *slog.Logger
}

// batchSize is the number of events decoded and handed over at a time:
// large enough that handing over costs nothing, small enough to stay in
// cache.
const batchSize = 256

// batches in flight between the decoder, the sides and the aggregator.
const inFlight = 8

// batch is a run of decoded events and both sides' results on them.
type batch struct {
	events []replay.Event
	sets   []*rules.Set // a capture's rules record, compiled, where the baseline follows them
	res    [2][]result
	err    [2]error // a side's first error, with the event it failed on
	errAt  [2]int
	decErr error // the decoder's error after the events
	wg     sync.WaitGroup
}

// result is one side's decision on one attempt.
type result struct {
	action  engine.Action
	score   int
	reasons []engine.Reason
	shadow  []engine.Reason
	th      rules.Thresholds // of the set that decided
}

// Run replays r through the baseline and the candidate and reports the
// difference. A line that cannot be decoded or scored stops the run with
// an error naming it.
func Run(ctx context.Context, r io.Reader, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Candidate == nil {
		return nil, errors.New("backtest: no candidate rules")
	}
	if opts.Signals == nil {
		return nil, errors.New("backtest: no signals")
	}
	if opts.Samples == 0 {
		opts.Samples = 5
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	base, err := newBaseline(opts.Baseline)
	if err != nil {
		return nil, err
	}
	var sides [2]*side
	for i, set := range []*rules.Set{base.current, opts.Candidate} {
		if sides[i], err = newSide(i, set, &opts); err != nil {
			for _, s := range sides[:i] {
				s.close()
			}
			return nil, err
		}
		defer sides[i].close()
	}
	sides[0].follow = base.follows

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dec := replay.NewDecoder(r)
	base.where = dec.Where
	free := make(chan *batch, inFlight)
	for range inFlight {
		b := &batch{events: make([]replay.Event, 0, batchSize), sets: make([]*rules.Set, 0, batchSize)}
		b.res[0], b.res[1] = make([]result, batchSize), make([]result, batchSize)
		free <- b
	}
	ordered := make(chan *batch, inFlight)
	var toSide [2]chan *batch
	for i := range toSide {
		toSide[i] = make(chan *batch, inFlight)
	}
	var truncated bool
	go decode(ctx, dec, base, free, ordered, toSide, &opts, &truncated)
	var wg sync.WaitGroup
	if !opts.Sequential {
		for i, s := range sides {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range toSide[i] {
					s.run(ctx, b)
				}
			}()
		}
	}

	agg := newAggregator(&opts, sides, dec.Where)
	var runErr error
	for b := range ordered {
		if opts.Sequential {
			for _, s := range sides {
				s.run(ctx, b)
			}
		}
		b.wg.Wait()
		if runErr == nil {
			runErr = agg.batch(b)
			if runErr != nil {
				cancel() // the decoder stops; the sides skip what is left
			}
		}
		free <- b
	}
	wg.Wait()
	if runErr == nil {
		runErr = ctx.Err()
	}
	if runErr != nil {
		return nil, runErr
	}
	rep := agg.report(dec)
	rep.Input.Truncated = truncated
	rep.Baseline = base.describe(sides[0].versions)
	rep.Candidate = Ruleset{Source: "file", Versions: []string{opts.Candidate.Version()}}
	rep.Baseline.Thresholds, rep.Candidate.Thresholds = thresholdsOf(sides[0].cur), thresholdsOf(sides[1].cur)
	rep.Took = time.Since(start)
	return rep, nil
}

// decode reads events into batches and hands each to the sides and, in
// order, to the aggregator. Rules records of a capture are compiled here,
// once, for the baseline side to put in force at their place.
// truncated is set (before ordered is closed) when MaxAttempts cut the
// stream short.
func decode(ctx context.Context, dec *replay.Decoder, base *baseline, free <-chan *batch, ordered chan<- *batch, toSide [2]chan *batch, opts *Options, truncated *bool) {
	defer func() {
		close(ordered)
		for _, c := range toSide {
			close(c)
		}
	}()
	for done := false; !done; {
		var b *batch
		select {
		case b = <-free:
		case <-ctx.Done():
			return
		}
		b.events, b.sets, b.decErr = b.events[:0], b.sets[:0], nil
		b.err, b.errAt = [2]error{}, [2]int{}
		for len(b.events) < batchSize {
			if opts.MaxAttempts > 0 && dec.Stats.Attempts >= opts.MaxAttempts {
				*truncated, done = true, true
				break
			}
			b.events = append(b.events, replay.Event{})
			ev := &b.events[len(b.events)-1]
			err := dec.Next(ev)
			var set *rules.Set
			if err == nil && ev.Kind == replay.KindRules {
				set, err = base.compile(ev)
			}
			if err != nil {
				b.events = b.events[:len(b.events)-1]
				if err != io.EOF {
					b.decErr = err
				}
				done = true
				break
			}
			b.sets = append(b.sets, set)
		}
		b.wg.Add(2)
		if !opts.Sequential {
			toSide[0] <- b
			toSide[1] <- b
		}
		ordered <- b
	}
}

// baseline is the baseline side's rules: fixed, or following a capture's
// rules records.
type baseline struct {
	current *rules.Set
	source  string
	follows bool
	builtin *rules.Set
	sets    map[string]*rules.Set // compiled rules records, by version
	note    string
	where   func(line int) string // names a line of the stream (Decoder.Where)
}

func newBaseline(given *rules.Set) (*baseline, error) {
	if given != nil {
		return &baseline{current: given, source: "file"}, nil
	}
	def, err := rules.Default()
	if err != nil {
		return nil, fmt.Errorf("backtest: built-in rules: %w", err)
	}
	return &baseline{current: def, source: "built-in", follows: true, builtin: def, sets: map[string]*rules.Set{}}, nil
}

// compile turns a rules record into the set the baseline puts in force
// at that place in the stream; nil when the baseline is fixed.
func (b *baseline) compile(ev *replay.Event) (*rules.Set, error) {
	if !b.follows {
		return nil, nil
	}
	rec := ev.Line.Rules
	if s, ok := b.sets[rec.Version]; ok {
		return s, nil
	}
	var set *rules.Set
	switch {
	case len(rec.Files) > 0:
		s, err := rec.Compile()
		if err != nil {
			return nil, fmt.Errorf("backtest: %s: %w; give --baseline-rules", b.where(ev.LineNo), err)
		}
		set = s
	case rec.Version == b.builtin.Version():
		set = b.builtin
	default:
		// Only the version is known, and it is not the built-in one.
		set = b.builtin
		if b.note == "" {
			b.note = fmt.Sprintf("the capture was scored with rules version %s, whose files it does not hold: the baseline is the built-in rules (%s); give --baseline-rules", rec.Version, b.builtin.Version())
		}
	}
	b.sets[rec.Version] = set
	b.source = "capture"
	return set, nil
}

func (b *baseline) describe(versions []string) Ruleset {
	return Ruleset{Source: b.source, Versions: versions, Note: b.note}
}
