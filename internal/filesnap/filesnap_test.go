package filesnap

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestSnapshotSurvivesTruncateAndRewrite(t *testing.T) {
	cases := []struct {
		name   string
		opt    func(dir string) Options
		where  string
		mutate func(t *testing.T, path string)
	}{
		{"beside the file, truncated", func(string) Options { return Options{} }, "unlinked file in ", func(t *testing.T, p string) { must(t, os.Truncate(p, 0)) }},
		{"beside the file, rewritten shorter", func(string) Options { return Options{} }, "unlinked file in ", func(t *testing.T, p string) { must(t, os.WriteFile(p, []byte("short"), 0o644)) }},
		{"in Dir, rewritten longer", func(d string) Options { return Options{Dir: d} }, "unlinked file in ", func(t *testing.T, p string) {
			must(t, os.WriteFile(p, bytes.Repeat([]byte("y"), 1<<20), 0o644))
		}},
		{"removed", func(string) Options { return Options{} }, "unlinked file in ", func(t *testing.T, p string) { must(t, os.Remove(p)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "data.bin")
			want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
			must(t, os.WriteFile(path, want, 0o644))
			s, err := Open(path, tc.opt(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if runtime.GOOS == "linux" && !strings.HasPrefix(s.Where(), tc.where) {
				t.Errorf("copy made in %q, want %q...", s.Where(), tc.where)
			}
			tc.mutate(t, path)
			// Reading every page after the file changed must neither fault
			// nor see the new content.
			if !bytes.Equal(s.Bytes(), want) {
				t.Fatal("the snapshot changed with the file")
			}
			// The copy has no name in either directory.
			for _, d := range []string{dir} {
				ents, _ := os.ReadDir(d)
				for _, e := range ents {
					if e.Name() != "data.bin" {
						t.Errorf("stray file %s left in %s", e.Name(), d)
					}
				}
			}
		})
	}
}

func TestSnapshotFallsBackWhenDirRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.bin")
	must(t, os.WriteFile(path, []byte("hello"), 0o644))
	// An explicit Dir that cannot take the copy is an error, not a silent
	// fallback: the operator chose it.
	if _, err := Open(path, Options{Dir: filepath.Join(dir, "missing")}); err == nil {
		t.Error("a missing snapshot directory was accepted")
	}
	// Default placement with TMPDIR pointing nowhere still works (beside the file).
	t.Setenv("TMPDIR", filepath.Join(dir, "missing"))
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if string(s.Bytes()) != "hello" {
		t.Errorf("got %q", s.Bytes())
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	must(t, os.WriteFile(big, make([]byte, 100), 0o644))
	empty := filepath.Join(dir, "empty")
	must(t, os.WriteFile(empty, nil, 0o644))
	for _, tc := range []struct {
		name, path string
		opt        Options
		ok         bool
	}{
		{"missing", filepath.Join(dir, "nope"), Options{}, false},
		{"directory", dir, Options{}, false},
		{"too large", big, Options{MaxSize: 99}, false},
		{"empty", empty, Options{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.path, tc.opt)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if s != nil {
				if len(s.Bytes()) != 0 {
					t.Error("empty file gave bytes")
				}
				s.Close()
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
