package backtest

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/replay"
)

// WriteText writes the report for people, in a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	in := &r.Input
	fmt.Fprintf(&b, "backtest of %d attempts", r.Attempts)
	if in.Path != "" {
		fmt.Fprintf(&b, " from %s", in.Path)
	}
	if in.Capture {
		fmt.Fprintf(&b, " (a capture: %d files, key %s, %d outcomes)", in.Files, in.KeyID, in.Outcomes)
	} else if in.Outcomes > 0 {
		fmt.Fprintf(&b, " (%d outcome lines)", in.Outcomes)
	}
	fmt.Fprintf(&b, " in %s\n", r.Took.Round(1e7))
	fmt.Fprintf(&b, "baseline:  %s\ncandidate: %s\n", r.Baseline.text(), r.Candidate.text())
	if r.Baseline.Note != "" {
		fmt.Fprintf(&b, "note: %s\n", r.Baseline.Note)
	}
	fmt.Fprintf(&b, "changed:   %d attempts (%s)\n\n", r.Changed, pct(r.Changed, r.Attempts))

	b.WriteString("transitions (rows: baseline, columns: candidate)\n")
	writeMatrix(&b, r.Transitions, "  ")

	if len(r.Labels) > 0 {
		b.WriteString("\nper label                  total   stopped before → after   changed\n")
		for _, l := range sortedLabels(r.Labels) {
			lr := r.Labels[l]
			fmt.Fprintf(&b, "  %-22s %9d   %8.2f%% → %7.2f%%   %7d\n", l, lr.Total, 100*lr.StopBefore, 100*lr.StopAfter, lr.Total-diagonal(lr.Transitions))
		}
	}
	if f := r.Friction; f != nil {
		fmt.Fprintf(&b, "friction (legitimate attempts stepped up or denied): %.2f%% → %.2f%%\n", 100*f.Before, 100*f.After)
	}
	if c := r.Catch; c != nil {
		fmt.Fprintf(&b, "catch rate (attacks stepped up or denied):           %.2f%% → %.2f%%\n", 100*c.Before, 100*c.After)
	}

	if len(r.Causes) > 0 {
		b.WriteString("\nwhat changed, and the rules behind it\n")
		for _, c := range r.Causes {
			fmt.Fprintf(&b, "  %s → %s: %d attempts:", c.From, c.To, c.Count)
			for i, rc := range c.Rules {
				if i == 5 {
					fmt.Fprintf(&b, " and %d more", len(c.Rules)-5)
					break
				}
				fmt.Fprintf(&b, " %s %d", rc.Rule, rc.Count)
				if i < len(c.Rules)-1 && i < 4 {
					b.WriteByte(',')
				}
			}
			b.WriteByte('\n')
		}
	}

	changed := slices.DeleteFunc(slices.Clone(r.Rules), func(rr RuleReport) bool {
		return rr.Before == rr.After && len(rr.Changes) == 0
	})
	if len(changed) > 0 {
		b.WriteString("\nrules whose matches changed (before → after)\n")
		for _, rr := range changed {
			fmt.Fprintf(&b, "  %-32s %8d → %-8d %s\n", rr.ID, rr.Before.Matches, rr.After.Matches, modeChange(rr))
		}
	}

	if failing := r.FailingRules(); len(failing) > 0 {
		b.WriteString("\nrules that failed at run time (a failing when counts as not matched; a failing reason gives the description)\n")
		for _, rr := range failing {
			fmt.Fprintf(&b, "  %-32s %s\n", rr.ID, rr.failures(r.Attempts))
		}
	}

	labelled := len(r.Labels) > 0
	for i, sh := range [][]replay.ShadowCounts{r.Shadow.Before, r.Shadow.After} {
		if len(sh) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\nshadow rules of the %s\n", [2]string{"baseline", "candidate"}[i])
		var sb strings.Builder
		replay.WriteShadow(&sb, sh, labelled)
		for _, line := range strings.Split(strings.TrimSuffix(sb.String(), "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	if l := r.Live; l != nil {
		fmt.Fprintf(&b, "\nlive decisions: the baseline reproduces %d of %d (%s); the candidate agrees with %d\n",
			l.BaselineSame, l.Compared, pct(l.BaselineSame, l.Compared), l.CandidateSame)
		if l.Warning != "" {
			fmt.Fprintf(&b, "warning: %s\n", l.Warning)
		}
	}
	if n := r.Input.Dropped; n > 0 {
		fmt.Fprintf(&b, "the capture has gaps: its sink dropped %d events\n", n)
	}
	if o := r.Outcomes; o.Before.Skipped+o.After.Skipped > 0 {
		fmt.Fprintf(&b, "outcomes that did not apply to a side's decision: baseline %d, candidate %d\n", o.Before.Skipped, o.After.Skipped)
	}

	if len(r.Samples) > 0 {
		b.WriteString("\nchanged attempts (a sample)\n")
		for _, s := range r.Samples {
			fmt.Fprintf(&b, "  line %d  %s  %s  ", s.Line, s.Time.UTC().Format("2006-01-02T15:04:05Z"), s.IP)
			if s.OtherTenant() {
				fmt.Fprintf(&b, "tenant %s  ", s.Tenant)
			}
			fmt.Fprintf(&b, "user %s", short(s.UserID))
			if s.Label != "" {
				fmt.Fprintf(&b, "  [%s]", s.Label)
			}
			fmt.Fprintf(&b, "\n    before: %-7s %3d  %s\n    after:  %-7s %3d  %s\n",
				s.Before.Action, s.Before.Score, reasons(s.Before.Reasons), s.After.Action, s.After.Score, reasons(s.After.Reasons))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (rs Ruleset) text() string {
	s := rs.Source + " rules"
	if len(rs.Versions) > 0 {
		s += " " + strings.Join(rs.Versions, ", then ")
	}
	return s + fmt.Sprintf(" (step_up at %d, deny at %d)", rs.Thresholds.StepUp, rs.Thresholds.Deny)
}

func writeMatrix(b *strings.Builder, m Matrix, indent string) {
	fmt.Fprintf(b, "%s%-10s", indent, "")
	for _, a := range Actions {
		fmt.Fprintf(b, " %10s", a)
	}
	b.WriteByte('\n')
	for _, x := range Actions {
		fmt.Fprintf(b, "%s%-10s", indent, x)
		for _, y := range Actions {
			fmt.Fprintf(b, " %10d", m[x.String()][y.String()])
		}
		b.WriteByte('\n')
	}
}

func diagonal(m Matrix) int {
	n := 0
	for _, a := range Actions {
		n += m[a.String()][a.String()]
	}
	return n
}

func modeChange(rr RuleReport) string {
	switch {
	case rr.Before.Mode == rr.After.Mode:
		return rr.After.Mode
	case rr.Before.Mode == "":
		return "new (" + rr.After.Mode + ")"
	case rr.After.Mode == "":
		return "removed"
	}
	return rr.Before.Mode + " → " + rr.After.Mode
}

func reasons(rs []engine.Reason) string {
	if len(rs) == 0 {
		return "(no rule)"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s(%+d", r.RuleID, r.Score)
		if r.Action != engine.ActionNone {
			parts[i] += " " + r.Action.String()
		}
		parts[i] += ")"
	}
	return strings.Join(parts, " ")
}

// short abbreviates a keyed identifier (32 hex digits) for a terminal.
func short(id string) string {
	if len(id) == 32 {
		return id[:12] + "…"
	}
	if id == "" {
		return "-"
	}
	return id
}

func pct(n, d int) string {
	if d == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(d))
}

func sortedLabels(m map[string]*LabelReport) []string {
	var ls []string
	for l := range m {
		if l != replay.LabelLegit {
			ls = append(ls, l)
		}
	}
	slices.Sort(ls)
	if _, ok := m[replay.LabelLegit]; ok {
		ls = append([]string{replay.LabelLegit}, ls...)
	}
	return ls
}

// FailingRules are the rules that failed at run time on either side, in
// the report's order.
func (r *Report) FailingRules() []RuleReport {
	var out []RuleReport
	for _, rr := range r.Rules {
		if rr.Before.failed() || rr.After.failed() {
			out = append(out, rr)
		}
	}
	return out
}

func (s RuleSide) failed() bool { return s.Errors+s.ReasonErrors > 0 }

// failures says on how many of the attempts the rule failed, per side.
func (rr RuleReport) failures(attempts int) string {
	var parts []string
	for i, s := range []RuleSide{rr.Before, rr.After} {
		if s.failed() {
			parts = append(parts, fmt.Sprintf("%s: %s (%s)", [2]string{"baseline", "candidate"}[i], s.failureCounts(attempts), s.Error))
		}
	}
	return strings.Join(parts, "; ")
}

// failureCounts says how often the rule's when and reason failed.
func (s RuleSide) failureCounts(attempts int) string {
	var parts []string
	if s.Errors > 0 {
		parts = append(parts, fmt.Sprintf("when on %d of %d attempts", s.Errors, attempts))
	}
	if s.ReasonErrors > 0 {
		parts = append(parts, fmt.Sprintf("reason on %d of its %d matches", s.ReasonErrors, s.Matches))
	}
	return strings.Join(parts, ", ")
}

// OtherTenant reports whether the sample is of a tenant other than the
// default one, which the text and the HTML then name: a user id is a
// tenant's (u000042 of acme is not u000042 of beta).
func (s *Sample) OtherTenant() bool { return s.Tenant != "" && s.Tenant != engine.DefaultTenant }

// tenantSamples reports whether a sample is of a tenant other than the
// default one.
func (r *Report) tenantSamples() bool {
	for i := range r.Samples {
		if r.Samples[i].OtherTenant() {
			return true
		}
	}
	return false
}
