package backtest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/rules"
)

// aggregator joins the two sides' decisions, attempt by attempt, in
// stream order. Counts that depend on labels are made at the end, since an
// analyst's label can come days after its attempt.
type aggregator struct {
	opts    *Options
	sides   [2]*side
	labels  *replay.Labels
	recs    []pair // by ordinal
	trans   [4][4]int
	changed int
	hist    [2][HistogramBins]int
	causes  map[pair]map[string]int // transition -> rule -> changed attempts
	samples map[pair]*reservoir
	rng     *rand.Rand
	live    Live
	where   func(line int) string // names a line of the stream (Decoder.Where)
}

// pair is an attempt's action before and after.
type pair struct{ before, after engine.Action }

func (p pair) String() string { return p.before.String() + "->" + p.after.String() }

type reservoir struct {
	seen int
	kept []Sample
}

func newAggregator(opts *Options, sides [2]*side, where func(line int) string) *aggregator {
	return &aggregator{
		opts: opts, sides: sides, labels: replay.NewLabels(), where: where,
		causes: map[pair]map[string]int{}, samples: map[pair]*reservoir{},
		rng: rand.New(rand.NewPCG(1, 2)), // the same input gives the same samples
	}
}

// batch takes a batch's events in order, up to the first error.
func (a *aggregator) batch(b *batch) error {
	limit, err := len(b.events), b.decErr
	for i := range b.err {
		if b.err[i] != nil && b.errAt[i] < limit {
			limit = b.errAt[i]
			err = fmt.Errorf("backtest: %s: %w", a.where(b.events[limit].LineNo), b.err[i])
		}
	}
	for i := range limit {
		ev := &b.events[i]
		switch ev.Kind {
		case replay.KindAttempt:
			a.attempt(ev, &b.res[0][i], &b.res[1][i])
		case replay.KindOutcome:
			if ev.Resolved {
				a.labels.Confirm(ev.Ordinal, ev.Line.Outcome.Outcome.Outcome)
			}
		}
	}
	return err
}

func (a *aggregator) attempt(ev *replay.Event, before, after *result) {
	a.labels.Set(ev.Ordinal, ev.Line.Label)
	p := pair{before.action, after.action}
	a.recs = append(a.recs, p)
	a.trans[p.before][p.after]++
	a.hist[0][scoreBin(before.score)]++
	a.hist[1][scoreBin(after.score)]++
	if l := ev.Line.Live; l != nil {
		a.live.Compared++
		if l.Action == before.action {
			a.live.BaselineSame++
		}
		if l.Action == after.action {
			a.live.CandidateSame++
		}
	}
	if p.before == p.after {
		return
	}
	a.changed++
	c := a.causes[p]
	if c == nil {
		c = map[string]int{}
		a.causes[p] = c
	}
	for _, id := range differing(before.reasons, after.reasons) {
		c[id]++
	}
	if thresholdsMatter(before, after) {
		c[CauseThresholds]++
	}
	if a.opts.Samples > 0 {
		a.sample(p, ev, before, after)
	}
}

// differing returns the rules that matched on one side only, or with
// another action or score: the rules a change is due to.
func differing(before, after []engine.Reason) []string {
	var ids []string
	has := func(rs []engine.Reason, r *engine.Reason) bool {
		for i := range rs {
			if rs[i].RuleID == r.RuleID && rs[i].Action == r.Action && rs[i].Score == r.Score {
				return true
			}
		}
		return false
	}
	for _, pair := range [2][2][]engine.Reason{{before, after}, {after, before}} {
		for i := range pair[0] {
			if r := &pair[0][i]; !has(pair[1], r) && !slices.Contains(ids, r.RuleID) {
				ids = append(ids, r.RuleID)
			}
		}
	}
	return ids
}

// thresholdsMatter reports whether the two sides' thresholds differ in a
// way that moves either side's score to another action.
func thresholdsMatter(before, after *result) bool {
	if before.th == after.th {
		return false
	}
	for _, score := range []int{before.score, after.score} {
		if byScore(score, before.th) != byScore(score, after.th) {
			return true
		}
	}
	return false
}

func byScore(score int, th rules.Thresholds) engine.Action {
	switch {
	case score >= th.Deny:
		return engine.ActionDeny
	case score >= th.StepUp:
		return engine.ActionStepUp
	}
	return engine.ActionAllow
}

// sample keeps a uniform sample of each transition's attempts
// (reservoir sampling, seeded: the same input gives the same sample).
func (a *aggregator) sample(p pair, ev *replay.Event, before, after *result) {
	r := a.samples[p]
	if r == nil {
		r = &reservoir{}
		a.samples[p] = r
	}
	r.seen++
	slot := len(r.kept)
	if slot >= a.opts.Samples {
		if slot = a.rng.IntN(r.seen); slot >= a.opts.Samples {
			return
		}
	}
	ln := &ev.Line
	s := Sample{
		Line: ev.LineNo, Time: ln.Time, Tenant: ln.Tenant, UserID: ln.UserID, IP: ln.IP, ord: ev.Ordinal,
		Before: Verdict{Action: before.action, Score: before.score, Reasons: before.reasons, Shadow: before.shadow},
		After:  Verdict{Action: after.action, Score: after.score, Reasons: after.reasons, Shadow: after.shadow},
	}
	if slot == len(r.kept) {
		r.kept = append(r.kept, s)
	} else {
		r.kept[slot] = s
	}
}

