//go:build race

package main

// raceEnabled: under the race detector the quality floors are skipped, to
// keep the suite's -race run short; .ci/run runs them without it.
const raceEnabled = true
