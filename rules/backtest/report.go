package backtest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/rules"
)

// Report is a backtest's result: what the candidate rules would have
// changed, against the baseline, on the same stream. Its JSON is the
// output of `riskgate backtest --json`; the text and HTML reports render
// it.
type Report struct {
	Input     Input   `json:"input"`
	Baseline  Ruleset `json:"baseline"`
	Candidate Ruleset `json:"candidate"`
	Attempts  int     `json:"attempts"`
	// Changed is the number of attempts whose action differs.
	Changed int `json:"changed"`
	// Transitions counts attempts by action, baseline then candidate:
	// transitions["allow"]["step_up"] were allowed and would be stepped up.
	Transitions Matrix `json:"transitions"`
	// Labels is the same per label, where the stream has labels (a
	// simulated stream's, or analysts' confirmed_fraud/confirmed_legit).
	Labels map[string]*LabelReport `json:"labels,omitempty"`
	// Friction is the share of legitimate attempts stepped up or denied;
	// Catch the share of attacks. Null without such labels.
	Friction *BeforeAfter `json:"friction"`
	Catch    *BeforeAfter `json:"catch"`
	// Rules are every rule of either set, most changed first.
	Rules []RuleReport `json:"rules"`
	// Causes are, per transition, the rules behind the changes.
	Causes []Cause `json:"causes"`
	// Shadow says what each side's shadow rules would have done.
	Shadow  ShadowReport `json:"shadow"`
	Scores  Histograms   `json:"scores"`
	Samples []Sample     `json:"samples"`
	// Live compares the baseline with the live decisions of a capture.
	Live     *Live    `json:"live,omitempty"`
	Outcomes Outcomes `json:"outcomes"`
	// Took is how long the backtest ran (not in the JSON: it would make
	// two runs differ).
	Took time.Duration `json:"-"`
}

// Input describes the stream.
type Input struct {
	Path string `json:"path,omitempty"`
	replay.DecodeStats
	// Capture is true when the stream is a capture (keyed identifiers,
	// live decisions).
	Capture bool   `json:"capture"`
	KeyID   string `json:"key_id,omitempty"`
	// Truncated is set when Options.MaxAttempts cut the stream short.
	Truncated bool `json:"truncated,omitempty"`
}

// Ruleset says which rules one side ran.
type Ruleset struct {
	// Source: "capture" (the rules the capture was scored with, changing
	// where the live rules changed), "file" or "built-in".
	Source   string   `json:"source"`
	Versions []string `json:"versions"`
	Paths    []string `json:"paths,omitempty"`
	// Thresholds are the score thresholds (of the last set, for a
	// baseline that followed a capture's changes).
	Thresholds Thresholds `json:"thresholds"`
	// Note explains a baseline that is not what the capture ran.
	Note string `json:"note,omitempty"`
}

// Thresholds turn a summed score into an action.
type Thresholds struct {
	StepUp int `json:"step_up"`
	Deny   int `json:"deny"`
}

func thresholdsOf(s *rules.Set) Thresholds {
	t := s.Thresholds()
	return Thresholds{StepUp: t.StepUp, Deny: t.Deny}
}

// CauseThresholds names, among the rules behind a change, a change of the
// score thresholds that alone moves the attempt's score to another action.
const CauseThresholds = "(thresholds)"

// Actions are the three answers, in order of strength.
var Actions = []engine.Action{engine.ActionAllow, engine.ActionStepUp, engine.ActionDeny}

// Matrix counts attempts by action before (outer key) and after (inner).
type Matrix map[string]map[string]int

func newMatrix(m *[4][4]int) Matrix {
	out := Matrix{}
	for _, a := range Actions {
		row := map[string]int{}
		for _, b := range Actions {
			row[b.String()] = m[a][b]
		}
		out[a.String()] = row
	}
	return out
}

