package breached

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/bits-and-blooms/bloom/v3"
)

func TestDefault(t *testing.T) {
	f, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range []string{"123456", "password", "qwerty", "dragon", "letmein"} {
		if m := f.Lookup(sha(p)); !m.Found || m.Tier != 0 || m.MinCount != 0 {
			t.Errorf("%q: got %+v, want found without tier or count", p, m)
		}
	}
	for _, p := range []string{"correct horse battery staple 8#Lq", "vT9$kW2!mQz7@rXp", "Password123456789!"} {
		if m := f.Lookup(sha(p)); m.Found {
			t.Errorf("strong password %q reported breached", p)
		}
	}
	in := f.Info()
	if in.Kind != KindBloom || in.Entries != 49233 || !strings.Contains(in.Source, "zxcvbn-ts") || in.TargetFPR != 1e-6 {
		t.Errorf("unexpected info %+v", in)
	}
	if in.Size > 200<<10 {
		t.Errorf("embedded filter grew to %d bytes", in.Size)
	}
}

// Every inserted hash must be found, in a tier at least as high as its count
// allows (a higher one only by a false positive of that tier's filter).
func TestRoundTrip(t *testing.T) {
	es := genEntries(30000, 1)
	tiers := []uint64{1, 100, 10000}
	for _, kind := range []Kind{KindBloom, KindFuse8, KindFuse16, KindFuse32} {
		for _, tiered := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/tiers=%v", kind, tiered), func(t *testing.T) {
				opt := BuildOptions{Kind: kind, FPR: 1e-4}
				if tiered {
					opt.Tiers = tiers
				}
				path, res := build(t, es, opt)
				f := open(t, path)
				if err := f.Verify(); err != nil {
					t.Fatal(err)
				}
				if res.Entries != uint64(len(es)) || res.Malformed != 0 {
					t.Fatalf("entries %d malformed %d, want %d and 0", res.Entries, res.Malformed, len(es))
				}
				tooHigh := 0
				for _, e := range es {
					m := f.Lookup(e.sum)
					if !m.Found {
						t.Fatalf("inserted hash (count %d) not found", e.count)
					}
					if !tiered {
						if m.Tier != 0 || m.MinCount != 1 {
							t.Fatalf("untiered match %+v, want tier 0 min count 1", m)
						}
						continue
					}
					want := 1
					for i, th := range tiers {
						if e.count >= th {
							want = i + 1
						}
					}
					if m.Tier < want || m.MinCount != tiers[m.Tier-1] {
						t.Fatalf("count %d: match %+v, want tier %d", e.count, m, want)
					}
					if m.Tier > want {
						tooHigh++
					}
				}
				// fuse8 misplaces about 1/256 of the lower tiers.
				if limit := len(es)/100 + 5; tooHigh > limit {
					t.Errorf("%d hashes placed in too high a tier, want at most %d", tooHigh, limit)
				}
				in := f.Info()
				// A Bloom filter counts distinct hashes by their bits: a
				// new one whose bits were all set is not counted, about
				// n·FPR/(k+1) of them (0.2 here; 5 allows for chance).
				want, slack := uint64(len(es)), uint64(0)
				if kind == KindBloom {
					slack = 5
				}
				if in.Kind != kind || in.Tiered != tiered || in.Entries > want || in.Entries+slack < want || in.Entries+res.Repeated != want {
					t.Errorf("info %+v, %d repeated", in, res.Repeated)
				}
			})
		}
	}
}

