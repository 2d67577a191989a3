package breached

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A damaged, truncated or foreign file must be refused with an error that
// names the file and says what is wrong, never loaded and never a panic.
func TestBadFilesRefused(t *testing.T) {
	es := genEntries(3000, 10)
	for _, kind := range []Kind{KindBloom, KindFuse16} {
		path, _ := build(t, es, BuildOptions{Kind: kind, Tiers: []uint64{1, 100}})
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		hlen := int(binary.LittleEndian.Uint32(good[12:]))
		resum := func(b []byte) []byte { // recompute the header CRC after a patch
			binary.LittleEndian.PutUint32(b[hlen-4:], crc32.Checksum(b[:hlen-4], castagnoli))
			return b
		}
		patch := func(off int, v byte) []byte {
			b := append([]byte(nil), good...)
			b[off] ^= v
			return b
		}
		cases := []struct {
			name      string
			data      []byte
			openErr   string // "" when Open succeeds and only Verify fails
			verifyErr string
		}{
			{"empty", nil, "empty file", ""},
			{"foreign text", []byte("123456\npassword\n" + strings.Repeat("x", 200)), "bad magic", ""},
			{"foreign png", append([]byte("\x89PNG\r\n\x1a\n"), good[8:]...), "bad magic", ""},
			{"truncated header", good[:50], "shorter than the fixed header", ""},
			{"truncated in header", good[:hlen-1], "header alone needs", ""},
			{"truncated body", good[:len(good)-1], "truncated: header says", ""},
			{"truncated half", good[:len(good)/2], "truncated", ""},
			{"trailing data", append(append([]byte(nil), good...), 0), "trailing data", ""},
			{"wrong version", resum(func() []byte { b := append([]byte(nil), good...); b[8] = 2; return b }()), "unsupported format version 2", ""},
			{"header bit flip", patch(40, 0x01), "header checksum mismatch", ""},
			{"source bit flip", patch(fixedHeader+1, 0x20), "header checksum mismatch", ""},
			{"unknown kind", resum(patch(10, 0x40)), "unknown filter kind", ""},
			{"level count", resum(func() []byte { b := append([]byte(nil), good...); b[20] = 200; return b }()), "implausible header counts", ""},
			{"body bit flip", patch(len(good)-hlen/2-1, 0x10), "", "body checksum mismatch"},
		}
		for _, c := range cases {
			t.Run(kind.String()+"/"+c.name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "bad.rgbf")
				if err := os.WriteFile(p, c.data, 0o644); err != nil {
					t.Fatal(err)
				}
				f, err := Open(p, OpenOptions{})
				if c.openErr != "" {
					if err == nil {
						f.Close()
						t.Fatalf("Open accepted the file, want %q", c.openErr)
					}
					if !strings.Contains(err.Error(), c.openErr) || !strings.Contains(err.Error(), p) || !errors.Is(err, ErrFormat) {
						t.Fatalf("Open: %v, want an ErrFormat naming %s and saying %q", err, p, c.openErr)
					}
					if _, err := ReadInfo(p, false); err == nil || !strings.Contains(err.Error(), c.openErr) {
						t.Fatalf("ReadInfo: %v, want %q", err, c.openErr)
					}
					if _, err := Load(c.data); err == nil || !strings.Contains(err.Error(), c.openErr) {
						t.Fatalf("Load: %v, want %q", err, c.openErr)
					}
					return
				}
				// A damaged body passes the header checks that ReadInfo
				// without verify makes; Open verifies every checksum and
				// refuses it, as do verify and Load.
				if err == nil {
					f.Close()
					t.Fatalf("Open accepted a damaged body, want %q", c.verifyErr)
				}
				if !strings.Contains(err.Error(), c.verifyErr) || !strings.Contains(err.Error(), p) || !errors.Is(err, ErrFormat) {
					t.Fatalf("Open: %v, want %q naming the file", err, c.verifyErr)
				}
				if _, err := ReadInfo(p, false); err != nil {
					t.Fatalf("ReadInfo without verify: %v", err)
				}
				if _, err := ReadInfo(p, true); err == nil || !strings.Contains(err.Error(), c.verifyErr) || !strings.Contains(err.Error(), p) {
					t.Fatalf("ReadInfo with verify: %v, want %q naming the file", err, c.verifyErr)
				}
				if _, err := Load(c.data); err == nil || !strings.Contains(err.Error(), c.verifyErr) {
					t.Fatalf("Load: %v, want %q", err, c.verifyErr)
				}
			})
		}
	}
}

func TestOpenMissingAndDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{filepath.Join(dir, "nope.rgbf"), dir} {
		if f, err := Open(p, OpenOptions{}); err == nil {
			f.Close()
			t.Errorf("Open(%s) succeeded", p)
		} else if !strings.HasPrefix(err.Error(), "breached: open "+p) || strings.Count(err.Error(), p) != 1 {
			t.Errorf("Open(%s): %v, want the path named once", p, err)
		}
	}
}

// Load copies data that is not 8-byte aligned instead of making misaligned
// word views (checkptr would flag them under -race).
func TestLoadUnaligned(t *testing.T) {
	es := genEntries(1000, 11)
	path, _ := build(t, es, BuildOptions{})
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(good)+1)
	copy(buf[1:], good)
	f, err := Load(buf[1:])
	if err != nil {
		t.Fatal(err)
	}
	if !f.Lookup(es[7].sum).Found {
		t.Error("inserted hash not found after unaligned Load")
	}
}

// FuzzLoad: arbitrary bytes never panic Load, and whatever loads can be
// looked up and described without panicking.
func FuzzLoad(f *testing.F) {
	es := genEntries(200, 12)
	for _, kind := range []Kind{KindBloom, KindFuse8, KindFuse32} {
		path, _ := build(f, es, BuildOptions{Kind: kind, Tiers: []uint64{1, 100}})
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte(magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		flt, err := Load(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error without ErrFormat: %v", err)
			}
			return
		}
		for _, p := range randomSums(20, 1) {
			flt.Lookup(p)
		}
		_ = flt.Info()
	})
}

// A fuzzer rarely gets past the header CRC, so the geometry checks behind it
// are fuzzed separately: random header fields with a correct CRC.
func FuzzHeaderFields(f *testing.F) {
	es := genEntries(200, 13)
	path, _ := build(f, es, BuildOptions{Kind: KindFuse8})
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	hlen := int(binary.LittleEndian.Uint32(good[12:]))
	f.Add(uint16(24), uint64(1<<20))
	f.Add(uint16(hlen-40+8), uint64(0))
	f.Fuzz(func(t *testing.T, off uint16, v uint64) {
		b := append([]byte(nil), good...)
		if int(off)+8 > hlen-4 {
			return
		}
		binary.LittleEndian.PutUint64(b[off:], v)
		binary.LittleEndian.PutUint32(b[hlen-4:], crc32.Checksum(b[:hlen-4], castagnoli))
		flt, err := Load(b)
		if err != nil {
			return
		}
		for _, p := range randomSums(50, 2) {
			flt.Lookup(p)
		}
	})
}
