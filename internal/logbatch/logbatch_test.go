package logbatch

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// recorder keeps each Write it is given, as one string.
type recorder struct {
	mu     sync.Mutex
	writes []string
	err    error
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func TestWriterPassesThroughUnlessHeld(t *testing.T) {
	var rec recorder
	w := New(&rec)
	fmt.Fprint(w, "a\n")
	if len(rec.writes) != 1 {
		t.Fatalf("unheld: %d writes, want the line written at once", len(rec.writes))
	}
	w.Hold()
	fmt.Fprint(w, "b\n")
	w.Hold() // nested
	fmt.Fprint(w, "c\n")
	if err := w.Release(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "d\n")
	if len(rec.writes) != 1 {
		t.Fatalf("held: %d writes before the last Release, want 1", len(rec.writes))
	}
	if err := w.Release(); err != nil {
		t.Fatal(err)
	}
	want := []string{"a\n", "b\nc\nd\n"}
	if fmt.Sprint(rec.writes) != fmt.Sprint(want) {
		t.Errorf("writes %q, want %q", rec.writes, want)
	}
	if err := w.Release(); err != nil { // an extra Release is harmless
		t.Fatal(err)
	}
	fmt.Fprint(w, "e\n")
	if len(rec.writes) != 3 {
		t.Errorf("after the holds: %d writes, want the line written at once", len(rec.writes))
	}
}

func TestWriterBoundsWhatItHolds(t *testing.T) {
	var rec recorder
	w := New(&rec)
	w.Hold()
	line := strings.Repeat("x", 1000) + "\n"
	for range 200 {
		fmt.Fprint(w, line)
	}
	if len(rec.writes) == 0 {
		t.Error("200 KB held: nothing written, want the held lines out past maxHeld")
	}
	if err := w.Release(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.writes, ""); got != strings.Repeat(line, 200) {
		t.Errorf("wrote %d bytes, want the 200 lines in order", len(got))
	}
}

func TestReleaseReportsAHeldWriteError(t *testing.T) {
	rec := recorder{err: errors.New("disk full")}
	w := New(&rec)
	w.Hold()
	if _, err := fmt.Fprint(w, "a\n"); err != nil {
		t.Fatalf("held write: %v, want it kept for Release", err)
	}
	if err := w.Release(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Release: %v, want the write's error", err)
	}
	rec.err = nil
	w.Hold()
	if err := w.Release(); err != nil {
		t.Errorf("next Release: %v, want the old error forgotten", err)
	}
}

// TestHandlerKeepsHoldThroughWith: a logger derived with With or
// WithGroup still offers Hold and Release, and its lines are the
// handler's.
func TestHandlerKeepsHoldThroughWith(t *testing.T) {
	var rec recorder
	w := New(&rec)
	log := slog.New(Handler(slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: noTime}), w)).With("component", "alerts").WithGroup("g")
	h, ok := log.Handler().(interface {
		Hold()
		Release() error
	})
	if !ok {
		t.Fatal("a derived handler has no Hold/Release")
	}
	h.Hold()
	log.Info("one", "k", 1)
	log.Info("two", "k", 2)
	if len(rec.writes) != 0 {
		t.Fatalf("held: %d writes", len(rec.writes))
	}
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	want := "level=INFO msg=one component=alerts g.k=1\nlevel=INFO msg=two component=alerts g.k=2\n"
	if len(rec.writes) != 1 || rec.writes[0] != want {
		t.Errorf("writes %q, want one write of %q", rec.writes, want)
	}
}

func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

// TestConcurrentLinesStayWhole: lines from many goroutines, some holding,
// all come out whole and once.
func TestConcurrentLinesStayWhole(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	w := New(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) }))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if g%2 == 0 {
					w.Hold()
				}
				fmt.Fprintf(w, "g%d-%d\n", g, i)
				if g%2 == 0 {
					_ = w.Release()
				}
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Fatalf("line %q twice", l)
		}
		seen[l] = true
	}
	if len(seen) != 8*200 {
		t.Errorf("%d distinct lines, want %d", len(seen), 8*200)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
