package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riskgate/riskgate/simulator"
)

// A detection figure measured on one seed says little: the default rules
// once stopped 97% of credential stuffing on one seed and 30% on another.
// The benchmark therefore runs a matrix of seeds and sizes and holds its
// targets on the worst run, reporting the median beside it.

// size is a simulated tenant: users and labelled days (after the default
// warm-up).
type size struct {
	Users int `json:"users"`
	Days  int `json:"days"`
	// Office: every user works at the busy office (a workforce tenant).
	Office bool `json:"office,omitempty"`
}

func (s size) String() string {
	if s.Office {
		return fmt.Sprintf("busy office, %d users × %d days", s.Users, s.Days)
	}
	return fmt.Sprintf("%d users × %d days", s.Users, s.Days)
}

// parseSizes reads "300x10,2000x28".
func parseSizes(s string) ([]size, error) {
	var out []size
	if s == "" {
		return nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		u, d, ok := strings.Cut(strings.TrimSpace(f), "x")
		users, err1 := strconv.Atoi(u)
		days, err2 := strconv.Atoi(d)
		if !ok || err1 != nil || err2 != nil || users < 1 || days < 1 {
			return nil, fmt.Errorf("quality: size %q: want USERSxDAYS, e.g. 300x10", f)
		}
		out = append(out, size{Users: users, Days: days})
	}
	return out, nil
}

// parseSeeds reads "1,2,7" or "1-5".
func parseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		lo, hi, rng := strings.Cut(f, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("quality: seed %q: %w", f, err)
		}
		b := a
		if rng {
			if b, err = strconv.ParseUint(hi, 10, 64); err != nil || b < a || b-a > 1000 {
				return nil, fmt.Errorf("quality: seed range %q: want LOW-HIGH, at most 1000 seeds", f)
			}
		}
		for x := a; x <= b; x++ {
			out = append(out, x)
		}
	}
	return out, nil
}

// cell is one run of the matrix.
type cell struct {
	Seed   uint64  `json:"seed"`
	Size   size    `json:"size"`
	Report *Report `json:"report"`
}

// runMatrix runs every seed at every size, one after the other (the
// benchmark machine is shared), and notes progress on log.
func runMatrix(ctx context.Context, base options, seeds []uint64, sizes []size, log io.Writer) ([]cell, error) {
	var cells []cell
	for _, sz := range sizes {
		for _, seed := range seeds {
			o := base
			o.sim.Seed, o.sim.Users, o.sim.Days = seed, sz.Users, sz.Days
			if sz.Office {
				o.sim.BusyOffice = sz.Users
			}
			began := time.Now()
			rep, err := run(ctx, o)
			if err != nil {
				return nil, fmt.Errorf("seed %d, %s: %w", seed, sz, err)
			}
			fmt.Fprintf(log, "seed %d, %s: %s\n", seed, sz, time.Since(began).Round(100*time.Millisecond))
			cells = append(cells, cell{Seed: seed, Size: sz, Report: rep})
		}
	}
	return cells, nil
}

// figure is one number of the matrix and its target.
type figure struct {
	name  string
	value func(*Report) (float64, bool) // false when the run had none
	// lowerBetter: the worst run is the maximum (friction), not the minimum.
	lowerBetter bool
	bar         float64
	barText     string
	count       bool // an integer count, not a share
}

func stopped(label string) func(*Report) (float64, bool) {
	return func(r *Report) (float64, bool) { return r.Stopped(label), r.counts(label).Total > 0 }
}

var figures = []figure{
	{name: "credential stuffing stopped", value: stopped(simulator.LabelCredentialStuffing), bar: 0.99, barText: "≥ 99%"},
	{name: "password spraying stopped", value: stopped(simulator.LabelPasswordSpray), bar: 0.99, barText: "≥ 99%"},
	{name: "session hijacks stopped", value: stopped(simulator.LabelImpossibleTravel), bar: 0.99, barText: "≥ 99%"},
	{name: "brute force stopped", value: stopped(simulator.LabelBruteForce), bar: 0.99, barText: "≥ 99%"},
	{name: "targeted takeovers stopped", value: stopped(simulator.LabelAccountTakeover), bar: 0.95, barText: "≥ 95%"},
	{name: "legitimate logins challenged", value: func(r *Report) (float64, bool) { return r.Friction(), true }, lowerBetter: true, bar: 0.03, barText: "≤ 3%"},
	{name: "legitimate logins denied", value: func(r *Report) (float64, bool) { return r.LegitDenied(), true }, lowerBetter: true, bar: 0.001, barText: "≤ 0.1%"},
	{name: "known-device successful logins denied", value: func(r *Report) (float64, bool) { return float64(r.KnownDevice.Deny), true }, lowerBetter: true, bar: 0, barText: "0", count: true},
	{name: "takeover RBA AUC", value: func(r *Report) (float64, bool) {
		v, ok := r.AUC[simulator.LabelAccountTakeover]
		return v, ok
	}},
}

// stats are the worst, median and best of a figure over runs.
type stats struct {
	Worst, Median, Best float64
	N                   int
}