// LabelReport is a backtest's result for one label.
type LabelReport struct {
	Total       int     `json:"total"`
	Before      Counts  `json:"before"`
	After       Counts  `json:"after"`
	Transitions Matrix  `json:"transitions"`
	StopBefore  float64 `json:"stopped_before"`
	StopAfter   float64 `json:"stopped_after"`
}

// Counts are attempts by action.
type Counts struct {
	Allow  int `json:"allow"`
	StepUp int `json:"step_up"`
	Deny   int `json:"deny"`
}

// BeforeAfter is a rate on both sides.
type BeforeAfter struct {
	Before float64 `json:"before"`
	After  float64 `json:"after"`
}

// RuleReport is one rule's matches on both sides.
type RuleReport struct {
	ID     string   `json:"rule"`
	Before RuleSide `json:"before"`
	After  RuleSide `json:"after"`
	// Changes counts, per transition ("allow->step_up"), the changed
	// attempts this rule had a part in: it matched on one side only, or
	// with another action or score. (A change the thresholds alone made
	// is under CauseThresholds in Causes.)
	Changes map[string]int `json:"changes,omitempty"`
}

// RuleSide is a rule in one ruleset: its mode ("" when the set does not
// have it), how many attempts it matched, and its failures at run time:
// Errors the attempts on which its when failed (counted as not matched),
// ReasonErrors the matches on which its reason failed (given the
// description), Error the first failure's message ("when: conversion
// error at line 1, column 1").
type RuleSide struct {
	Mode         string `json:"mode,omitempty"`
	Matches      int    `json:"matches"`
	Errors       int    `json:"errors,omitempty"`
	ReasonErrors int    `json:"reason_errors,omitempty"`
	Error        string `json:"error,omitempty"`
}

// Cause is a transition and the rules behind it, most frequent first.
type Cause struct {
	From  engine.Action `json:"from"`
	To    engine.Action `json:"to"`
	Count int           `json:"count"`
	Rules []RuleCount   `json:"rules"`
}

// RuleCount is a rule and a count.
type RuleCount struct {
	Rule  string `json:"rule"`
	Count int    `json:"count"`
}

// ShadowReport is what each side's shadow rules would have done.
type ShadowReport struct {
	Before []replay.ShadowCounts `json:"before"`
	After  []replay.ShadowCounts `json:"after"`
}

// Histograms are the score distributions: Bins[i] is the lowest score of
// bin i (the last bin is the score 100 alone).
type Histograms struct {
	Bins   []int `json:"bins"`
	Before []int `json:"before"`
	After  []int `json:"after"`
}

// HistogramBins is the number of score bins: 0-4, 5-9, ..., 95-99, 100.
const HistogramBins = 21

func scoreBin(score int) int { return min(max(score, 0), 100) / 5 }

// Sample is a changed attempt, with the reasons on both sides.
type Sample struct {
	Line   int       `json:"line"`
	Time   time.Time `json:"time"`
	Tenant string    `json:"tenant,omitempty"`
	UserID string    `json:"user_id,omitempty"`
	IP     string    `json:"ip"`
	Label  string    `json:"label,omitempty"`
	Before Verdict   `json:"before"`
	After  Verdict   `json:"after"`

	ord uint32
}

// Verdict is one side's decision on a sample.
type Verdict struct {
	Action  engine.Action   `json:"action"`
	Score   int             `json:"score"`
	Reasons []engine.Reason `json:"reasons"`
	Shadow  []engine.Reason `json:"shadow,omitempty"`
}

// Live compares the baseline and the candidate with a capture's live
// decisions. When the baseline is what ran live, on the same GeoIP
// databases, BaselineSame equals Compared; less says the baseline is not
// a faithful replay (another GeoIP database, a gap in the capture).
type Live struct {
	Compared      int `json:"compared"`
	BaselineSame  int `json:"baseline_same"`
	CandidateSame int `json:"candidate_same"`
	// Warning, when the baseline does not reproduce every live decision,
	// says so and what to do: the backtest then does not run as the live
	// node did (its GeoIP databases, IP lists, breached filter), and its
	// differences are not only the candidate's. The caller, who knows the
	// run's data, sets it (see LiveWarning).
	Warning string `json:"warning,omitempty"`
}

