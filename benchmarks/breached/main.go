// Command breached is the benchmark harness for the breached-password
// filters: it generates an HIBP-format file of N random SHA-1 hashes, builds a
// Bloom and fuse filters from the same file, and measures build lines/s,
// load time, resident memory, lookup ns/op, measured false-positive rate and
// bits per entry, and prints the projected sizes at 2×10^9 entries. Each
// build and each lookup run is a separate child process, so its resident
// memory is its own. Results go to stdout as a Markdown table.
//
//	nice go run ./benchmarks/breached -n 100000000 -dir /tmp/rgbench
//
// Large files go to -dir (never the repository).
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"golang.org/x/sys/unix"

	"github.com/riskgate/riskgate/breached"
)

func main() {
	n := flag.Int("n", 100_000_000, "entries to generate")
	dir := flag.String("dir", "/tmp/rgbench", "directory for the generated input and filters")
	kinds := flag.String("kinds", "bloom,fuse8,fuse16,fuse32", "filter kinds to measure")
	fpr := flag.Float64("fpr", 1e-6, "Bloom target false-positive rate")
	probes := flag.Int("probes", 10_000_000, "lookups per measurement")
	step := flag.String("step", "all", "all, or (internal, run in a child) build or lookup")
	kind := flag.String("kind", "", "internal: the kind of a build or lookup step")
	skipBuild := flag.Bool("skip-build", false, "reuse the filters of an earlier run, measure lookups only")
	flag.Parse()
	var err error
	switch *step {
	case "all":
		err = all(*n, *dir, strings.Split(*kinds, ","), *fpr, *probes, *skipBuild)
	case "build":
		err = buildStep(*dir, *kind, *fpr)
	case "lookup":
		err = lookupStep(*n, *dir, *kind, *probes)
	default:
		err = fmt.Errorf("unknown step %q", *step)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmark:", err)
		os.Exit(1)
	}
}

// gen returns entry i of the generated set: a pseudo-random SHA-1 and count.
// It is a pure function of i, so lookups can regenerate members.
func gen(i uint64) (sum [20]byte, count uint64) {
	r := rand.New(rand.NewPCG(i, 0xb10b))
	binary.LittleEndian.PutUint64(sum[0:], r.Uint64())
	binary.LittleEndian.PutUint64(sum[8:], r.Uint64())
	binary.LittleEndian.PutUint32(sum[16:], r.Uint32())
	return sum, 1 + r.Uint64N(1000)
}

func inputPath(dir string, n int) string { return filepath.Join(dir, fmt.Sprintf("hibp-%d.txt", n)) }

// writeInput writes n HIBP lines (upper-case hex, as HIBP ships them), in
// two parallel halves concatenated.
func writeInput(path string, n int) error {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return nil // reuse
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	const parts = 8
	bufs := make([][]byte, parts)
	for lo := 0; lo < n; {
		var wg sync.WaitGroup
		step := min(1_000_000, (n-lo+parts-1)/parts)
		for p := range parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := bufs[p][:0]
				for i := lo + p*step; i < min(lo+(p+1)*step, n); i++ {
					sum, count := gen(uint64(i))
					b = append(b, strings.ToUpper(hex.EncodeToString(sum[:]))...)
					b = append(b, ':')
					b = strconv.AppendUint(b, count, 10)
					b = append(b, '\n')
				}
				bufs[p] = b
			}()
		}
		wg.Wait()
		for _, b := range bufs {
			if _, err := f.Write(b); err != nil {
				return err
			}
		}
		lo = min(n, lo+parts*step)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func filterPath(dir, kind string) string { return filepath.Join(dir, kind+".rgbf") }

