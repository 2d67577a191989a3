package capture

import (
	"context"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

func sample() (*engine.Attempt, *engine.Decision) {
	a := &engine.Attempt{UserID: "u-1", Username: "alice@example.com", IP: "81.2.69.160", DeviceID: "d-1",
		PasswordSHA1: strings.Repeat("ab", 20), Result: engine.ResultPasswordOK, UserAgent: "Mozilla/5.0"}
	d := &engine.Decision{DecisionID: "01KAV2X0M8Q6E4W9S1B3N7T5YC", Tenant: "default", Action: engine.ActionAllow, RulesVersion: "v1"}
	d.Signals.Attempt.Username = a.Username
	d.Signals.Password.Status = "clean"
	return a, d
}

// Observing a decision on the scoring path allocates nothing: the event is
// copied into the queue by value, and keyed and encoded off the path.
func TestDecidedDoesNotAllocate(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector allocates; .ci/run checks this without it")
	}
	// The writer is held while the path is measured: AllocsPerRun counts
	// the whole process's allocations, and the writer's keying and
	// encoding, off the path, would be counted with it whenever it got a
	// core (as it did on a busy machine).
	hold := make(chan struct{})
	s, err := newSink(Options{Dir: t.TempDir(), Secret: []byte(secret), Buffer: 1 << 16}, hold)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	a, d := sample()
	n := testing.AllocsPerRun(1000, func() { s.Decided(a, d, 0) })
	close(hold)
	if n != 0 {
		t.Errorf("Decided allocates %.1f times", n)
	}
}

// BenchmarkDecided is the capture's cost on the scoring path.
func BenchmarkDecided(b *testing.B) {
	s, err := New(Options{Dir: b.TempDir(), Secret: []byte(secret), Compress: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	a, d := sample()
	b.ReportAllocs()
	for b.Loop() {
		s.Decided(a, d, 0)
	}
	b.StopTimer()
	if err := s.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	st := s.Stats()
	b.ReportMetric(float64(st.Dropped)/float64(st.Dropped+st.Attempts), "dropped/op")
}

// BenchmarkWriter is the writer's throughput (keying, encoding, gzip):
// the rate of decisions the capture keeps up with, on a core of its own.
func BenchmarkWriter(b *testing.B) {
	for _, compress := range []bool{false, true} {
		b.Run(map[bool]string{false: "jsonl", true: "gzip"}[compress], func(b *testing.B) {
			s, err := New(Options{Dir: b.TempDir(), Secret: []byte(secret), Compress: compress, Buffer: b.N + 1})
			if err != nil {
				b.Fatal(err)
			}
			a, d := sample()
			for range b.N {
				s.Decided(a, d, 0)
			}
			if err := s.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			if st := s.Stats(); st.Dropped != 0 {
				b.Fatalf("%d dropped", st.Dropped)
			}
		})
	}
}
