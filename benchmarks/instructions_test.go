package benchmarks

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// scoreInstructionBudget is the most instructions a random-order Score may
// take under callgrind (the loop of TestScoreInstructions, 5,000 users):
// about 32,000 on 2026-12-04, where counts repeat within about 2% from run
// to run and machine to machine. The margin catches a large regression (a
// reflective path back on the hot path, a store that scans) and nothing
// smaller: instructions are not time, and this is a tripwire, not a
// benchmark.
const scoreInstructionBudget = 45_000

// scoreColdCodeBudget is the most lines of code (64 bytes each) a Score
// may fetch from beyond a 1 MiB cache when every cache it has is cold
// (TestScoreInstructions with RISKGATE_SCORE_COLD): about 1,230 on
// 2026-12-05 (78 KB of code touched per Score, twice its data). In a
// server the transport runs between two Scores and leaves the engine's
// code out of the core's caches, so these lines are fetched on every call
// (benchmarks/README.md, "the engine's code footprint"); inlining more
// (a PGO build measured 10% more) or a fat new path moves this count, not
// the instructions.
const scoreColdCodeBudget = 1_600

// TestScoreInstructionBudget counts the instructions of a fixed number of
// Scores with callgrind (running this test binary's TestScoreInstructions
// under valgrind) and fails above scoreInstructionBudget per Score. It
// needs valgrind and runs when RISKGATE_CALLGRIND is set (CI sets it, and
// RISKGATE_REQUIRE_VALGRIND to fail rather than skip without valgrind).
func TestScoreInstructionBudget(t *testing.T) {
	if os.Getenv("RISKGATE_CALLGRIND") == "" {
		t.Skip("set RISKGATE_CALLGRIND=1 to count a Score's instructions under valgrind")
	}
	valgrind, err := exec.LookPath("valgrind")
	if err != nil {
		if os.Getenv("RISKGATE_REQUIRE_VALGRIND") != "" {
			t.Fatal("valgrind is required (RISKGATE_REQUIRE_VALGRIND) and not installed")
		}
		t.Skip("valgrind not installed")
	}
	// A test binary of its own, built with its symbol table: the one go
	// test runs has none (it links with -s -w), and callgrind finds the
	// loop to count by its symbol.
	bin := filepath.Join(t.TempDir(), "benchmarks.test")
	if b, err := exec.Command("go", "test", "-c", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, b)
	}
	// Two loop lengths, differenced: what the loop's first Scores pay
	// once (the stack, the pools) cancels out.
	count := func(n int) float64 {
		out := filepath.Join(t.TempDir(), "callgrind.out")
		cmd := exec.Command(valgrind, "--tool=callgrind", "--toggle-collect=*benchmarks.scoreLoop",
			"--callgrind-out-file="+out, bin, "-test.run", "^TestScoreInstructions$", "-test.count", "1")
		// cpu.rdtscp=off: valgrind (3.19) cannot decode RDTSCP, which the
		// runtime's cputicks uses on a CPU that has it, when a runtime
		// lock has to sleep: rare, so the run crashed now and then
		// ("unhandled instruction bytes: 0xF 0x1 0xF9" in CI).
		cmd.Env = append(os.Environ(), "RISKGATE_SCORE_LOOP="+strconv.Itoa(n), "RISKGATE_SCORE_USERS=5000",
			"GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("valgrind: %v\n%s", err, b)
		}
		return callgrindTotal(t, out)
	}
	const short, long = 500, 2500
	perScore := (count(long) - count(short)) / (long - short)
	if perScore <= 0 {
		// No Score costs nothing: one run of the pair counted something
		// the other did not (once in CI, -6,607: callgrind follows the
		// loop's stack, and a goroutine switch or the collector's work
		// can fall inside or outside it). Measured again; a regression is
		// over the budget both times, not below zero.
		t.Logf("%.0f instructions per Score: not a measure, counted again", perScore)
		perScore = (count(long) - count(short)) / (long - short)
	}
	t.Logf("%.0f instructions per Score (budget %d)", perScore, scoreInstructionBudget)
	if perScore <= 0 || perScore > scoreInstructionBudget {
		t.Errorf("%.0f instructions per Score under callgrind, budget %d", perScore, scoreInstructionBudget)
	}

	// The code footprint: every Score after evictCaches, whose own
	// accesses the second toggle leaves out. Each Score starts cold, so
	// one loop length suffices.
	const cold = 1000
	out := filepath.Join(t.TempDir(), "callgrind.cold")
	cmd := exec.Command(valgrind, "--tool=callgrind", "--cache-sim=yes",
		"--I1=32768,8,64", "--D1=49152,12,64", "--LL=1048576,16,64",
		"--toggle-collect=*benchmarks.scoreLoop", "--toggle-collect=*benchmarks.evictCaches",
		"--callgrind-out-file="+out, bin, "-test.run", "^TestScoreInstructions$", "-test.count", "1")
	cmd.Env = append(os.Environ(), "RISKGATE_SCORE_LOOP="+strconv.Itoa(cold), "RISKGATE_SCORE_USERS=5000",
		"RISKGATE_SCORE_COLD="+strconv.Itoa(4<<20), "GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("valgrind: %v\n%s", err, b)
	}
	ev := callgrindEvents(t, out)
	code, data := ev["ILmr"]/cold, (ev["DLmr"]+ev["DLmw"])/cold
	t.Logf("a cold Score fetches %.0f lines of code and %.0f of data from beyond 1 MiB (code budget %d)", code, data, scoreColdCodeBudget)
	if code <= 0 || code > scoreColdCodeBudget {
		t.Errorf("a cold Score fetches %.0f lines of code, budget %d", code, scoreColdCodeBudget)
	}
}

// callgrindTotal reads the instruction total of a callgrind output file.
func callgrindTotal(t *testing.T, path string) float64 {
	t.Helper()
	return callgrindEvents(t, path)["Ir"]
}

// callgrindEvents reads the event totals of a callgrind output file (its
// "totals:" or "summary:" line), by the names its "events:" line gives.
func callgrindEvents(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if rest, ok := strings.CutPrefix(line, "events:"); ok {
			names = strings.Fields(rest)
			continue
		}
		for _, p := range []string{"totals:", "summary:"} {
			rest, ok := strings.CutPrefix(line, p)
			if !ok {
				continue
			}
			fields := strings.Fields(rest)
			if len(names) == 0 || len(fields) > len(names) {
				t.Fatalf("%s: totals %q do not match events %q", path, line, names)
			}
			// The format lets trailing zero counts be left out.
			ev := make(map[string]float64, len(names))
			for i, name := range names[:len(fields)] {
				v, err := strconv.ParseFloat(fields[i], 64)
				if err != nil {
					t.Fatalf("%s: %q: %v", path, line, err)
				}
				ev[name] = v
			}
			return ev
		}
	}
	t.Fatalf("%s: no totals line (err %v)", path, s.Err())
	return nil
}
