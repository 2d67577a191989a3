//go:build race

package capture

// raceDetector: the race detector allocates on its own (sync.Pool drops,
// shadow state), so allocation counts are checked by the run without it
// (.ci/run's "Alloc|DoesNotAllocate|Budget" step).
const raceDetector = true
