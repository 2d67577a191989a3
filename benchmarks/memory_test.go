package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riskgate/riskgate/engine"
	"github.com/riskgate/riskgate/engine/memstore"
)

// storeMemory is what a population costs the memory store, per user.
type storeMemory struct {
	heap float64 // live Go heap after a collection, plus the store's own off-heap bytes
	rss  float64 // resident set size
}

// measureStoreMemory builds a population of n users (five completed
// logins each, each user from an address of its own, as in
// BenchmarkScoreRandom) on a fresh memory store and returns the memory
// it added, per user. The engine is warmed first, so that what every
// engine holds whatever the population (the user-agent cache, the RBA
// sketch) is not counted.
func measureStoreMemory(tb testing.TB, n int) storeMemory {
	tb.Helper()
	store := memstore.New(memstore.Options{MaxUsers: 2 * n})
	tb.Cleanup(func() { store.Close(context.Background()) })
	newPopulationOf(tb, 10, func(o *engine.Options) { o.Store = store })
	heap0, rss0 := settledMemory(store)
	p := newPopulationOf(tb, n, func(o *engine.Options) { o.Store = store })
	// The population's attempts are the benchmark's, not the store's
	// (about 290 bytes a user, which figures before 2026-12-04 included).
	p.attempts = nil
	heap1, rss1 := settledMemory(store)
	if path := os.Getenv("RISKGATE_HEAP_PROFILE"); path != "" {
		writeHeapProfile(tb, path)
	}
	runtime.KeepAlive(p)
	if got, _, _ := store.Len(); got < n {
		tb.Fatalf("store holds %d profiles, want %d", got, n)
	}
	return storeMemory{heap: float64(heap1-heap0) / float64(n), rss: float64(rss1-rss0) / float64(n)}
}

// settledMemory collects garbage, returns freed memory to the system and
// reads the live heap (plus what the store holds outside it) and RSS.
func settledMemory(s *memstore.Store) (heap, rss int64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc) + offHeap(s), vmRSS()
}

// writeHeapProfile writes the live heap's profile to path (with
// RISKGATE_HEAP_PROFILE set, while the population is alive; run with
// -test.memprofilerate 1 for every allocation).
func writeHeapProfile(tb testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		tb.Fatal(err)
	}
}

// vmRSS is this process's resident set size in bytes, from /proc.
func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			kb, _ := strconv.ParseInt(string(bytes.Fields(v)[0]), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkStoreMemory reports the memory store's cost per user after
// 100,000 users: live heap after a collection (heap-B/user) and resident
// memory (rss-B/user). It runs once whatever -benchtime says.
func BenchmarkStoreMemory(b *testing.B) {
	m := measureStoreMemory(b, randomUsers)
	for b.Loop() {
	}
	b.ReportMetric(m.heap, "heap-B/user")
	b.ReportMetric(m.rss, "rss-B/user")
}

// offHeap is what the store holds outside the Go heap.
func offHeap(*memstore.Store) int64 { return 0 }

// TestStoreMemoryBudget keeps the memory store's cost per user from
// creeping up: the live heap after a collection is deterministic for a
// given population, whatever the machine is doing. Measured 463 bytes
// per user (20,000 users; 429 at 100,000) on 2026-12-04; the budget is
// issue 15's goal, which leaves room for noise, not for a regression. CI
// runs it without the race detector.
func TestStoreMemoryBudget(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds a population; the race detector's allocations blur heap figures")
	}
	const budget = 500
	m := measureStoreMemory(t, 20_000)
	t.Logf("memory store: %.0f B of live heap, %.0f B resident per user", m.heap, m.rss)
	if m.heap > budget {
		t.Errorf("memory store: %.0f B of live heap per user, budget %d", m.heap, budget)
	}
}

