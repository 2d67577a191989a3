//go:build race

package main

// raceEnabled builds the binary under test with -race when the tests run
// with it, so the packages compiled for the test are reused.
const raceEnabled = true