func (a *aggregator) report(dec *replay.Decoder) *Report {
	r := &Report{
		Input:       Input{DecodeStats: dec.Stats},
		Attempts:    len(a.recs),
		Changed:     a.changed,
		Transitions: newMatrix(&a.trans),
		Outcomes:    Outcomes{Before: a.sides[0].player.Stats, After: a.sides[1].player.Stats},
	}
	if h := dec.Header(); h != nil {
		r.Input.Capture, r.Input.KeyID = true, h.KeyID
	}
	a.labelled(r)
	r.Rules = a.rules()
	r.Causes = a.causeList()
	r.Shadow = ShadowReport{Before: a.sides[0].shadow.Counts(a.labels), After: a.sides[1].shadow.Counts(a.labels)}
	r.Scores = Histograms{Bins: make([]int, HistogramBins), Before: a.hist[0][:], After: a.hist[1][:]}
	for i := range r.Scores.Bins {
		r.Scores.Bins[i] = 5 * i
	}
	r.Samples = []Sample{}
	for _, p := range changes() {
		if res := a.samples[p]; res != nil {
			kept := slices.Clone(res.kept)
			slices.SortFunc(kept, func(x, y Sample) int { return cmp.Compare(x.Line, y.Line) })
			for i := range kept {
				kept[i].Label = a.labels.Of(kept[i].ord)
			}
			r.Samples = append(r.Samples, kept...)
		}
	}
	if a.live.Compared > 0 {
		l := a.live
		r.Live = &l
	}
	return r
}

// changes lists the six transitions that are changes, in reading order.
func changes() []pair {
	var out []pair
	for _, b := range Actions {
		for _, c := range Actions {
			if b != c {
				out = append(out, pair{b, c})
			}
		}
	}
	return out
}

// labelled fills the per-label results, friction and catch rate.
func (a *aggregator) labelled(r *Report) {
	per := map[string]*[4][4]int{}
	var legit, attack [4][4]int
	for ord, p := range a.recs {
		l := a.labels.Of(uint32(ord))
		if l == "" {
			continue
		}
		m := per[l]
		if m == nil {
			m = &[4][4]int{}
			per[l] = m
		}
		m[p.before][p.after]++
		if l == replay.LabelLegit {
			legit[p.before][p.after]++
		} else {
			attack[p.before][p.after]++
		}
	}
	if len(per) == 0 {
		return
	}
	r.Labels = map[string]*LabelReport{}
	for l, m := range per {
		r.Labels[l] = labelReport(m)
	}
	if lr := r.Labels[replay.LabelLegit]; lr != nil {
		r.Friction = &BeforeAfter{lr.StopBefore, lr.StopAfter}
	}
	if lr := labelReport(&attack); lr.Total > 0 {
		r.Catch = &BeforeAfter{lr.StopBefore, lr.StopAfter}
	}
}

func labelReport(m *[4][4]int) *LabelReport {
	lr := &LabelReport{Transitions: newMatrix(m)}
	add := func(c *Counts, a engine.Action, n int) {
		switch a {
		case engine.ActionDeny:
			c.Deny += n
		case engine.ActionStepUp:
			c.StepUp += n
		default:
			c.Allow += n
		}
	}
	for _, b := range Actions {
		for _, c := range Actions {
			n := m[b][c]
			lr.Total += n
			add(&lr.Before, b, n)
			add(&lr.After, c, n)
		}
	}
	if lr.Total > 0 {
		lr.StopBefore = float64(lr.Before.StepUp+lr.Before.Deny) / float64(lr.Total)
		lr.StopAfter = float64(lr.After.StepUp+lr.After.Deny) / float64(lr.Total)
	}
	return lr
}

// rules lists every rule of either side, most changed first.
func (a *aggregator) rules() []RuleReport {
	ids := map[string]bool{}
	for _, s := range a.sides {
		for id := range s.modes {
			ids[id] = true
		}
		for id := range s.matches {
			ids[id] = true
		}
		for id := range s.shadows {
			ids[id] = true
		}
	}
	out := make([]RuleReport, 0, len(ids))
	for id := range ids {
		rr := RuleReport{ID: id}
		for i, rs := range []*RuleSide{&rr.Before, &rr.After} {
			s := a.sides[i]
			rs.Mode, rs.Matches = s.modes[id], s.matches[id]+s.shadows[id]
			f := s.fails.Of(id)
			rs.Errors, rs.ReasonErrors, rs.Error = f.When, f.Reason, f.First
		}
		for p, c := range a.causes {
			if n := c[id]; n > 0 {
				if rr.Changes == nil {
					rr.Changes = map[string]int{}
				}
				rr.Changes[p.String()] = n
			}
		}
		out = append(out, rr)
	}
	slices.SortFunc(out, func(x, y RuleReport) int {
		dx, dy := abs(x.After.Matches-x.Before.Matches), abs(y.After.Matches-y.Before.Matches)
		return cmp.Or(cmp.Compare(dy, dx), cmp.Compare(total(y.Changes), total(x.Changes)), cmp.Compare(x.ID, y.ID))
	})
	return out
}

func (a *aggregator) causeList() []Cause {
	out := []Cause{}
	for _, p := range changes() {
		n := a.trans[p.before][p.after]
		if n == 0 {
			continue
		}
		c := Cause{From: p.before, To: p.after, Count: n, Rules: []RuleCount{}}
		for id, k := range a.causes[p] {
			c.Rules = append(c.Rules, RuleCount{Rule: id, Count: k})
		}
		slices.SortFunc(c.Rules, func(x, y RuleCount) int { return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Rule, y.Rule)) })
		out = append(out, c)
	}
	return out
}

func abs(x int) int { return max(x, -x) }

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