// measureAttemptMemory is what the memory store holds a Score's
// attempt_id for (Options.MaxAttempts: its keyed id, owner and kept
// decision, for retries and redeliveries), per attempt: n logins of a
// warm population scored without ids, then n more with one each, the live
// heap measured between. The engine keeps no retry cache, as a node on
// the memory store does. largest makes the attempts the largest kept
// decisions the default rules give: the longest tenant and attempt ids
// validation allows, and failures of a password sprayed on a few
// accounts from one address, which fire ten reasons.
func measureAttemptMemory(tb testing.TB, n int, largest bool) float64 {
	tb.Helper()
	store := memstore.New(memstore.Options{MaxAttempts: 2 * n})
	tb.Cleanup(func() { store.Close(context.Background()) })
	p := newPopulationOf(tb, 1000, func(o *engine.Options) { o.Store, o.RetryEntries = store, -1 })
	at := time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)
	tenant, pad := strings.Repeat("t", engine.MaxTenantLen), strings.Repeat("x", engine.MaxIDLen-16)
	score := func(from, to int, ids bool) {
		for i := from; i < to; i++ {
			a := p.attempts[i%len(p.attempts)]
			if largest {
				a = engine.Attempt{Tenant: tenant, UserID: fmt.Sprint("victim-", i%50), Username: fmt.Sprint("victim-", i%50),
					IP: "81.2.69.160", UserAgent: "curl/8.0", Result: engine.ResultPasswordBad, PasswordSHA1: fmt.Sprintf("%040x", i%3)}
			}
			a.Time = at.Add(time.Duration(i) * time.Millisecond)
			if ids {
				a.AttemptID = fmt.Sprintf("%016d", i)
				if largest {
					a.AttemptID += pad
				}
			}
			d, err := p.e.Score(context.Background(), a)
			if err != nil {
				tb.Fatal(err)
			}
			if largest && ids && i == 2*n-1 && len(d.Reasons) < 5 {
				tb.Fatalf("the largest attempts give %d reasons, want the attack's", len(d.Reasons))
			}
		}
	}
	// The users' profiles and windows as the attempts will find them.
	score(0, n, false)
	heap0, _ := settledMemory(store)
	score(n, 2*n, true)
	heap1, _ := settledMemory(store)
	runtime.KeepAlive(p)
	if got := store.Stats().Attempts.Entries; got != n {
		tb.Fatalf("store holds %d attempts, want %d", got, n)
	}
	return float64(heap1-heap0) / float64(n)
}

// BenchmarkAttemptMemory reports the memory store's cost of an attempt
// kept with its decision, after 100,000 of them, as --memory-max-attempts
// holds at its default: ordinary logins (heap-B/attempt) and the largest
// (heap-B/largest). It runs once whatever -benchtime says.
func BenchmarkAttemptMemory(b *testing.B) {
	m := measureAttemptMemory(b, 100_000, false)
	l := measureAttemptMemory(b, 100_000, true)
	for b.Loop() {
	}
	b.ReportMetric(m, "heap-B/attempt")
	b.ReportMetric(l, "heap-B/largest")
}

// TestAttemptMemoryBudget keeps an attempt kept for retries from creeping
// up, as TestStoreMemoryBudget does a user: 397 bytes of live heap an
// attempt with an ordinary decision on 2026-12-06 (20,000 attempts; 410
// at 100,000), and 2,855 with the largest (2,876), against budgets that leave
// room for noise, not for a regression. The attempts table is bounded by
// count (--memory-max-attempts), so the largest bounds its bytes.
func TestAttemptMemoryBudget(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds a population; the race detector's allocations blur heap figures")
	}
	for _, tc := range []struct {
		largest bool
		budget  float64
	}{{false, 500}, {true, 3500}} {
		m := measureAttemptMemory(t, 20_000, tc.largest)
		t.Logf("memory store: %.0f B of live heap an attempt kept with its decision (largest: %v)", m, tc.largest)
		if m > tc.budget {
			t.Errorf("memory store: %.0f B of live heap an attempt kept with its decision (largest: %v), budget %.0f", m, tc.largest, tc.budget)
		}
	}
}
