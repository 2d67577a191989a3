package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
	"github.com/riskgate/riskgate/simulator"
)

// row is one scored attempt as the report needs it.
type row struct {
	label    string
	tag      string // attempt-id prefix: the attack variant
	action   engine.Action
	result   engine.Result
	rbaKnown bool
	rba      float64
	rules    []string // enforced rules that matched
	// deviceKnown: the attempt came from a device the user completed a
	// login on before.
	deviceKnown bool
}

// Counts are decisions for one label or variant, as replay counts them.
type Counts = replay.LabelCounts

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// ROCPoint is, for one threshold t, the share of each label's scored
// attempts with rba.score > t.
type ROCPoint struct {
	T     float64            `json:"t"`
	Above map[string]float64 `json:"above"`
}

// Report is the benchmark's result.
type Report struct {
	Config   simulator.Config   `json:"config"`
	Labels   map[string]*Counts `json:"labels"`
	Variants map[string]*Counts `json:"variants"`
	// RBAScored counts, per label, the attempts with an RBA score (the
	// account has history); ROC and AUC are over those.
	RBAScored map[string]int     `json:"rba_scored"`
	ROC       []ROCPoint         `json:"roc"`
	AUC       map[string]float64 `json:"auc"`
	// FrictionRules counts the enforced rules behind challenged legitimate
	// logins; MissedRules the rules that matched on allowed attacks
	// (without reaching a challenge).
	FrictionRules map[string]int `json:"friction_rules"`
	// KnownDevice counts the decisions on legitimate logins with the right
	// password from a device the user had completed a login on: none of
	// them should ever be denied.
	KnownDevice Counts `json:"known_device"`
}

// Friction is the share of legitimate attempts stepped up or denied.
func (r *Report) Friction() float64 { return r.counts(simulator.LabelLegit).StoppedRate }

// LegitDenied is the share of legitimate attempts denied.
func (r *Report) LegitDenied() float64 { return r.counts(simulator.LabelLegit).DenyRate }

// Stopped is the share of a label's attempts stepped up or denied.
func (r *Report) Stopped(label string) float64 { return r.counts(label).StoppedRate }

func (r *Report) counts(label string) Counts {
	if c := r.Labels[label]; c != nil {
		return *c
	}
	return Counts{}
}

var rocThresholds = []float64{-1, 0, 0.5, 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8}

func buildReport(cfg simulator.Config, rows []row) *Report {
	rep := &Report{Config: cfg, Labels: map[string]*Counts{}, Variants: map[string]*Counts{}, RBAScored: map[string]int{},
		AUC: map[string]float64{}, FrictionRules: map[string]int{}}
	scores := map[string][]float64{}
	for i := range rows {
		x := &rows[i]
		if x.label == "" {
			continue // warm-up
		}
		c := rep.Labels[x.label]
		if c == nil {
			c = &Counts{}
			rep.Labels[x.label] = c
		}
		c.Add(x.action)
		if x.label != simulator.LabelLegit {
			v := rep.Variants[x.tag]
			if v == nil {
				v = &Counts{}
				rep.Variants[x.tag] = v
			}
			v.Add(x.action)
		} else {
			if x.deviceKnown && x.result == engine.ResultPasswordOK {
				rep.KnownDevice.Add(x.action)
			}
			if x.action != engine.ActionAllow {
				for _, id := range x.rules {
					rep.FrictionRules[id]++
				}
			}
		}
		// The legitimate side of the trade-off is completed logins (the
		// password was right); attacks count whatever they tried.
		if x.rbaKnown && (x.label != simulator.LabelLegit || x.result == engine.ResultPasswordOK) {
			scores[x.label] = append(scores[x.label], x.rba)
		}
	}
	for l, s := range scores {
		slices.Sort(s)
		rep.RBAScored[l] = len(s)
	}
	for _, t := range rocThresholds {
		p := ROCPoint{T: t, Above: map[string]float64{}}
		for l, s := range scores {
			i, _ := slices.BinarySearch(s, t)
			for i < len(s) && s[i] <= t {
				i++
			}
			p.Above[l] = ratio(len(s)-i, len(s))
		}
		rep.ROC = append(rep.ROC, p)
	}
	if legit := scores[simulator.LabelLegit]; len(legit) > 0 {
		for l, s := range scores {
			if l != simulator.LabelLegit && len(s) > 0 {
				rep.AUC[l] = auc(legit, s)
			}
		}
	}
	return rep
}

// auc is the probability that an attack attempt scores above a legitimate
// one (ties count half): the area under the ROC curve. Both sorted.
func auc(legit, attack []float64) float64 {
	var sum float64
	lo, hi := 0, 0
	for _, a := range attack {
		for lo < len(legit) && legit[lo] < a {
			lo++
		}
		for hi < len(legit) && legit[hi] <= a {
			hi++
		}
		sum += float64(lo) + 0.5*float64(hi-lo)
	}
	return sum / float64(len(legit)) / float64(len(attack))
}

