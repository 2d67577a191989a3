package breached

import (
	"fmt"
	"testing"
)

// BenchmarkLookup measures Lookup on a 1M-entry filter of each kind, for
// members (hit) and random non-members (miss). At 1M entries the filters fit
// in the L2/L3 caches; benchmarks/breached measures 100M entries, where
// every probe is a cache miss.
func BenchmarkLookup(b *testing.B) {
	es := genEntries(1_000_000, 30)
	probes := randomSums(1<<16, 31)
	for _, kind := range []Kind{KindBloom, KindFuse8, KindFuse16, KindFuse32} {
		path, _ := build(b, es, BuildOptions{Kind: kind})
		f := open(b, path)
		b.Run(fmt.Sprintf("%v/hit", kind), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if !f.Lookup(es[i&(1<<16-1)].sum).Found {
					b.Fatal("member not found")
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("%v/miss", kind), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				f.Lookup(probes[i&(1<<16-1)])
				i++
			}
		})
	}
}

// BenchmarkParseHIBP is the per-line parsing cost, without I/O or insertion.
func BenchmarkParseHIBP(b *testing.B) {
	line := []byte("7C4A8D09CA3762AF61E59520943DC26494F8941B:24230577\r")
	b.SetBytes(int64(len(line) + 1))
	for b.Loop() {
		if _, _, r := parseHIBP(line); r != reasonOK {
			b.Fatal(r)
		}
	}
}

// BenchmarkFaultRecover is what the fault recovery adds to a lookup: the embedded
// filter looked up directly (the floor) and through a Set, whose Lookup
// runs under filesnap.Recover. Alternate the two with -count to compare.
func BenchmarkFaultRecover(b *testing.B) {
	probes := randomSums(1<<10, 32)
	f, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	s := &Set{builtin: f}
	b.Run("filter", func(b *testing.B) {
		i := 0
		for b.Loop() {
			f.Lookup(probes[i&(1<<10-1)])
			i++
		}
	})
	b.Run("set", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s.Lookup(probes[i&(1<<10-1)])
			i++
		}
	})
}
