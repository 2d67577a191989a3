package breached

import (
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scoringLoad looks passwords up from several goroutines until stop is
// closed, counting lookups whose answer for each password is not the one
// of either acceptable filter generation.
type scoringLoad struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	lookups atomic.Uint64
	wrong   atomic.Uint64
}

// startLoad checks that every lookup of a password in must is Found: the
// previous data keeps answering whatever happens to the file.
func startLoad(l *Live, must func() [][20]byte) *scoringLoad {
	s := &scoringLoad{stop: make(chan struct{})}
	for range 4 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				select {
				case <-s.stop:
					return
				default:
				}
				for _, h := range must() {
					if !l.Lookup(h).Found {
						s.wrong.Add(1)
					}
					s.lookups.Add(1)
				}
			}
		}()
	}
	return s
}

func (s *scoringLoad) end() { close(s.stop); s.wg.Wait() }

// TestLiveSurvivesInPlaceRewrites truncates and rewrites a live filter file
// in place (not by rename) under concurrent lookups, the way `: > F` and
// `cp new F` do. Before private snapshots the first lookup after the
// truncation died of SIGBUS. The old filter must keep answering until a
// valid file is in place, and then the new one must be picked up.
func TestLiveSurvivesInPlaceRewrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "breached.rgbf")
	buildPlain(t, path, "hunter2", "letmein", "correct horse")
	nextPath := filepath.Join(t.TempDir(), "next.rgbf")
	buildPlain(t, nextPath, "Winter2026!", "Summer2026!")
	next, err := os.ReadFile(nextPath)
	if err != nil {
		t.Fatal(err)
	}
	prev, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := OpenLive(path, LiveOptions{Logger: slog.New(slog.DiscardHandler), Debounce: 20 * time.Millisecond, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	old := [][20]byte{sha("hunter2"), sha("letmein"), sha("correct horse")}
	var want atomic.Pointer[[][20]byte]
	want.Store(&old)
	load := startLoad(l, func() [][20]byte { return *want.Load() })

	failuresAfter := func(n uint64) func() bool {
		return func() bool { _, f := l.Reloads(); return f >= n }
	}
	steps := []struct {
		name   string
		mutate func() error
	}{
		{"truncated to zero", func() error { return os.Truncate(path, 0) }},
		{"rewritten with half the old file", func() error { return os.WriteFile(path, prev[:len(prev)/2], 0o644) }},
		{"rewritten with garbage of the same size", func() error { return os.WriteFile(path, make([]byte, len(prev)), 0o644) }},
	}
	for i, st := range steps {
		if err := st.mutate(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the refused reload after "+st.name, failuresAfter(uint64(i+1)))
		before := load.lookups.Load()
		waitFor(t, "lookups after "+st.name, func() bool { return load.lookups.Load() > before+100 })
	}
	if w := load.wrong.Load(); w != 0 {
		t.Fatalf("%d lookups lost the previous filter's entries while the file was damaged", w)
	}
	// No damaged file was loaded. (Counted here, not at the end: the valid
	// file below may load twice. The watcher can see it truncated, not yet
	// filled, ask for a reload that then reads it complete, and later see
	// the complete file as another change.)
	if ok, failed := l.Reloads(); ok != 0 || failed < uint64(len(steps)) {
		t.Fatalf("reloads ok=%d failed=%d while the file was damaged, want 0 and at least %d", ok, failed, len(steps))
	}
	// A valid file written in place (cp) is picked up, and the new data
	// answers from then on.
	if err := os.WriteFile(path, next, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the in-place replacement", func() bool { return l.Lookup(sha("Winter2026!")).Found })
	load.end()
	if l.Lookup(sha("hunter2")).Found {
		t.Error("the old filter still answers after the replacement")
	}
	if ok, _ := l.Reloads(); ok < 1 {
		t.Errorf("reloads ok=%d after the valid file, want it counted", ok)
	}
	t.Logf("%d lookups during the rewrites", load.lookups.Load())
}

// TestLiveRefusesCorruptBody: a replacement whose header is intact but one
// body byte is flipped (what `breached verify` reports as a body checksum
// mismatch) must not be swapped in, whether it arrives by rename or is
// written in place.
func TestLiveRefusesCorruptBody(t *testing.T) {
	for _, kind := range []Kind{KindBloom, KindFuse8} {
		for _, how := range []string{"rename", "in place"} {
			t.Run(kind.String()+"/"+how, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "breached.rgbf")
				buildPlain(t, path, "hunter2", "letmein")
				l, err := OpenLive(path, LiveOptions{Logger: slog.New(slog.DiscardHandler), Debounce: 20 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				bad := corruptBody(t, kind, "Winter2026!")
				if how == "rename" {
					tmp := filepath.Join(dir, ".next")
					if err := os.WriteFile(tmp, bad, 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.Rename(tmp, path); err != nil {
						t.Fatal(err)
					}
				} else if err := os.WriteFile(path, bad, 0o644); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the refused reload", func() bool { _, f := l.Reloads(); return f >= 1 })
				if ok, _ := l.Reloads(); ok != 0 {
					t.Fatal("a filter with a corrupt body was swapped in")
				}
				if !l.Lookup(sha("hunter2")).Found {
					t.Error("the previous filter stopped answering")
				}
				if _, err := ReadInfo(path, true); err == nil {
					t.Error("verify passed the corrupt file: the test corrupted the wrong byte")
				}
			})
		}
	}
}

// corruptBody builds a filter of kind holding password and flips one bit in
// the middle of its first body section, leaving the header valid.
func corruptBody(t *testing.T, kind Kind, password string) []byte {
	t.Helper()
	dir := t.TempDir()
	list := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(list, []byte(password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "f.rgbf")
	if _, err := Build(t.Context(), out, []Input{{Path: list, Format: FormatPlain}}, BuildOptions{Kind: kind}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	off, n := h.levels[0].offset, h.levels[0].length
	if kind != KindBloom {
		s := h.levels[0].shards[0]
		off, n = s.offset, uint64(s.fingerprints)*uint64(kind.fingerprintBytes())
	}
	b[off+n/2] ^= 0x04
	if _, err := parseHeader(b); err != nil {
		t.Fatalf("the header broke: %v", err)
	}
	return b
}

func TestSetChecksBuiltinAndFiles(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.rgbf")
	buildPlain(t, plain, "Winter2026!")
	tiered := filepath.Join(dir, "tiered.rgbf")
	{
		es := []entry{{sum: sha("Tiered-1"), count: 5}, {sum: sha("Tiered-3"), count: 50000}, {sum: sha("Winter2026!"), count: 200}}
		in := filepath.Join(dir, "hibp.txt")
		writeHIBP(t, in, es)
		if _, err := Build(t.Context(), tiered, []Input{{Path: in}}, BuildOptions{Tiers: []uint64{1, 100, 10000}}); err != nil {
			t.Fatal(err)
		}
	}
	type want struct {
		found bool
		tier  int
	}
	cases := []struct {
		name  string
		opt   SetOptions
		empty bool
		wants map[string]want
	}{
		{"builtin alone", SetOptions{}, false, map[string]want{"hunter2": {true, 0}, "123456": {true, 0}, "Winter2026!": {}}},
		{"builtin and a file", SetOptions{Files: []string{plain}}, false, map[string]want{"hunter2": {true, 0}, "Winter2026!": {true, 0}, "x7#Lq!vQ2pZ9": {}}},
		{"file alone", SetOptions{Files: []string{plain}, NoBuiltin: true}, false, map[string]want{"hunter2": {}, "Winter2026!": {true, 0}}},
		{"two files, highest tier wins", SetOptions{Files: []string{plain, tiered}}, false, map[string]want{
			"Winter2026!": {true, 2}, "Tiered-3": {true, 3}, "Tiered-1": {true, 1}, "hunter2": {true, 0}}},
		{"nothing", SetOptions{NoBuiltin: true}, true, map[string]want{"hunter2": {}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Live.Logger = slog.New(slog.DiscardHandler)
			s, err := OpenSet(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Empty() != tc.empty {
				t.Errorf("Empty() = %v", s.Empty())
			}
			for pw, w := range tc.wants {
				m := s.Lookup(sha(pw))
				if m.Found != w.found || m.Tier != w.tier {
					t.Errorf("%s: found=%v tier=%d, want %v %d", pw, m.Found, m.Tier, w.found, w.tier)
				}
			}
			if got := len(s.Members()); got != len(tc.opt.Files)+map[bool]int{true: 0, false: 1}[tc.opt.NoBuiltin] {
				t.Errorf("%d members", got)
			}
		})
	}
	// One bad file fails the whole set, naming it.
	bad := filepath.Join(dir, "bad.rgbf")
	os.WriteFile(bad, []byte("nope"), 0o644)
	if _, err := OpenSet(SetOptions{Files: []string{plain, bad}, Live: LiveOptions{Logger: slog.New(slog.DiscardHandler)}}); err == nil {
		t.Error("a set with a bad file opened")
	}
}

func TestKindFor(t *testing.T) {
	cases := []struct {
		name string
		fpr  float64
		want Kind
		err  bool
	}{
		{"bloom", 1e-6, KindBloom, false},
		{"fuse16", 0.5, KindFuse16, false},
		{"fuse", 0.01, KindFuse8, false},
		{"fuse", 1.0 / 256, KindFuse8, false},
		{"fuse", 1.0/256 - 1e-9, KindFuse16, false},
		{"fuse", 1e-4, KindFuse16, false},
		{"fuse", 1.0 / 65536, KindFuse16, false},
		{"fuse", 1e-6, KindFuse32, false},
		{"fuse", 1e-9, KindFuse32, false},
		{"fuse", 1e-12, 0, true},
		{"fuse", 0, 0, true},
		{"fuse64", 1e-6, 0, true},
	}
	for _, c := range cases {
		got, err := KindFor(c.name, c.fpr)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("KindFor(%q, %g) = %v, %v; want %v (error %v)", c.name, c.fpr, got, err, c.want, c.err)
		}
	}
}