func summarise(vals []float64, lowerBetter bool) stats {
	if len(vals) == 0 {
		return stats{}
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	st := stats{Worst: s[0], Best: s[len(s)-1], N: len(s)}
	if lowerBetter {
		st.Worst, st.Best = st.Best, st.Worst
	}
	if n := len(s); n%2 == 1 {
		st.Median = s[n/2]
	} else {
		st.Median = (s[n/2-1] + s[n/2]) / 2
	}
	return st
}

func (f *figure) stats(cells []cell) stats {
	var vals []float64
	for _, c := range cells {
		if v, ok := f.value(c.Report); ok {
			vals = append(vals, v)
		}
	}
	return summarise(vals, f.lowerBetter)
}

func (f *figure) met(s stats) bool {
	if f.barText == "" || s.N == 0 {
		return true
	}
	if f.lowerBetter {
		return s.Worst <= f.bar
	}
	return s.Worst >= f.bar
}

func (f *figure) format(v float64) string {
	switch {
	case f.count:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case f.barText == "":
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2f%%", 100*v)
}

// MatrixMarkdown writes the matrix as the tables of benchmarks/README.md:
// every figure's worst run and median per size and over all runs, the
// targets judged on the worst, then the attack variants.
func MatrixMarkdown(w io.Writer, cells []cell) bool {
	var sizes []size
	for _, c := range cells {
		if !slices.Contains(sizes, c.Size) {
			sizes = append(sizes, c.Size)
		}
	}
	bySize := func(s size) []cell {
		var out []cell
		for _, c := range cells {
			if c.Size == s {
				out = append(out, c)
			}
		}
		return out
	}
	fmt.Fprint(w, "| figure |")
	sep := "| --- |"
	for _, s := range sizes {
		fmt.Fprintf(w, " %s: worst | median |", s)
		sep += " ---: | ---: |"
	}
	fmt.Fprintln(w, " all runs: worst | target |")
	fmt.Fprintln(w, sep+" ---: | --- |")
	allMet := true
	for i := range figures {
		f := &figures[i]
		fmt.Fprintf(w, "| %s |", f.name)
		for _, s := range sizes {
			st := f.stats(bySize(s))
			fmt.Fprintf(w, " %s | %s |", f.format(st.Worst), f.format(st.Median))
		}
		st := f.stats(cells)
		mark := ""
		if f.barText != "" {
			mark = f.barText + " met"
			if !f.met(st) {
				mark, allMet = f.barText+" **missed**", false
			}
		}
		fmt.Fprintf(w, " %s | %s |\n", f.format(st.Worst), mark)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Attack variants, share stopped (worst run / median; attempts in all runs):")
	fmt.Fprintln(w)
	variants := map[string]bool{}
	for _, c := range cells {
		for v := range c.Report.Variants {
			variants[v] = true
		}
	}
	fmt.Fprintln(w, "| variant | attempts | worst | median | allowed in all runs |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: |")
	for _, v := range slices.Sorted(maps.Keys(variants)) {
		var vals []float64
		total, allowed := 0, 0
		for _, c := range cells {
			if x := c.Report.Variants[v]; x != nil && x.Total > 0 {
				vals = append(vals, x.StoppedRate)
				total += x.Total
				allowed += x.Allow
			}
		}
		st := summarise(vals, false)
		fmt.Fprintf(w, "| %s | %d | %.2f%% | %.2f%% | %d |\n", v, total, 100*st.Worst, 100*st.Median, allowed)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Rules behind challenged legitimate logins, all runs (a login may have several):")
	fmt.Fprintln(w)
	rules := map[string]int{}
	legit := 0
	for _, c := range cells {
		for id, n := range c.Report.FrictionRules {
			rules[id] += n
		}
		legit += c.Report.counts(simulator.LabelLegit).Total
	}
	fmt.Fprintf(w, "| rule | legitimate logins (of %d) |\n", legit)
	fmt.Fprintln(w, "| --- | ---: |")
	ids := slices.Collect(maps.Keys(rules))
	slices.SortFunc(ids, func(a, b string) int { return cmp.Or(cmp.Compare(rules[b], rules[a]), cmp.Compare(a, b)) })
	for _, id := range ids {
		fmt.Fprintf(w, "| %s | %d |\n", id, rules[id])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Runs:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| seed | size | legit challenged | legit denied | stuffing | spraying | takeovers | hijacks | brute force |")
	fmt.Fprintln(w, "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, c := range cells {
		r := c.Report
		p := func(x float64) string {
			if math.IsNaN(x) {
				return "–"
			}
			return fmt.Sprintf("%.2f%%", 100*x)
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.Seed, c.Size, p(r.Friction()), p(r.LegitDenied()),
			p(r.Stopped(simulator.LabelCredentialStuffing)), p(r.Stopped(simulator.LabelPasswordSpray)), p(r.Stopped(simulator.LabelAccountTakeover)),
			p(r.Stopped(simulator.LabelImpossibleTravel)), p(r.Stopped(simulator.LabelBruteForce)))
	}
	return allMet
}
