//go:build race

package benchmarks

// raceEnabled: the race detector's instrumentation allocates, so
// allocation budgets are only checked without it.
const raceEnabled = true
