//go:build race

package rules

// raceEnabled: the race detector slows the two evaluation paths unequally,
// so the speed budget is only checked without it.
const raceEnabled = true