// The FPR is measured at 1e-3 (Bloom) and 2^-8 (fuse8) because a million
// probes of a 1e-6 filter expect one false positive, which measures nothing;
// at 1e-3 they expect a thousand, so a factor 2 is ~30 standard deviations
// and this test can only fail when the filter is really wrong. The probes
// are seeded: the result is deterministic.
func TestMeasuredFPR(t *testing.T) {
	es := genEntries(100000, 2)
	probes := randomSums(1_000_000, 3)
	for _, c := range []struct {
		kind   Kind
		target float64
	}{{KindBloom, 1e-3}, {KindBloom, 1e-2}, {KindFuse8, 1.0 / 256}} {
		t.Run(fmt.Sprintf("%v/%g", c.kind, c.target), func(t *testing.T) {
			path, _ := build(t, es, BuildOptions{Kind: c.kind, FPR: c.target})
			f := open(t, path)
			fp := 0
			for _, p := range probes {
				if f.Lookup(p).Found {
					fp++
				}
			}
			got := float64(fp) / float64(len(probes))
			t.Logf("%v: measured FPR %.3g, target %.3g, expected %.3g, %.2f bits/entry", c.kind, got, c.target, f.Info().ExpectedFPR, f.Info().BitsPerEntry)
			if got > 2*c.target || got < c.target/2 {
				t.Errorf("measured FPR %.3g not within 2x of %.3g", got, c.target)
			}
		})
	}
}

// The parallel atomic builder must produce exactly the bits that
// bits-and-blooms' own sequential Add produces, and Lookup must agree with
// bloom/v3's Test, so the Bloom body really is a bloom/v3 filter.
func TestBloomMatchesBitsAndBlooms(t *testing.T) {
	es := genEntries(20000, 4)
	path, _ := build(t, es, BuildOptions{FPR: 1e-5, Workers: 4})
	f := open(t, path)
	in := f.Info()
	ref := bloom.New(uint(in.M), uint(in.K))
	for _, e := range es {
		ref.Add(e.sum[:])
	}
	l := f.hdr.levels[0]
	words := unsafe.Slice((*uint64)(unsafe.Pointer(&f.data[l.offset])), l.length/8)
	refWords := ref.BitSet().Words()
	if len(words) != len(refWords) {
		t.Fatalf("%d words, bits-and-blooms has %d", len(words), len(refWords))
	}
	for i := range words {
		if words[i] != refWords[i] {
			t.Fatalf("word %d differs: %x vs bits-and-blooms %x", i, words[i], refWords[i])
		}
	}
	for _, p := range randomSums(100000, 5) {
		if f.Lookup(p).Found != ref.Test(p[:]) {
			t.Fatal("Lookup disagrees with bloom/v3 Test")
		}
	}
}

func TestSizing(t *testing.T) {
	es := genEntries(50000, 6)
	path, _ := build(t, es, BuildOptions{Expected: 50000})
	in := open(t, path).Info()
	wantM, wantK := bloom.EstimateParameters(50000, DefaultFPR)
	if in.M != uint64(wantM) || in.K != uint64(wantK) {
		t.Errorf("m=%d k=%d, want bloom.EstimateParameters' %d, %d", in.M, in.K, wantM, wantK)
	}
	theory := -math.Log2(DefaultFPR) / math.Ln2
	if in.BitsPerEntry < theory || in.BitsPerEntry > theory*1.01 {
		t.Errorf("%.2f bits per entry, theory %.2f", in.BitsPerEntry, theory)
	}
	if in.ExpectedFPR > DefaultFPR*1.001 { // EstimateParameters rounds
		t.Errorf("expected FPR %g above target", in.ExpectedFPR)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	es := genEntries(5000, 7)
	for _, kind := range []Kind{KindBloom, KindFuse16} {
		path, _ := build(t, es, BuildOptions{Kind: kind, Tiers: []uint64{1, 100}})
		f := open(t, path)
		sum := es[0].sum
		if n := testing.AllocsPerRun(100, func() { f.Lookup(sum) }); n != 0 {
			t.Errorf("%v: Lookup allocates %v times", kind, n)
		}
	}
}

func TestBloomHashesMatchLocations(t *testing.T) {
	for _, d := range randomSums(100000, 8) {
		want := bloom.Locations(d[:], 40)
		h := bloomHashes(&d)
		for i, w := range want {
			if got := bloomLocation(&h, uint64(i)); got != w {
				t.Fatalf("location %d of %x: %d, bloom/v3 says %d", i, d, got, w)
			}
		}
	}
}