// Targets are the bars for the default rules.
type target struct {
	what  string
	ok    func(r *Report) bool
	value func(r *Report) float64
	bar   string
}

var targets = []target{
	{"credential stuffing stopped", func(r *Report) bool { return r.Stopped(simulator.LabelCredentialStuffing) >= 0.99 }, func(r *Report) float64 { return r.Stopped(simulator.LabelCredentialStuffing) }, "≥ 99%"},
	{"password spraying stopped", func(r *Report) bool { return r.Stopped(simulator.LabelPasswordSpray) >= 0.99 }, func(r *Report) float64 { return r.Stopped(simulator.LabelPasswordSpray) }, "≥ 99%"},
	{"account takeovers stepped up or denied", func(r *Report) bool { return r.Stopped(simulator.LabelAccountTakeover) >= 0.95 }, func(r *Report) float64 { return r.Stopped(simulator.LabelAccountTakeover) }, "≥ 95%"},
	{"impossible-travel hijacks stopped", func(r *Report) bool { return r.Stopped(simulator.LabelImpossibleTravel) >= 0.99 }, func(r *Report) float64 { return r.Stopped(simulator.LabelImpossibleTravel) }, "≥ 99%"},
	{"legitimate logins challenged", func(r *Report) bool { return r.Friction() <= 0.03 }, func(r *Report) float64 { return r.Friction() }, "≤ 3%"},
	{"legitimate logins denied", func(r *Report) bool { return r.LegitDenied() <= 0.001 }, func(r *Report) float64 { return r.LegitDenied() }, "≤ 0.1%"},
}

// Markdown writes the report as the tables of benchmarks/README.md.
func (r *Report) Markdown(w io.Writer) {
	pct := func(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }
	labels := slices.Collect(maps.Keys(r.Labels))
	slices.SortFunc(labels, func(a, b string) int {
		return cmp.Or(cmp.Compare(labelOrder(a), labelOrder(b)), cmp.Compare(a, b))
	})
	fmt.Fprintln(w, "| label | attempts | allowed | stepped up | denied | stopped |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, l := range labels {
		c := r.Labels[l]
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %s |\n", l, c.Total, c.Allow, c.StepUp, c.Deny, pct(c.StoppedRate))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | measured | bar | |")
	fmt.Fprintln(w, "| --- | ---: | --- | --- |")
	for _, t := range targets {
		mark := "met"
		if !t.ok(r) {
			mark = "**missed**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.what, pct(t.value(r)), t.bar, mark)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Attack variants (attempt-id prefix):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| variant | attempts | allowed | stepped up | denied | stopped |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, v := range slices.Sorted(maps.Keys(r.Variants)) {
		c := r.Variants[v]
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %s |\n", v, c.Total, c.Allow, c.StepUp, c.Deny, pct(c.StoppedRate))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Rules behind the challenged legitimate logins (a login may have several):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| rule | legitimate logins |")
	fmt.Fprintln(w, "| --- | ---: |")
	ids := slices.Collect(maps.Keys(r.FrictionRules))
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(cmp.Compare(r.FrictionRules[b], r.FrictionRules[a]), cmp.Compare(a, b))
	})
	for _, id := range ids {
		fmt.Fprintf(w, "| %s | %d |\n", id, r.FrictionRules[id])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "RBA score trade-off: share of each label's attempts with `rba.score > t` (legitimate: completed logins; only accounts with history have a score):")
	fmt.Fprintln(w)
	var head, sep strings.Builder
	head.WriteString("| t |")
	sep.WriteString("| ---: |")
	var scored []string
	for _, l := range labels {
		if r.RBAScored[l] > 0 {
			scored = append(scored, l)
			fmt.Fprintf(&head, " %s (n=%d) |", l, r.RBAScored[l])
			sep.WriteString(" ---: |")
		}
	}
	fmt.Fprintln(w, head.String())
	fmt.Fprintln(w, sep.String())
	for _, p := range r.ROC {
		fmt.Fprintf(w, "| %g |", p.T)
		for _, l := range scored {
			fmt.Fprintf(w, " %s |", pct(p.Above[l]))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, "| AUC against legit |")
	for _, l := range scored {
		if l == simulator.LabelLegit {
			fmt.Fprint(w, " |")
			continue
		}
		fmt.Fprintf(w, " %.3f |", r.AUC[l])
	}
	fmt.Fprintln(w)
}

func labelOrder(l string) int {
	if i := slices.Index(simulator.Labels, l); i >= 0 {
		return i
	}
	return len(simulator.Labels)
}
