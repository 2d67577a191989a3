package breached

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskgate/riskgate/breached/hibpgen"
)

// planted are passwords put in the generated downloads, with their counts.
var planted = map[string]uint64{"hunter2": 50000, "Winter2026!": 3, "letmein": 120}

// downloaderFolder writes a partial downloader folder holding every range a
// planted password falls in, plus the first ranges.
func downloaderFolder(t *testing.T, o hibpgen.Options) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pwnedpasswords")
	if err := hibpgen.WriteFolder(dir, o); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDownloaderLayouts builds from both layouts of the official downloader
// (a folder of range files, and its single file), which must give filters
// that hold exactly the same hashes, and from one range file alone.
func TestDownloaderLayouts(t *testing.T) {
	o := hibpgen.Options{Ranges: 1024, Lines: 20000, Seed: 3, Padding: 2, Plant: map[string]uint64{}}
	for pw, c := range planted {
		s := sha(pw)
		if int(s[0])<<4|int(s[1])>>4 < o.Ranges>>8 { // planted only where written
			o.Plant[pw] = c
		}
	}
	entries := hibpgen.Entries(o)
	folder := downloaderFolder(t, o)
	single := filepath.Join(t.TempDir(), "pwnedpasswords.txt")
	if err := hibpgen.WriteSingle(single, o); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		input  Input
		format Format
	}{
		{"folder, auto", Input{Path: folder}, FormatHIBPRange},
		{"folder, hibp", Input{Path: folder, Format: FormatHIBP}, FormatHIBPRange},
		{"single file, auto", Input{Path: single}, FormatHIBP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, res := buildInputs(t, BuildOptions{Kind: KindFuse16, Partial: true, Tiers: []uint64{1, 100}}, tc.input)
			if res.Formats[0] != tc.format || res.Malformed != 0 {
				t.Fatalf("format %v, %d malformed (first %v)", res.Formats[0], res.Malformed, res.FirstMalformed)
			}
			var real uint64
			for _, e := range entries {
				m := f.Lookup(e.Sum)
				switch {
				case e.Count == 0: // padding
				case !m.Found:
					t.Fatalf("entry %x:%d not found", e.Sum, e.Count)
				case (e.Count >= 100) != (m.Tier == 2):
					t.Fatalf("entry %x:%d in tier %d", e.Sum, e.Count, m.Tier)
				}
				if e.Count > 0 {
					real++
				}
			}
			if res.Entries != real || res.BelowMinCount != uint64(2*o.Ranges) {
				t.Errorf("entries %d below-min %d, want %d and %d padding lines", res.Entries, res.BelowMinCount, real, 2*o.Ranges)
			}
			for pw := range o.Plant {
				if !f.Lookup(sha(pw)).Found {
					t.Errorf("planted %s not found", pw)
				}
			}
		})
	}
	// One range file given alone: the prefix still comes from its name.
	one := filepath.Join(folder, "003FF.txt")
	f, res := buildInputs(t, BuildOptions{}, Input{Path: one})
	if res.Formats[0] != FormatHIBPRange || res.Entries == 0 {
		t.Fatalf("format %v entries %d", res.Formats[0], res.Entries)
	}
	for _, e := range entries {
		in := e.Sum[0] == 0x00 && e.Sum[1] == 0x3F && e.Sum[2]>>4 == 0xF && e.Count > 0
		if in && !f.Lookup(e.Sum).Found {
			t.Fatalf("%x from 003FF.txt not found", e.Sum)
		}
	}
}

func TestDownloaderFolderChecks(t *testing.T) {
	o := hibpgen.Options{Ranges: 64, Lines: 640, Seed: 4}
	folder := downloaderFolder(t, o)
	out := filepath.Join(t.TempDir(), "f.rgbf")
	build := func(opt BuildOptions, in ...Input) error {
		_, err := Build(t.Context(), out, in, opt)
		return err
	}
	// Incomplete: refused unless --partial, naming the first missing file.
	err := build(BuildOptions{}, Input{Path: folder})
	if !errors.Is(err, ErrIncompleteDownload) || !strings.Contains(err.Error(), "00040.txt") || !strings.Contains(err.Error(), "1048512 of the 1048576") {
		t.Errorf("incomplete folder: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused build wrote its output")
	}
	for _, tc := range []struct {
		name   string
		mutate func(dir string)
		format Format
		want   string
	}{
		{"a stray file", func(d string) { os.WriteFile(filepath.Join(d, "README.md"), []byte("x"), 0o644) }, FormatAuto, "also README.md"},
		{"as plain", func(string) {}, FormatPlain, "cannot be read as --format plain"},
		{"a corrupt range file", func(d string) {
			p := filepath.Join(d, "00011.txt")
			b, _ := os.ReadFile(p)
			lines := strings.Split(string(b), "\r\n")
			lines[3] = lines[3][:20] + "?" + lines[3][21:]
			os.WriteFile(p, []byte(strings.Join(lines, "\r\n")), 0o644)
		}, FormatAuto, "00011.txt: 1 of 10 lines are malformed, more than the 0.1% allowed (--max-malformed); the first is line 4: non-hex character"},
		{"NTLM range files", func(d string) {
			os.WriteFile(filepath.Join(d, "00000.txt"), []byte(strings.Repeat(strings.Repeat("A", 27)+":3\r\n", 20)), 0o644)
		}, FormatAuto, "NTLM"},
		{"a name differing in case", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, "0000A.txt"))
			os.WriteFile(filepath.Join(d, "0000a.TXT"), b, 0o644)
		}, FormatAuto, "appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := downloaderFolder(t, o)
			tc.mutate(dir)
			err := build(BuildOptions{Partial: true}, Input{Path: dir, Format: tc.format})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
	// A folder of lists: every file in it, no shell glob needed.
	lists := t.TempDir()
	os.WriteFile(filepath.Join(lists, "a.txt"), []byte("hunter2\nletmein\n"), 0o644)
	os.WriteFile(filepath.Join(lists, "b.txt"), []byte("Winter2026!\n"), 0o644)
	os.WriteFile(filepath.Join(lists, ".hidden"), []byte("notme\n"), 0o644)
	f, res := buildInputs(t, BuildOptions{}, Input{Path: lists})
	if res.Files != 2 || res.Entries != 3 || !f.Lookup(sha("Winter2026!")).Found || f.Lookup(sha("notme")).Found {
		t.Errorf("folder of lists: files %d entries %d", res.Files, res.Entries)
	}
	if err := build(BuildOptions{}, Input{Path: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no input files") {
		t.Errorf("empty folder: %v", err)
	}
}

