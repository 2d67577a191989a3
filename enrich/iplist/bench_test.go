package iplist

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/riskgate/riskgate/engine"
)

// writeBig writes n random prefixes to three lists (60% IPv4 /24-/32, 40%
// IPv6 /32-/64, some nested across lists) and returns the options.
func writeBig(tb testing.TB, n int) (Options, []netip.Addr) {
	tb.Helper()
	dir := tb.TempDir()
	r := rand.New(rand.NewPCG(7, 7))
	opts := Options{Lists: map[string]string{}, Logger: discard}
	var probes []netip.Addr
	for li, name := range []string{"deny", "corp_vpn", "partners"} {
		path := filepath.Join(dir, name+".txt")
		f, err := os.Create(path)
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriter(f)
		for i := range n / 3 {
			var p netip.Prefix
			if i%5 < 3 {
				a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(222)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
				p = netip.PrefixFrom(a, 24+r.IntN(9)).Masked()
			} else {
				var b [16]byte
				b[0], b[1] = 0x20, byte(li)
				for j := 2; j < 8; j++ {
					b[j] = byte(r.IntN(256))
				}
				p = netip.PrefixFrom(netip.AddrFrom16(b), 32+r.IntN(33)).Masked()
			}
			fmt.Fprintln(w, p)
			if i%1000 == 0 {
				probes = append(probes, p.Addr())
			}
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		f.Close()
		opts.Lists[name] = path
	}
	for i := range 1000 { // and misses
		probes = append(probes, netip.AddrFrom4([4]byte{byte(224 - i%3), byte(i), 1, 1}))
	}
	return opts, probes
}

// BenchmarkLookupMillion looks addresses up in a million prefixes.
func BenchmarkLookupMillion(b *testing.B) {
	opts, probes := writeBig(b, 1_000_000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perPrefix := float64(after.HeapAlloc-before.HeapAlloc) / float64(e.Stats().Prefixes)
	var en engine.Enrichment
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		en.Network.Lists = nil
		_ = e.Enrich(probes[i%len(probes)], &en)
		i++
	}
	b.ReportMetric(perPrefix, "heap-B/prefix")
}

// BenchmarkBuildMillion loads a million prefixes from files (start-up and
// reload cost).
func BenchmarkBuildMillion(b *testing.B) {
	opts, _ := writeBig(b, 1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(opts); err != nil {
			b.Fatal(err)
		}
	}
}
