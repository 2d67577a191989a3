//go:build race

package grpcapi

// raceEnabled: the race detector allocates, and sync.Pool drops items
// at random under it, so allocation budgets are checked without it.
const raceEnabled = true