// TestMalformedShare: a file with more malformed lines than the limit fails
// the build, naming the file and its first bad line, whatever the format
// detection; one within the limit builds and reports them.
func TestMalformedShare(t *testing.T) {
	dir := t.TempDir()
	es := genEntries(5000, 30)
	mk := func(name string, bad int) string {
		var b strings.Builder
		for i, e := range es {
			if step := len(es) / bad; i%step == step/2 {
				b.WriteString("0123456789abcdef0123456789abcdef0123456:1\n") // 39 digits
				continue
			}
			fmt.Fprintf(&b, "%X:%d\n", e.sum, e.count)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(b.String()), 0o644)
		return p
	}
	ok := mk("few.txt", 4)       // 0.08%
	tooMany := mk("many.txt", 6) // 0.12%
	garbage := mk("half.txt", 1000)
	for _, tc := range []struct {
		name string
		in   Input
		opt  BuildOptions
		want string // "" builds
	}{
		{"within the limit", Input{Path: ok}, BuildOptions{}, ""},
		{"over the limit", Input{Path: tooMany}, BuildOptions{}, "many.txt: 6 of 5000 lines are malformed"},
		{"over the limit, first line named", Input{Path: tooMany}, BuildOptions{}, "the first is line 417: expected 40 hex digits"},
		{"20% bad with auto is HIBP, and fails", Input{Path: garbage}, BuildOptions{}, "half.txt: 1000 of 5000 lines"},
		{"a raised limit", Input{Path: tooMany}, BuildOptions{MaxMalformed: 0.01}, ""},
		{"the sample file by default", Input{Path: filepath.Join("testdata", "hibp-sample.txt")}, BuildOptions{}, "hibp-sample.txt: 4 of 13 lines are malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Build(t.Context(), filepath.Join(t.TempDir(), "f.rgbf"), []Input{tc.in}, tc.opt)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Malformed == 0 || len(res.FirstMalformed) == 0 {
					t.Errorf("malformed %d not reported", res.Malformed)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzParseRangeLine: the range-line parser never panics, and what it
// accepts is the prefix's 5 digits followed by the line's 35, as the
// 40-digit parser reads them.
func FuzzParseRangeLine(f *testing.F) {
	f.Add(uint32(0xABCDE), []byte(strings.Repeat("F", 35)+":12\r"))
	f.Add(uint32(0), []byte(strings.Repeat("0", 35)+":0"))
	f.Add(uint32(0xFFFFF), []byte(strings.Repeat("a", 35)+":"))
	f.Add(uint32(1<<20), []byte(strings.Repeat("a", 35)+":1"))
	f.Fuzz(func(t *testing.T, prefix uint32, line []byte) {
		sum, count, reason := parseHIBPRange(prefix, line)
		full := append([]byte(fmt.Sprintf("%05X", prefix&0xfffff)), line...)
		wsum, wcount, wreason := parseHIBP(full)
		if prefix > 0xfffff {
			if reason == reasonOK {
				t.Fatalf("accepted prefix %#x", prefix)
			}
			return
		}
		if (reason == reasonOK) != (wreason == reasonOK) {
			t.Fatalf("%q: range parser says %q, full parser %q", line, reason, wreason)
		}
		if reason == reasonOK && (sum != wsum || count != wcount) {
			t.Fatalf("%q: %x:%d, full parser %x:%d", line, sum, count, wsum, wcount)
		}
	})
}

// FuzzSniff: format detection never panics and never calls a sample plain
// when most of its lines are valid HIBP lines.
func FuzzSniff(f *testing.F) {
	f.Add([]byte(strings.Repeat(strings.Repeat("A", 40)+":1\n", 3)), true, false)
	f.Add([]byte("123456\npassword\n"), false, true)
	f.Add([]byte(strings.Repeat(strings.Repeat("b", 35)+":9\r\n", 3)), true, true)
	f.Fuzz(func(t *testing.T, sample []byte, complete, ranged bool) {
		got, err := sniff(sample, complete, FormatAuto, ranged)
		if err != nil || got != FormatPlain {
			return
		}
		lines, valid := 0, 0
		for l := range strings.SplitSeq(string(sample), "\n") {
			l = strings.TrimSuffix(l, "\r")
			if l == "" {
				continue
			}
			lines++
			if _, _, r := parseHIBP([]byte(l)); r == reasonOK {
				valid++
			}
		}
		if lines <= sampleLines && 2*valid > lines && complete {
			t.Fatalf("%d of %d lines are valid HIBP lines, but the sample was called plain", valid, lines)
		}
	})
}