func all(n int, dir string, kinds []string, fpr float64, probes int, skipBuild bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	in := inputPath(dir, n)
	t0 := time.Now()
	if err := writeInput(in, n); err != nil {
		return err
	}
	st, _ := os.Stat(in)
	fmt.Fprintf(os.Stderr, "input %s: %d lines, %.2f GB (%s)\n", in, n, float64(st.Size())/1e9, time.Since(t0).Round(time.Second))
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := func(args ...string) (string, error) {
		cmd := exec.Command(self, append(args, "-dir", dir, "-n", strconv.Itoa(n), "-fpr", fmt.Sprint(fpr), "-probes", strconv.Itoa(probes))...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	fmt.Printf("| kind | build | lines/s | build peak RSS | file size | bits/entry | theory −log2(p)/ln2 | open | file pages resident after open | lookup miss | lookup hit | 2 goroutines miss | cold first 100k | file pages resident after lookups | measured FPR | expected FPR |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range kinds {
		b := "(not rebuilt) | | | | | "
		if !skipBuild {
			if b, err = child("-step", "build", "-kind", k); err != nil {
				return fmt.Errorf("build %s: %w", k, err)
			}
		}
		l, err := child("-step", "lookup", "-kind", k)
		if err != nil {
			return fmt.Errorf("lookup %s: %w", k, err)
		}
		fmt.Printf("| %s | %s | %s |\n", k, b, l)
	}
	fmt.Printf("\nProjected size at 2×10^9 entries:\n\n| kind | p | bits/entry | size |\n|---|---|---|---|\n")
	for _, p := range []float64{1e-3, 1e-6} {
		m, k := bloom.EstimateParameters(2e9, p)
		fmt.Printf("| bloom (k=%d) | %g | %.2f | %.2f GiB |\n", k, p, float64(m)/2e9, float64(m)/8/(1<<30))
	}
	for _, w := range []int{8, 16, 32} {
		// xorfilter's binary fuse (arity 3) uses 1.125 slots per key at this size.
		bits := 1.125 * float64(w)
		fmt.Printf("| fuse%d | %.3g | %.2f | %.2f GiB |\n", w, math.Ldexp(1, -w), bits, bits*2e9/8/(1<<30))
	}
	return nil
}

func buildStep(dir, kind string, fpr float64) error {
	k, err := breached.ParseKind(kind)
	if err != nil {
		return err
	}
	ins, _ := filepath.Glob(filepath.Join(dir, "hibp-*.txt"))
	if len(ins) != 1 {
		return fmt.Errorf("want one input in %s, have %v", dir, ins)
	}
	res, err := breached.Build(context.Background(), filterPath(dir, kind), []breached.Input{{Path: ins[0]}}, breached.BuildOptions{Kind: k, FPR: fpr})
	if err != nil {
		return err
	}
	in := res.Info
	fmt.Printf("%s | %.2fM | %s | %.1f MiB | %.2f | %.2f", res.Elapsed.Round(100*time.Millisecond),
		float64(res.Lines)/res.Elapsed.Seconds()/1e6, status("VmHWM"), float64(in.Size)/(1<<20), in.BitsPerEntry, -math.Log2(in.TargetFPR)/math.Ln2)
	return nil
}

func lookupStep(n int, dir, kind string, probes int) error {
	path := filterPath(dir, kind)
	t0 := time.Now()
	f, err := breached.Open(path, breached.OpenOptions{})
	if err != nil {
		return err
	}
	openTime := time.Since(t0)
	// RssFile counts resident file-backed pages: the mapping (plus this
	// binary's text, a few MiB), not the probe arrays allocated below.
	rssOpen := status("RssFile")
	misses := make([][20]byte, probes)
	r := rand.New(rand.NewPCG(42, 43))
	for i := range misses {
		binary.LittleEndian.PutUint64(misses[i][0:], r.Uint64())
		binary.LittleEndian.PutUint64(misses[i][8:], r.Uint64())
		binary.LittleEndian.PutUint32(misses[i][16:], r.Uint32())
	}
	hits := make([][20]byte, min(probes, n))
	for i := range hits {
		hits[i], _ = gen(uint64(r.IntN(n)))
	}
	// Cold: evict this file from the page cache first (only this file).
	cold := "n/a"
	if fd, err := os.Open(path); err == nil {
		if unix.Fadvise(int(fd.Fd()), 0, 0, unix.FADV_DONTNEED) == nil {
			t := time.Now()
			for _, p := range misses[:100_000] {
				f.Lookup(p)
			}
			cold = fmt.Sprintf("%.0f ns", float64(time.Since(t).Nanoseconds())/100_000)
		}
		fd.Close()
	}
	// Warm the mapping, then measure.
	for _, p := range misses[:min(len(misses), 2_000_000)] {
		f.Lookup(p)
	}
	fp := 0
	t := time.Now()
	for _, p := range misses {
		if f.Lookup(p).Found {
			fp++
		}
	}
	miss := float64(time.Since(t).Nanoseconds()) / float64(len(misses))
	found := 0
	t = time.Now()
	for _, p := range hits {
		if f.Lookup(p).Found {
			found++
		}
	}
	hit := float64(time.Since(t).Nanoseconds()) / float64(len(hits))
	if found != len(hits) {
		return fmt.Errorf("%d of %d members not found", len(hits)-found, len(hits))
	}
	// Two goroutines: the lookup is meant to be shared by request handlers.
	var wg sync.WaitGroup
	t = time.Now()
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range misses[g*len(misses)/2 : (g+1)*len(misses)/2] {
				f.Lookup(p)
			}
		}()
	}
	wg.Wait()
	par := float64(time.Since(t).Nanoseconds()) / float64(len(misses))
	in := f.Info()
	fmt.Printf("%s | %s | %.0f ns | %.0f ns | %.0f ns/op aggregate (%d procs) | %s | %s | %.3g | %.3g",
		openTime.Round(time.Microsecond), rssOpen, miss, hit, par, runtime.GOMAXPROCS(0), cold, status("RssFile"),
		float64(fp)/float64(len(misses)), in.ExpectedFPR)
	return f.Close()
}

// status reads one field of /proc/self/status, e.g. VmRSS or VmHWM.
func status(field string) string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return fmt.Sprintf("%.1f MiB", kb/1024)
		}
	}
	return "n/a"
}