// LiveWarning is the report's warning when the baseline reproduces fewer
// than all the live decisions, "" when it reproduces them all (or the
// stream has none). lacks names what this run has not that a live node
// may have had ("GeoIP databases (--geoip-city, ...)"), if anything.
func LiveWarning(l *Live, lacks []string) string {
	w := liveMismatch(l)
	if w == "" {
		return ""
	}
	if len(lacks) > 0 {
		w += "; it runs without " + strings.Join(lacks, ", without ")
	}
	return w + ". Give it the live node's data: the same --geoip-city, --geoip-asn, --geoip-anonymous, --ip-list, --tor-exits and --hosting-asns (the capture does not record them), and as baseline the rules the capture was scored with (the default without --baseline-rules)"
}

// ServerLiveWarning is LiveWarning for a backtest a server runs on its
// own capture, with its own data: what differs there is that data since
// the capture was scored, or what the capture does not hold.
func ServerLiveWarning(l *Live) string {
	w := liveMismatch(l)
	if w == "" {
		return ""
	}
	return w + ". The server replays with its GeoIP databases, IP lists and breached filter as they are now, from empty state: data reloaded since the capture was scored, events the capture dropped (input.dropped), or baselines learned before its first file change decisions"
}

// liveMismatch is the warnings' first sentence, "" when the baseline
// reproduces every live decision (or the stream has none).
func liveMismatch(l *Live) string {
	if l == nil || l.Compared == 0 || l.BaselineSame == l.Compared {
		return ""
	}
	return fmt.Sprintf("the baseline reproduces only %d of the %d live decisions (%s): this backtest does not score as the live node did, so its differences are not only the candidate's", l.BaselineSame, l.Compared, pct(l.BaselineSame, l.Compared))
}

// Outcomes is what became of the stream's outcome lines on each side.
type Outcomes struct {
	Before replay.PlayStats `json:"before"`
	After  replay.PlayStats `json:"after"`
}

// Gates are the exit conditions `riskgate backtest` can enforce in CI.
// A negative value is no gate.
type Gates struct {
	MaxFriction float64 // the candidate's friction must not exceed it
	MinCatch    float64 // the candidate's catch rate must reach it
}

// ErrNoLabels is returned by Check when a gate needs labels the stream
// does not have.
var ErrNoLabels = errors.New("backtest: the stream has no labels to measure this on (simulated labels, or confirmed_legit/confirmed_fraud outcomes)")

// Check returns the gates the candidate fails, as sentences; an error
// when a gate cannot be judged.
func (r *Report) Check(g Gates) ([]string, error) {
	var failed []string
	// A NaN gate would pass every report: it is a caller's mistake.
	if math.IsNaN(g.MaxFriction) || math.IsNaN(g.MinCatch) {
		return nil, errors.New("backtest: a gate is NaN")
	}
	if g.MaxFriction >= 0 {
		if r.Friction == nil {
			return nil, fmt.Errorf("--max-friction: %w", ErrNoLabels)
		}
		if r.Friction.After > g.MaxFriction {
			failed = append(failed, fmt.Sprintf("friction %.2f%% is above the maximum %.2f%% (baseline %.2f%%)", 100*r.Friction.After, 100*g.MaxFriction, 100*r.Friction.Before))
		}
	}
	if g.MinCatch >= 0 {
		if r.Catch == nil {
			return nil, fmt.Errorf("--min-catch: %w", ErrNoLabels)
		}
		if r.Catch.After < g.MinCatch {
			failed = append(failed, fmt.Sprintf("catch rate %.2f%% is below the minimum %.2f%% (baseline %.2f%%)", 100*r.Catch.After, 100*g.MinCatch, 100*r.Catch.Before))
		}
	}
	return failed, nil
}
