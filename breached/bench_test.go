package breached

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/riskgate/riskgate/breached/hibpgen"
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

// BenchmarkDownloaderFolder builds a filter from a downloader folder of
// 16,384 range files (a sixty-fourth of a real one, ~86 lines per file as in
// a 90M-hash download) against a floor that only opens and reads every file
// the way the builder does. Run with -count to alternate the two; the
// ratio build/floor says what parsing and inserting add to the I/O.
func BenchmarkDownloaderFolder(b *testing.B) {
	dir := b.TempDir()
	const ranges = 1 << 14
	if err := hibpgen.WriteFolder(dir, hibpgen.Options{Ranges: ranges, Lines: ranges * 86, Seed: 9}); err != nil {
		b.Fatal(err)
	}
	sources, _, err := expandInputs([]Input{{Path: dir}}, true)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("floor-read", func(b *testing.B) {
		buf := make([]byte, chunkSize)
		for b.Loop() {
			for _, s := range sources {
				if _, ok, err := readSmall(s.path, buf, s.size); err != nil || !ok {
					b.Fatal(s.path, err)
				}
			}
		}
		b.ReportMetric(float64(ranges*86*b.N)/b.Elapsed().Seconds(), "lines/s")
	})
	b.Run("build-fuse8", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "f.rgbf")
		for b.Loop() {
			if _, err := Build(context.Background(), out, []Input{{Path: dir}}, BuildOptions{Kind: KindFuse8, Partial: true}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(ranges*86*b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
