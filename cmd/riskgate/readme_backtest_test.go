package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/rules"
)

// TestREADMEBacktest runs the README's analyst example (simulate, a
// candidate rules file, backtest with a friction gate) as it is written
// and checks the output the README shows after it: every line shown,
// in order, but for the run's duration and the lines elided with "...".
// The simulation is deterministic, so when detection changes, the README's
// numbers must change with it. Under the race detector the backtest takes
// minutes: .ci/run runs this test on its own, without it.
func TestREADMEBacktest(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds the binary and backtests 84,000 attempts twice; .ci/run runs it without -race")
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script, shown, line := backtestExample(t, string(data))
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules", "default.yaml"), rules.DefaultSource().Data, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	sh := exec.Command("bash", "-c", script)
	sh.Dir = dir
	sh.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := sh.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("README.md:%d: want exit status 3 (the friction gate failed), got %v\n%s", line, err, out)
	}
	duration := regexp.MustCompile(`\) in [0-9.]+m?s$`)
	got := strings.Split(string(out), "\n")
	next := 0
	for _, want := range strings.Split(shown, "\n") {
		if strings.TrimSpace(want) == "..." {
			continue
		}
		want = duration.ReplaceAllString(want, ")")
		found := false
		for ; next < len(got); next++ {
			if duration.ReplaceAllString(got[next], ")") == want {
				found, next = true, next+1
				break
			}
		}
		if !found {
			t.Fatalf("README.md:%d: the output shown has %q, which the run does not print (in that order); the run printed:\n%s", line, want, out)
		}
	}
}

// backtestExample finds the README's shell block that starts with
// "riskgate simulate" and the plain block after it, the output shown.
func backtestExample(t *testing.T, readme string) (script, shown string, line int) {
	t.Helper()
	start := strings.Index(readme, "```sh\nriskgate simulate ")
	if start < 0 {
		t.Fatal("README.md: no ```sh block starting with riskgate simulate")
	}
	line = strings.Count(readme[:start], "\n") + 1
	body := readme[start+len("```sh\n"):]
	end := strings.Index(body, "\n```\n")
	if end < 0 {
		t.Fatalf("README.md:%d: the block does not end", line)
	}
	script, rest := body[:end], body[end+len("\n```\n"):]
	rest = strings.TrimLeft(rest, "\n")
	if !strings.HasPrefix(rest, "```\n") {
		t.Fatalf("README.md:%d: no output block after the example", line)
	}
	rest = rest[len("```\n"):]
	if end = strings.Index(rest, "\n```"); end < 0 {
		t.Fatalf("README.md:%d: the output block does not end", line)
	}
	return script, rest[:end], line
}
