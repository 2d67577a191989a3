package alert

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// thinSummaryEvery is how often, while alerts are being thinned, a
	// line says how many and of which rules.
	thinSummaryEvery = 10 * time.Second
	// thinRuleKinds bounds the rules counted apart in a summary (a
	// ruleset has tens); thinRulesShown bounds those the line names.
	thinRuleKinds  = 64
	thinRulesShown = 8
)

// thinning keeps the log sink's alert lines to a rate. Under a
// credential-stuffing flood every attempt alerts: 15,000 lines a second,
// 118 MB of log in 20 s, which a container runtime rotates away (and
// journald drops indiscriminately past its own burst), taking the node's
// other lines with it. Past the rate each second, an alert is counted
// instead, by rule, and a line every thinSummaryEvery says how many: the
// start of each second of the incident is logged whole, and its size
// and kind are in the summary. The sinks that carry every alert (file,
// webhook, Kafka) are not thinned.
type thinning struct {
	perSecond int
	now       func() time.Time

	mu       sync.Mutex
	second   int64 // the Unix second being counted
	inSecond int   // alert lines written in it
	// Since the last summary: how many, from when, and by rule.
	thinned int
	since   time.Time
	byRule  map[string]int
	last    time.Time // when the summary period began
	// taken is what the dispatcher has not yet counted as dropped.
	taken int
}

func newThinning(perSecond int, now func() time.Time) *thinning {
	return &thinning{perSecond: perSecond, now: now, byRule: map[string]int{}}
}

// admit says whether a is logged; if not it is counted.
func (t *thinning) admit(a *Alert, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := now.Unix(); s != t.second {
		t.second, t.inSecond = s, 0
	}
	if t.inSecond < t.perSecond {
		t.inSecond++
		return true
	}
	if t.thinned == 0 {
		// A summary period starts with its first thinned alert.
		t.since, t.last = now, now
	}
	t.thinned++
	t.taken++
	counted := false
	for _, r := range a.Rules {
		if r.Alert {
			t.count(r.ID)
			counted = true
		}
	}
	if !counted {
		t.count("deny") // alerted as a deny (--alerts-on-deny) alone
	}
	return false
}

func (t *thinning) count(rule string) {
	if _, ok := t.byRule[rule]; !ok && len(t.byRule) >= thinRuleKinds-1 {
		rule = "other" // the last kind
	}
	t.byRule[rule]++
}

// summarize logs what was thinned since the last summary, when there is
// some and, unless force, thinSummaryEvery has passed since.
func (t *thinning) summarize(ctx context.Context, log *slog.Logger, force bool) {
	t.mu.Lock()
	now := t.now()
	if t.thinned == 0 || !force && now.Sub(t.last) < thinSummaryEvery {
		t.mu.Unlock()
		return
	}
	n, since, rules := t.thinned, t.since, t.rulesLocked()
	t.thinned, t.last = 0, now
	clear(t.byRule)
	t.mu.Unlock()
	log.LogAttrs(ctx, slog.LevelWarn, "alerts thinned from the log",
		slog.Int("thinned", n), slog.Time("since", since), slog.String("rules", rules),
		slog.Int("per_second", t.perSecond),
		slog.String("hint", "the file, webhook and Kafka sinks carry every alert: set one (--alerts-file, --alerts-webhook-url, --kafka-alerts-topic) or raise --alerts-log-rate"))
}

// rulesLocked renders the counts by rule, the largest first:
// "stuffing-address-burst=1400 scripted-client=1300 (3 more rules: 12)".
func (t *thinning) rulesLocked() string {
	type kv struct {
		rule string
		n    int
	}
	all := make([]kv, 0, len(t.byRule))
	for r, n := range t.byRule {
		all = append(all, kv{r, n})
	}
	slices.SortFunc(all, func(a, b kv) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return strings.Compare(a.rule, b.rule)
	})
	var b strings.Builder
	for i, e := range all {
		if i == thinRulesShown {
			rest := 0
			for _, e := range all[i:] {
				rest += e.n
			}
			b.WriteString(" (" + strconv.Itoa(len(all)-i) + " more rules: " + strconv.Itoa(rest) + ")")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.rule + "=" + strconv.Itoa(e.n))
	}
	return b.String()
}

// take returns the alerts thinned since the last call, for the
// dispatcher to count as dropped rather than sent.
func (t *thinning) take() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.taken
	t.taken = 0
	return n
}

// thinner is a sink that may leave some alerts it is sent undelivered
// without failing (the log sink, past its rate).
type thinner interface {
	// takeThinned returns how many alerts it left undelivered since it
	// was last asked.
	takeThinned() int
	// summarizeThinned logs what it left undelivered, if it is time.
	summarizeThinned(force bool)
}
