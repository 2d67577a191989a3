package breached

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func buildInputs(t *testing.T, opt BuildOptions, in ...Input) (*Filter, *Result) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "f.rgbf")
	res, err := Build(context.Background(), out, in, opt)
	if err != nil {
		t.Fatal(err)
	}
	return open(t, out), res
}

// testdata/hibp-sample.txt: CRLF, upper and lower case, four malformed lines
// (3, 6, 7, 8), a padding line of count 0 (9, below any --min-count) and one
// empty line (5). The .gz is the same bytes gzipped.
func TestHIBPSample(t *testing.T) {
	for _, name := range []string{"hibp-sample.txt", "hibp-sample.txt.gz"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			f, res := buildInputs(t, BuildOptions{Tiers: []uint64{1, 100, 10000}, MaxReported: 3, MaxMalformed: 1}, Input{Path: path, Format: FormatHIBP})
			if res.Lines != 14 || res.Entries != 8 || res.Malformed != 4 || res.Empty != 1 || res.BelowMinCount != 1 {
				t.Errorf("lines %d entries %d malformed %d empty %d below %d, want 14, 8, 4, 1, 1", res.Lines, res.Entries, res.Malformed, res.Empty, res.BelowMinCount)
			}
			var got []string
			for _, e := range res.FirstMalformed {
				got = append(got, e.String())
			}
			want := []string{
				path + ":3: " + reasonHexLen,
				path + ":6: " + reasonNoCount,
				path + ":7: " + reasonHexDigit,
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("first malformed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for p, tier := range map[string]int{"hunter2": 1, "letmein": 3, "trustno1": 1, "iloveyou": 1, "qazwsx": 2, "abc123": 2, "football": 3, "master": 1} {
				if m := f.Lookup(sha(p)); !m.Found || m.Tier != tier {
					t.Errorf("%s: %+v, want tier %d", p, m, tier)
				}
			}
			// Malformed lines are never inserted, not even their valid-looking hash.
			for _, p := range []string{"dragon", "shadow", "sunshine", "monkey"} {
				if f.Lookup(sha(p)).Found {
					t.Errorf("%s from a malformed line was inserted", p)
				}
			}
		})
	}
}

func TestPlainSample(t *testing.T) {
	// BOM, CRLF and an empty line: the passwords are hashed without them.
	f, res := buildInputs(t, BuildOptions{}, Input{Path: filepath.Join("testdata", "plain-sample.txt")})
	if res.Formats[0] != FormatPlain || res.Entries != 4 || res.Empty != 1 || res.Malformed != 0 {
		t.Fatalf("format %v entries %d empty %d malformed %d", res.Formats[0], res.Entries, res.Empty, res.Malformed)
	}
	for _, p := range []string{"123456", "password", "correct horse", "Tr0ub4dor&3"} {
		if m := f.Lookup(sha(p)); !m.Found || m.MinCount != 0 {
			t.Errorf("%q: %+v, want found with unknown count", p, m)
		}
	}
	for _, p := range []string{"123456\r", "\ufeff123456", "Password"} {
		if f.Lookup(sha(p)).Found {
			t.Errorf("%q found", p)
		}
	}
}

func TestMinCount(t *testing.T) {
	es := genEntries(20000, 20)
	for _, kind := range []Kind{KindBloom, KindFuse32} {
		path, res := build(t, es, BuildOptions{Kind: kind, MinCount: 100})
		f := open(t, path)
		var above uint64
		for _, e := range es {
			m := f.Lookup(e.sum)
			if e.count >= 100 {
				above++
				if !m.Found || m.MinCount != 100 {
					t.Fatalf("%v: count %d: %+v", kind, e.count, m)
				}
			} else if m.Found {
				t.Fatalf("%v: count %d below min count found", kind, e.count)
			}
		}
		if res.Entries != above || res.BelowMinCount != uint64(len(es))-above {
			t.Errorf("%v: entries %d below %d, want %d and %d", kind, res.Entries, res.BelowMinCount, above, uint64(len(es))-above)
		}
		if kind == KindBloom && res.Passes != 2 {
			t.Errorf("bloom with min count and no expected count: %d passes, want a counting pass", res.Passes)
		}
		// Sized for the entries kept, not the lines read.
		if in := f.Info(); kind == KindBloom && in.BitsPerEntry > 40 {
			t.Errorf("%v: %.1f bits per entry: sized for the input, not the kept entries", kind, in.BitsPerEntry)
		}
	}
}

