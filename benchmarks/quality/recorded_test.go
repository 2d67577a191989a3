package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/simulator"
)

// TestRecordedMatrix runs the matrices benchmarks/README.md records (seeds
// 1-5 at two sizes and a busy office; seeds 6-10 at the two sizes) and
// checks that the README holds every row of their tables as the benchmark
// prints them today, and that docs/detection.md quotes them: its table's
// attempts, worst run and median (of the 15 runs), the busy office's
// worst friction and seeds 6-10's. The simulation and the replay are
// deterministic, so a rule or signal change that moves a figure must
// record it. Both pages had drifted: the README's recorded tables were
// older than the rules, and detection.md gave the 2,000-user median as the
// 15 runs' and a busy-office worst of an earlier run.
//
// About two minutes on two cores: RISKGATE_QUALITY_MATRIX=1 runs it
// (.ci/run does), never under the race detector.
func TestRecordedMatrix(t *testing.T) {
	if raceEnabled || os.Getenv("RISKGATE_QUALITY_MATRIX") == "" {
		t.Skip("set RISKGATE_QUALITY_MATRIX=1 to run the recorded matrices (about two minutes; not under -race)")
	}
	readme := readDoc(t, "../README.md")
	detection := readDoc(t, "../../docs/detection.md")
	readmeLines := map[string]bool{}
	for _, l := range strings.Split(readme, "\n") {
		readmeLines[strings.TrimSpace(l)] = true
	}

	// matrix runs seeds at sizes and checks the README's copy of its
	// tables: all of them, or the figures' alone (seeds 6-10).
	matrix := func(seeds []uint64, sizes []size, figuresOnly bool) []cell {
		base := options{sim: simulator.DefaultConfig(), geoDir: t.TempDir()}
		cells, err := runMatrix(context.Background(), base, seeds, sizes, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var md strings.Builder
		MatrixMarkdown(&md, cells)
		printed := md.String()
		if figuresOnly {
			printed, _, _ = strings.Cut(printed, "\n\n")
		}
		for _, l := range strings.Split(printed, "\n") {
			if strings.HasPrefix(l, "|") && !readmeLines[l] {
				t.Errorf("benchmarks/README.md lacks, for seeds %v:\n%s", seeds, l)
			}
		}
		return cells
	}
	recorded := matrix([]uint64{1, 2, 3, 4, 5}, []size{{Users: 300, Days: 10}, {Users: 2000, Days: 28}, {Users: 2000, Days: 14, Office: true}}, false)

	// docs/detection.md's table: attack, attempts, worst, median, target.
	rows := map[string]struct {
		figure, label string // label: whose attempts the row counts; "" for none
	}{
		"credential stuffing":                   {"credential stuffing stopped", simulator.LabelCredentialStuffing},
		"password spraying":                     {"password spraying stopped", simulator.LabelPasswordSpray},
		"session hijacks":                       {"session hijacks stopped", simulator.LabelImpossibleTravel},
		"slow brute force":                      {"brute force stopped", simulator.LabelBruteForce},
		"targeted takeovers":                    {"targeted takeovers stopped", simulator.LabelAccountTakeover},
		"legitimate logins challenged":          {"legitimate logins challenged", simulator.LabelLegit},
		"legitimate logins denied":              {"legitimate logins denied", ""},
		"known-device successful logins denied": {"known-device successful logins denied", ""},
	}
	seen := 0
	for _, l := range strings.Split(detection, "\n") {
		cols := strings.Split(strings.Trim(strings.TrimSpace(l), "|"), "|")
		if len(cols) != 5 {
			continue
		}
		for i := range cols {
			cols[i] = strings.TrimSpace(cols[i])
		}
		row, ok := rows[cols[0]]
		if !ok {
			continue
		}
		seen++
		f := figureNamed(t, row.figure)
		st := f.stats(recorded)
		if row.label != "" {
			total := 0
			for _, c := range recorded {
				total += c.Report.counts(row.label).Total
			}
			if got := strings.ReplaceAll(cols[1], ",", ""); got != strconv.Itoa(total) {
				t.Errorf("docs/detection.md, %s: %s attempts, the runs had %d", cols[0], cols[1], total)
			}
		}
		checkQuoted(t, "docs/detection.md, "+cols[0]+", worst run", cols[2], f, st.Worst)
		checkQuoted(t, "docs/detection.md, "+cols[0]+", median", cols[3], f, st.Median)
	}
	if seen != len(rows) {
		t.Errorf("docs/detection.md: found %d of the table's %d rows", seen, len(rows))
	}

	var office []cell
	for _, c := range recorded {
		if c.Size.Office {
			office = append(office, c)
		}
	}
	prose := strings.Join(strings.Fields(detection), " ")
	challenged := figureNamed(t, "legitimate logins challenged")
	if m := regexp.MustCompile(`Measured on the busy office: .*? ([0-9.]+%) challenged at worst`).FindStringSubmatch(prose); m == nil {
		t.Error("docs/detection.md: no busy office's worst friction found")
	} else {
		checkQuoted(t, "docs/detection.md, the busy office's friction at worst", m[1], challenged, challenged.stats(office).Worst)
	}
	// "What legitimate users see": the rules behind the friction.
	friction := map[string]int{}
	for _, c := range recorded {
		for id, n := range c.Report.FrictionRules {
			friction[id] += n
		}
	}
	for quote, rule := range map[string]string{
		"a new device (":                "new-device",
		"the targeted-attacker score (": "new-device-unlike-user",
		"or an unusual hour (":          "new-device-odd-context",
		"stuffing waves (":              "failure-wave",
	} {
		_, after, ok := strings.Cut(prose, quote)
		n, _, _ := strings.Cut(after, " ")
		n = strings.ReplaceAll(strings.TrimRight(n, ",)"), ",", "")
		if !ok || n != strconv.Itoa(friction[rule]) {
			t.Errorf("docs/detection.md: %s%s...: %s matched %d legitimate logins", quote, n, rule, friction[rule])
		}
	}

	unseen := matrix([]uint64{6, 7, 8, 9, 10}, []size{{Users: 300, Days: 10}, {Users: 2000, Days: 28}}, true)
	hijacks := 0
	for _, c := range unseen {
		hijacks += c.Report.counts(simulator.LabelImpossibleTravel).Total
	}
	want := fmt.Sprintf("hijacks 100%% of %d, legitimate logins challenged %.2f%% worst", hijacks, 100*challenged.stats(unseen).Worst)
	if !strings.Contains(prose, want) {
		t.Errorf("docs/detection.md does not say of seeds 6-10 %q", want)
	}
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func figureNamed(t *testing.T, name string) *figure {
	t.Helper()
	for i := range figures {
		if figures[i].name == name {
			return &figures[i]
		}
	}
	t.Fatalf("no figure %q", name)
	return nil
}

// checkQuoted compares a figure quoted in prose ("99.33%", "100%", "0")
// with the measured value, at the two decimals the benchmark prints.
func checkQuoted(t *testing.T, where, quoted string, f *figure, v float64) {
	t.Helper()
	q, err := strconv.ParseFloat(strings.TrimSuffix(strings.ReplaceAll(quoted, ",", ""), "%"), 64)
	if err != nil {
		t.Errorf("%s: %q is no number", where, quoted)
		return
	}
	measured := f.format(v)
	if !f.count {
		v *= 100
	}
	if math.Abs(q-math.Round(v*100)/100) > 1e-9 {
		t.Errorf("%s: %s, measured %s", where, quoted, measured)
	}
}
