//go:build race

package main

// raceEnabled: under the race detector the quality test replays less
// traffic, to keep the suite's -race run short.
const raceEnabled = true
