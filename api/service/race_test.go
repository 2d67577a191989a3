//go:build race

package service_test

// raceEnabled: the race detector allocates, and sync.Pool drops items
// at random under it, so allocation counts are compared without it.
const raceEnabled = true