func TestSniff(t *testing.T) {
	h := strings.Repeat("ab", 20)
	r := strings.Repeat("CD", 17) + "E"
	ntlm := strings.Repeat("EF", 16)
	many := func(line string, n int) string { return strings.Repeat(line+"\n", n) }
	const bad = Format(-1)
	for _, c := range []struct {
		name     string
		sample   string
		complete bool
		given    Format
		ranged   bool
		want     Format
		err      string
	}{
		{"sha1", many(h+":1", 50), false, FormatAuto, false, FormatHIBP, ""},
		{"sha1 upper CRLF", many(strings.ToUpper(h)+":12\r", 50), false, FormatAuto, false, FormatHIBP, ""},
		{"one line without newline", h + ":3", true, FormatAuto, false, FormatHIBP, ""},
		{"an incomplete line says nothing", h + ":3", false, FormatAuto, false, FormatPlain, ""},
		{"5% bad lines", many(h+":1", 95) + many("garbage", 5), false, FormatAuto, false, FormatHIBP, ""},
		{"20% bad lines is still HIBP, never plain", many(h+":1", 80) + many("garbage", 20), false, FormatAuto, false, FormatHIBP, ""},
		{"damaged hashes count as hash lines", many(h[:39]+":1", 60) + many("garbage", 40), false, FormatAuto, false, FormatHIBP, ""},
		{"in between is refused", many(h+":1", 30) + many("garbage", 70), false, FormatAuto, false, bad, "cannot tell"},
		{"passwords", many("123456", 10), false, FormatAuto, false, FormatPlain, ""},
		{"bare hashes are passwords of 40 chars", many(h, 10), false, FormatAuto, false, FormatPlain, ""},
		{"one hash line among 100 passwords", many("123456", 100) + h + ":1\n", false, FormatAuto, false, FormatPlain, ""},
		{"empty", "", true, FormatAuto, false, FormatPlain, ""},
		{"range lines in a range file", many(r+":7\r", 50), false, FormatAuto, true, FormatHIBPRange, ""},
		{"range lines with --format hibp", many(r+":7", 50), false, FormatHIBP, true, FormatHIBPRange, ""},
		{"range lines without a prefix name", many(r+":7", 50), false, FormatAuto, false, bad, "file name is not"},
		{"ntlm single file", many(ntlm+":4", 50), false, FormatAuto, false, bad, "NTLM"},
		{"ntlm with --format hibp", many(ntlm+":4", 50), false, FormatHIBP, false, bad, "NTLM"},
		{"ntlm range file", many(ntlm[5:]+":4", 50), false, FormatHIBP, true, bad, "NTLM"},
		{"plain is plain", many(ntlm+":4", 50), false, FormatPlain, false, FormatPlain, ""},
		{"binary", many("\x00\x9f\xc3\x01\xfe", 50), false, FormatAuto, false, bad, "looks binary"},
		{"binary as plain", many("\x00\x9f\xc3\x01\xfe", 50), false, FormatPlain, false, FormatPlain, ""},
		{"a few odd passwords", many("123456", 90) + many("\x01\x02", 10), false, FormatAuto, false, FormatPlain, ""},
		{"Latin-1 passwords", many("m\xfcnchen", 50), false, FormatAuto, false, FormatPlain, ""},
	} {
		got, err := sniff([]byte(c.sample), c.complete, c.given, c.ranged)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, %v; want an error saying %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}

// TestBinaryInput: a binary input (here a 7-Zip archive, as the Pwned
// Passwords download comes) is refused, naming the file and saying it
// looks binary: read as a password list, its compressed bytes built a
// filter without a word; read as HIBP, the first bad line was only
// "expected 40 hex digits then ':'". --format plain still reads it.
func TestBinaryInput(t *testing.T) {
	dir := t.TempDir()
	data := []byte("7z\xbc\xaf\x27\x1c\x00\x04")
	r := rand.New(rand.NewPCG(7, 7))
	for range 20000 {
		data = append(data, byte(r.Uint32()))
	}
	in := filepath.Join(dir, "pwned-passwords-sha1-ordered-by-count-v8.7z")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		format Format
		want   string // empty: builds
	}{
		{FormatAuto, in + ": the file looks binary (NUL or control bytes), not text: an archive (.7z, .zip) must be extracted first"},
		{FormatHIBP, "the first is line 1: the file looks binary (NUL or control bytes), not text"},
		{FormatPlain, ""},
	} {
		t.Run(tt.format.String(), func(t *testing.T) {
			_, err := Build(context.Background(), filepath.Join(dir, "out.rgbf"), []Input{{Path: in, Format: tt.format}}, BuildOptions{})
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("%v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestRepeatedLinesCountedOnce: a Bloom filter's entries (breached info,
// riskgate_breached_entries, the expected false-positive rate) are its
// distinct hashes: a thousand passwords listed three times, and again
// in a second list beside 500 more, counted 4,500; they are 1,500. A
// fuse filter counts the hashes inserted (see Info).
func TestRepeatedLinesCountedOnce(t *testing.T) {
	dir := t.TempDir()
	var a, b strings.Builder
	for i := range 1000 {
		pw := fmt.Sprintf("password-%d\n", i)
		a.WriteString(strings.Repeat(pw, 3))
		b.WriteString(pw)
	}
	for i := range 500 {
		fmt.Fprintf(&b, "other-%d\n", i)
	}
	la, lb := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	for p, data := range map[string]string{la: a.String(), lb: b.String()} {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inputs := []Input{{Path: la, Format: FormatPlain}, {Path: lb, Format: FormatPlain}}
	// The same list twice, read side by side: the workers insert the same
	// hashes at the same moments (with four, one in two was counted twice
	// before the inserts of a hash took turns).
	twice := []Input{{Path: lb, Format: FormatPlain}, {Path: lb, Format: FormatPlain}}
	for _, tt := range []struct {
		name             string
		inputs           []Input
		opt              BuildOptions
		lines            uint64
		entries, repeats uint64
	}{
		{"bloom, one worker", inputs, BuildOptions{Workers: 1}, 4500, 1500, 3000},
		{"bloom", inputs, BuildOptions{}, 4500, 1500, 3000},
		{"bloom, tiers", inputs, BuildOptions{Workers: 1, Tiers: []uint64{1, 2}}, 4500, 1500, 3000},
		{"bloom, a list twice side by side", twice, BuildOptions{Workers: 4}, 3000, 1500, 1500},
		{"fuse counts the hashes inserted", inputs, BuildOptions{Kind: KindFuse8}, 4500, 4500, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "out.rgbf")
			res, err := Build(context.Background(), out, tt.inputs, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			in := open(t, out).Info()
			if res.Entries != tt.lines || in.Entries != tt.entries || res.Repeated != tt.repeats {
				t.Errorf("lines accepted %d, repeated %d, filter entries %d; want %d, %d and %d", res.Entries, res.Repeated, in.Entries, tt.lines, tt.repeats, tt.entries)
			}
			if len(tt.opt.Tiers) > 1 && in.Tiers[1].Entries != 0 {
				t.Errorf("tier 2 (count >= 2) holds %d entries: plain lines count 1 each, repeated or not", in.Tiers[1].Entries)
			}
		})
	}
}

func TestLongLineAndLineNumbersAcrossChunks(t *testing.T) {
	// Lines straddle many 1 MiB chunks; a line longer than a chunk is one
	// malformed line, and the numbering after it stays exact.
	var b bytes.Buffer
	es := genEntries(60000, 21)
	for i, e := range es {
		if i == 30000 {
			b.WriteString(strings.Repeat("x", 3<<20) + "\n") // line 30001
		}
		fmt.Fprintf(&b, "%s:%d\n", hex.EncodeToString(e.sum[:]), e.count)
	}
	b.WriteString("bad\n") // line 60002
	path := filepath.Join(t.TempDir(), "long.txt")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, res := buildInputs(t, BuildOptions{Kind: KindFuse16, Workers: 3}, Input{Path: path})
	if res.Formats[0] != FormatHIBP || res.Malformed != 2 || res.Entries != 60000 {
		t.Fatalf("format %v malformed %d entries %d", res.Formats[0], res.Malformed, res.Entries)
	}
	want := []string{path + ":30001: " + reasonTooLong, path + ":60002: " + reasonHexLen}
	if len(res.FirstMalformed) != 2 || res.FirstMalformed[0].String() != want[0] || res.FirstMalformed[1].String() != want[1] {
		t.Errorf("reported %v, want %v", res.FirstMalformed, want)
	}
	for _, e := range es {
		if !f.Lookup(e.sum).Found {
			t.Fatal("entry lost")
		}
	}
}

func TestProgressAndCancel(t *testing.T) {
	es := genEntries(50000, 22)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	writeHIBP(t, in, es)
	var calls atomic.Int32
	var last Progress
	res, err := Build(context.Background(), filepath.Join(dir, "a.rgbf"), []Input{{Path: in}}, BuildOptions{
		Progress: func(p Progress) { calls.Add(1); last = p },
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() == 0 || last.BytesTotal == 0 || last.Lines != res.Lines {
		t.Errorf("progress: %d calls, last %+v", calls.Load(), last)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(dir, "b.rgbf")
	if _, err := Build(ctx, out, []Input{{Path: in}}, BuildOptions{}); err == nil {
		t.Error("cancelled build succeeded")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*b.rgbf*")); len(m) != 0 {
		t.Errorf("cancelled build left %v", m)
	}
}

func TestBuildOptionErrors(t *testing.T) {
	in := []Input{{Path: filepath.Join("testdata", "plain-sample.txt")}}
	out := filepath.Join(t.TempDir(), "x.rgbf")
	for _, c := range []struct {
		opt  BuildOptions
		want string
	}{
		{BuildOptions{Tiers: []uint64{100, 10}}, "increasing"},
		{BuildOptions{Tiers: []uint64{10, 100}, MinCount: 50}, "above the first tier"},
		{BuildOptions{FPR: 0.9}, "outside"},
		{BuildOptions{Kind: 9}, "unknown filter kind"},
	} {
		if _, err := Build(context.Background(), out, in, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opt, err, c.want)
		}
	}
	if _, err := Build(context.Background(), out, []Input{{Path: "testdata/nope"}}, BuildOptions{}); err == nil || !strings.Contains(err.Error(), "testdata/nope") {
		t.Errorf("missing input: %v", err)
	}
}

// FuzzParseLine: the HIBP parser never panics, accepts exactly the lines it
// documents, and what it accepts re-encodes to the same line.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		strings.Repeat("A", 40) + ":1", strings.Repeat("f", 40) + ":18446744073709551615\r",
		strings.Repeat("0", 40) + ":18446744073709551616", strings.Repeat("g", 40) + ":1", ":", "", "\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		sum, count, reason := parseHIBP(line)
		if reason != reasonOK {
			if count != 0 {
				t.Fatalf("rejected line returned count %d", count)
			}
			return
		}
		l := strings.TrimSuffix(string(line), "\r")
		n, err := strconv.ParseUint(l[41:], 10, 64)
		if len(l) < 42 || hex.EncodeToString(sum[:]) != strings.ToLower(l[:40]) || l[40] != ':' || err != nil || n != count {
			t.Fatalf("accepted %q as %x:%d", line, sum, count)
		}
	})
}

// TestBuildRefusesInputAsOutput: an output that is one of the inputs (a
// file given as both, or a file of an input folder) is refused before
// anything is read or written, and the input is left as it was. The
// filter, written to a temporary file and renamed, replaced the input: a
// download of some 40 GB, gone (found by a stranger's pass).
func TestBuildRefusesInputAsOutput(t *testing.T) {
	dir := t.TempDir()
	lists := filepath.Join(dir, "lists")
	if err := os.Mkdir(lists, 0o755); err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile(filepath.Join("testdata", "hibp-sample.txt"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "hashes.txt")
	inFolder := filepath.Join(lists, "more.txt")
	for _, p := range []string{file, inFolder} {
		if err := os.WriteFile(p, sample, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name    string
		out     string
		inputs  []Input
		clobber string
	}{
		{"the input file", file, []Input{{Path: file}}, file},
		{"the same file by another path", filepath.Join(lists, "..", "hashes.txt"), []Input{{Path: file}}, file},
		{"a file of an input folder", inFolder, []Input{{Path: lists}}, inFolder},
	} {
		_, err := Build(context.Background(), c.out, c.inputs, BuildOptions{MaxMalformed: 1})
		if err == nil || !strings.Contains(err.Error(), "is the input") {
			t.Errorf("%s: %v, want a refusal", c.name, err)
		}
		if got, err := os.ReadFile(c.clobber); err != nil || !bytes.Equal(got, sample) {
			t.Errorf("%s: the input was changed (%d bytes, %v)", c.name, len(got), err)
		}
	}
}

// TestBuildRefusesNoEntries: inputs with no entry (an empty file, only
// malformed lines, only hashes below --min-count) build no filter: one of
// nothing finds no password breached, and served it looks like a working
// check. It was written and served (a stranger's pass).
func TestBuildRefusesNoEntries(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	rare := filepath.Join(dir, "rare.txt")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rare, []byte(strings.Repeat("A", 40)+":1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   Input
		opt  BuildOptions
	}{
		{"an empty file", Input{Path: empty}, BuildOptions{}},
		{"only below the minimum count", Input{Path: rare}, BuildOptions{MinCount: 10}},
	} {
		out := filepath.Join(dir, "out.rgbf")
		_, err := Build(context.Background(), out, []Input{c.in}, c.opt)
		if err == nil || !strings.Contains(err.Error(), "no entries") {
			t.Errorf("%s: %v, want a refusal", c.name, err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: a filter was written (%v)", c.name, err)
		}
	}
}
