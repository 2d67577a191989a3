package breached

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// entry is one generated HIBP line.
type entry struct {
	sum   [20]byte
	count uint64
}

// genEntries makes n random hashes with a heavy-tailed count distribution, so
// that every tier of {1, 100, 10000} gets members.
func genEntries(n int, seed uint64) []entry {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]entry, n)
	for i := range out {
		for j := 0; j < 20; j += 8 {
			v := r.Uint64()
			for b := 0; b < 8 && j+b < 20; b++ {
				out[i].sum[j+b] = byte(v >> (8 * b))
			}
		}
		// 1/u^2 tail: about 1% reach 100 and 0.01% reach 10000.
		u := r.Float64()
		out[i].count = uint64(1 / (u*u + 1e-9))
		out[i].count = max(out[i].count, 1)
		if i%1000 == 0 {
			out[i].count = 10000 + uint64(i) // make sure the top tier is not empty
		}
	}
	return out
}

// writeHIBP writes entries as HIBP lines, upper-case like the real files.
func writeHIBP(t testing.TB, path string, es []entry) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var buf [40]byte
	for _, e := range es {
		hex.Encode(buf[:], e.sum[:])
		for i, c := range buf {
			if c >= 'a' {
				buf[i] = c - 32
			}
		}
		w.Write(buf[:])
		fmt.Fprintf(w, ":%d\n", e.count)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// randomSums are hashes independent of any generated entries.
func randomSums(n int, seed uint64) [][20]byte {
	r := rand.New(rand.NewPCG(seed, 0xfa15e))
	out := make([][20]byte, n)
	for i := range out {
		for j := 0; j < 20; j += 8 {
			v := r.Uint64()
			for b := 0; b < 8 && j+b < 20; b++ {
				out[i][j+b] = byte(v >> (8 * b))
			}
		}
	}
	return out
}

// build builds a filter from HIBP entries into a temporary directory.
func build(t testing.TB, es []entry, opt BuildOptions) (string, *Result) {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	writeHIBP(t, in, es)
	out := filepath.Join(dir, "out.rgbf")
	if opt.BuildTime.IsZero() {
		opt.BuildTime = time.Unix(1700000000, 0)
	}
	res, err := Build(context.Background(), out, []Input{{Path: in}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return out, res
}

func open(t testing.TB, path string) *Filter {
	t.Helper()
	f, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func sha(s string) [20]byte { return sha1.Sum([]byte(s)) }
